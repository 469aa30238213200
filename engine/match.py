"""Level match: a loudness-matched compare (dsp.md, "Level match").

    dry (raw input) ─ K-weighting ─ Σ channels x² ─ mean (τ = 3 s) ─ P_dry ─┐
    processed ─ K-weighting ─ Σ channels x² ─ mean (τ = 3 s) ─ P_out ────── target
    processed ───────────────────────────────────────────────── × g ─ (limiter)

    target_dB = clamp(10·log10(P_dry / P_out), ±18)
    gain_dB → target_dB at GLIDE_DB_PER_S, once per control tick, ramped across it

K-weighting is ITU-R BS.1770's two biquads (a +4 dB high shelf at 1.5 kHz,
then a 38 Hz high-pass), designed for any rate from their analogue
parameters with the RBJ cookbook formulas, as pyloudnorm does; the loudness
is −0.691 + 10·log10(P) LUFS, and the two means with τ = 3 s are the
short-term window as a one-pole. They are folded once per control tick from
the tick's sums. Until WARM_S of audio has been measured after `match` goes
on, the means are cumulative (a = max(1/ticks, a_3s)) and the gain holds, so
the first correction is already a good one; ticks whose dry loudness is under
BS.1770's absolute gate (−70 LUFS) do not count, so pauses do not pull the
gain. The gain is applied to the processed path before the ceiling limiter,
so the ceiling still holds; the processed loudness is measured before the
gain, so there is no loop.

Off, the gain glides back to 0 dB and the stage then does nothing at all
(output bit-identical to no stage) and forgets what it measured.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from .dsp import CONTROL_BLOCK, KERNEL, NATIVE_ONLY, biquad_tdf2, db_to_lin, onepole_coeff
from .params import PID

LOUDNESS_S = 3.0            # short-term loudness (BS.1770 / EBU R128 "S")
GLIDE_DB_PER_S = 20.0       # the gain's own glide: switching match on or off is slow and click-free,
                            # and lands exactly (0 dB off: the stage then does nothing)
MAX_DB = 18.0
WARM_S = 0.4                # one BS.1770 gating block
ABS_GATE_LUFS = -70.0
LUFS_OFFSET = -0.691        # BS.1770: L = −0.691 + 10·log10(Σ mean squares)
SILENCE_LUFS = -240.0

(C_A_TICK, C_STEP_DB, C_WARM_TICKS, C_TICKS, C_DB, C_G0, C_G1, C_ACTIVE, C_GATE_P,
 C_LEN) = range(10)
# acc: this tick's sums of K-weighted power (dry, processed); ms: their means
A_DRY, A_OUT = 0, 1


class MatchState(NamedTuple):
    coef: np.ndarray       # [C_LEN]
    shelf: np.ndarray      # [5] K-weighting stage 1 (b0, b1, b2, a1, a2)
    hpf: np.ndarray        # [5] K-weighting stage 2
    z_dry: np.ndarray      # [2, channels, 2]: the two stages' states, dry
    z_out: np.ndarray      # [2, channels, 2]: processed
    acc: np.ndarray        # [2] this tick's power sums
    ms: np.ndarray         # [2] mean power (dry, processed)


def k_weighting(samplerate: float) -> tuple[np.ndarray, np.ndarray]:
    """BS.1770 K-weighting at this rate: (shelf, high-pass) as [b0, b1, b2, a1, a2]."""
    def norm(b, a):
        return np.array([b[0] / a[0], b[1] / a[0], b[2] / a[0], a[1] / a[0], a[2] / a[0]])

    w0 = 2.0 * math.pi * 1500.0 / samplerate
    A = 10 ** (4.0 / 40.0)
    alpha = math.sin(w0) / (2.0 / math.sqrt(2.0))
    cw, sa = math.cos(w0), 2.0 * math.sqrt(A) * alpha
    shelf = norm((A * ((A + 1) + (A - 1) * cw + sa), -2 * A * ((A - 1) + (A + 1) * cw),
                  A * ((A + 1) + (A - 1) * cw - sa)),
                 ((A + 1) - (A - 1) * cw + sa, 2 * ((A - 1) - (A + 1) * cw), (A + 1) - (A - 1) * cw - sa))
    w0 = 2.0 * math.pi * 38.0 / samplerate
    alpha = math.sin(w0) / (2.0 * 0.5)
    cw = math.cos(w0)
    hpf = norm(((1 + cw) / 2, -(1 + cw), (1 + cw) / 2), (1 + alpha, -2 * cw, 1 - alpha))
    return shelf, hpf


def match_alloc(samplerate: float, channels: int, max_block: int) -> MatchState:
    shelf, hpf = k_weighting(samplerate)
    return MatchState(coef=np.zeros(C_LEN), shelf=shelf, hpf=hpf, z_dry=np.zeros((2, channels, 2)),
                      z_out=np.zeros((2, channels, 2)), acc=np.zeros(2), ms=np.zeros(2))


@njit(**KERNEL)
def _forget(st):
    st.z_dry[:] = 0.0
    st.z_out[:] = 0.0
    st.acc[:] = 0.0
    st.ms[:] = 0.0
    st.coef[C_TICKS] = 0.0


@njit(cache=True, **NATIVE_ONLY)
def match_reset(st, samplerate):
    c = st.coef
    c[:] = 0.0
    c[C_A_TICK] = onepole_coeff(LOUDNESS_S * 1000.0, samplerate, CONTROL_BLOCK)
    c[C_STEP_DB] = GLIDE_DB_PER_S * CONTROL_BLOCK / samplerate
    c[C_WARM_TICKS] = math.ceil(WARM_S * samplerate / CONTROL_BLOCK)
    c[C_GATE_P] = 10.0 ** ((ABS_GATE_LUFS - LUFS_OFFSET) / 10.0) * CONTROL_BLOCK
    c[C_G0] = c[C_G1] = 1.0
    _forget(st)


@njit(**KERNEL)
def match_control(st, p):
    """Once per tick: fold the last tick into the means, move the gain."""
    c = st.coef
    on = p[PID.match] >= 0.5
    c[C_G0] = c[C_G1]
    if not on and c[C_ACTIVE] == 0.0:
        return
    c[C_ACTIVE] = 1.0
    target = c[C_DB]
    if on:
        if st.acc[A_DRY] >= c[C_GATE_P]:
            c[C_TICKS] += 1.0
            a = max(1.0 / c[C_TICKS], c[C_A_TICK])
            st.ms[A_DRY] += a * (st.acc[A_DRY] / CONTROL_BLOCK - st.ms[A_DRY])
            st.ms[A_OUT] += a * (st.acc[A_OUT] / CONTROL_BLOCK - st.ms[A_OUT])
        if c[C_TICKS] >= c[C_WARM_TICKS] and st.ms[A_OUT] > 0.0:
            target = min(MAX_DB, max(-MAX_DB, 10.0 * math.log10(st.ms[A_DRY] / st.ms[A_OUT])))
    else:
        target = 0.0
    st.acc[:] = 0.0
    d = target - c[C_DB]
    step = c[C_STEP_DB]
    c[C_DB] = target if abs(d) <= step else c[C_DB] + (step if d > 0.0 else -step)
    c[C_G1] = db_to_lin(c[C_DB])
    if not on and c[C_DB] == 0.0:
        c[C_ACTIVE] = 0.0
        c[C_G1] = 1.0
        _forget(st)


@njit(**KERNEL)
def match_process(st, dry, x, start, count, phase):
    """Measure dry and x[:, start:start+count], then scale x in place by the gain."""
    c = st.coef
    if c[C_ACTIVE] == 0.0 and c[C_G0] == 1.0:
        return
    nch = x.shape[0]
    if c[C_ACTIVE] != 0.0:
        pd = 0.0
        po = 0.0
        for ch in range(nch):
            for i in range(start, start + count):
                u = _k_weight(st, st.z_dry, ch, dry[ch, i])
                v = _k_weight(st, st.z_out, ch, x[ch, i])
                pd += u * u
                po += v * v
        st.acc[A_DRY] += pd
        st.acc[A_OUT] += po
    g0, g1 = c[C_G0], c[C_G1]
    for i in range(count):
        g = g0 + (g1 - g0) * ((phase + i + 1) / CONTROL_BLOCK)
        for ch in range(nch):
            x[ch, start + i] *= g


@njit(**KERNEL)
def _k_weight(st, z, ch, v):
    return biquad_tdf2(st.hpf, z[1], ch, biquad_tdf2(st.shelf, z[0], ch, v))


@njit(**KERNEL)
def match_meter_db(st):
    return st.coef[C_DB]


@njit(**KERNEL)
def match_meter_lufs(st, which):
    """Short-term loudness of the dry input (0) or the processed path (1) while match is on."""
    if st.coef[C_TICKS] == 0.0 or st.ms[which] <= 0.0:
        return SILENCE_LUFS
    return LUFS_OFFSET + 10.0 * math.log10(st.ms[which])
