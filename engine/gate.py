"""GATE: downward expander / gate before DRIFT (dsp.md, "GATE").

    key ─ sc_hpf ─ peak hold (max over channels) ─ dB ─ gain computer ─ attack/release ─ gain

Detector: the maximum of |key| over a sliding window of max(gate_hold, a
short minimum window) samples, across channels (a stereo gate opens and
closes as one, so the image does not wander). The window *is* the hold: after
the level drops, the held level stays put for gate_hold, then the expansion
sets in. The minimum window (so a low tone reads its peak and not its zero
crossings) is hold the user did not ask for; it is taken out of the release
one-pole, as in SETTLE.

Gain computer: below the threshold the output falls `gate_ratio` dB per dB
(100 = gate: the full range at once), at most `gate_range`:
GR = min((R − 1)·(T − L), range) for L < T, else 0.

Ballistics on GR in dB: `gate_attack` when the reduction falls (level rises,
expansion turns off), `gate_release` when it grows. No feedback (dsp.md).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from .dsp import (FASTMATH, KERNEL, LOG2_10_OVER_20, array_max, biquad_tdf2, butter_hpf2, fast_exp2,
                  fast_lin_to_db, onepole_coeff, slidemax_alloc, slidemax_push, slidemax_reset)
from .params import PID

CONTROL_BLOCK = 16
MIN_WINDOW_MS = 10.0          # the shortest peak window: clean down to 50 Hz
MAX_HOLD_MS = 500.0           # parameters.md
FADE_MS = 10.0
RATIO_GATE = 100.0
SC_HPF_OFF_HZ = 20.0

(C_ATT, C_REL, C_WIN, C_T, C_R, C_RANGE, C_HPF_ON, C_F0, C_F1, C_FADE_STEP,
 C_LAST_ATT, C_LAST_REL, C_LAST_HOLD, C_LAST_HPF, C_LEN) = range(15)


class GateState(NamedTuple):
    coef: np.ndarray           # [C_LEN]
    hpf_c: np.ndarray          # [5]
    hpf_z: np.ndarray          # [channels, 2]
    gr: np.ndarray             # [1] ballistic gain reduction (dB, shared by the channels)
    sm_vals: np.ndarray        # sliding-max deque (one row: linked)
    sm_idx: np.ndarray
    sm_ht: np.ndarray
    n: np.ndarray              # int64[1] absolute sample index
    gr_db: np.ndarray          # [channels] meter: applied reduction (dB, >= 0)


def gate_alloc(samplerate: float, channels: int, max_block: int) -> GateState:
    win = int(math.ceil(max(MAX_HOLD_MS, MIN_WINDOW_MS) * 1e-3 * samplerate)) + 1
    vals, idx, ht = slidemax_alloc(1, win)
    return GateState(coef=np.zeros(C_LEN), hpf_c=np.zeros(5), hpf_z=np.zeros((channels, 2)),
                     gr=np.zeros(1), sm_vals=vals, sm_idx=idx, sm_ht=ht,
                     n=np.zeros(1, np.int64), gr_db=np.zeros(channels))


@njit(**KERNEL)
def gate_gr_db(x_db, threshold_db, ratio, range_db):
    """Static gain reduction (dB, >= 0) of the expander for level x_db."""
    if x_db >= threshold_db:
        return 0.0
    if ratio >= RATIO_GATE:
        return range_db
    return min((ratio - 1.0) * (threshold_db - x_db), range_db)


@njit(cache=True)
def gate_reset(st):
    st.coef[:] = 0.0
    st.coef[C_LAST_ATT] = -1.0
    st.hpf_z[:] = 0.0
    st.gr[:] = 0.0
    slidemax_reset(st.sm_vals, st.sm_idx, st.sm_ht)
    st.n[0] = 0
    st.gr_db[:] = 0.0


@njit(**KERNEL)
def gate_control(st, p, samplerate):
    c = st.coef
    if c[C_LAST_ATT] < 0.0:
        c[C_FADE_STEP] = CONTROL_BLOCK * 1000.0 / (FADE_MS * samplerate)
        c[C_F1] = 1.0 if p[PID.gate_on] >= 0.5 else 0.0
    if (p[PID.gate_attack] != c[C_LAST_ATT] or p[PID.gate_release] != c[C_LAST_REL]
            or p[PID.gate_hold] != c[C_LAST_HOLD]):
        rel = p[PID.gate_release]
        win_ms = max(p[PID.gate_hold], min(MIN_WINDOW_MS, 0.5 * rel))
        extra_ms = win_ms - p[PID.gate_hold]           # hold nobody asked for
        c[C_ATT] = onepole_coeff(p[PID.gate_attack], samplerate)
        c[C_REL] = onepole_coeff(rel - extra_ms, samplerate)
        c[C_WIN] = max(1.0, math.floor(win_ms * 1e-3 * samplerate + 0.5))
        c[C_LAST_ATT], c[C_LAST_REL], c[C_LAST_HOLD] = (p[PID.gate_attack], rel,
                                                       p[PID.gate_hold])
    c[C_T], c[C_R], c[C_RANGE] = p[PID.gate_threshold], p[PID.gate_ratio], p[PID.gate_range]
    if p[PID.sc_hpf] > SC_HPF_OFF_HZ:
        if p[PID.sc_hpf] != c[C_LAST_HPF]:
            butter_hpf2(p[PID.sc_hpf], samplerate, st.hpf_c)
            c[C_LAST_HPF] = p[PID.sc_hpf]
        c[C_HPF_ON] = 1.0
    else:
        c[C_HPF_ON] = 0.0
        st.hpf_z[:] = 0.0
    c[C_F0] = c[C_F1]
    if p[PID.gate_on] >= 0.5:
        c[C_F1] = min(1.0, c[C_F1] + c[C_FADE_STEP])
    else:
        c[C_F1] = max(0.0, c[C_F1] - c[C_FADE_STEP])
    if c[C_F0] == 0.0 and c[C_F1] == 0.0 and st.sm_ht[0, 1] != 0:
        # fully off: forget the detector, so switching on starts from an open gate
        st.gr[0] = 0.0
        st.gr_db[:] = 0.0
        slidemax_reset(st.sm_vals, st.sm_idx, st.sm_ht)
    if st.gr[0] < 1e-12:
        st.gr[0] = 0.0
    for ch in range(st.hpf_z.shape[0]):
        for k in range(2):
            if abs(st.hpf_z[ch, k]) < 1e-30:
                st.hpf_z[ch, k] = 0.0


@njit(**KERNEL)
def gate_process(st, p, x, key, start, count, phase):
    """Expand x[:, start:start+count] in place, detecting on key."""
    c = st.coef
    f0, f1 = c[C_F0], c[C_F1]
    nch = x.shape[0]
    if f0 == 0.0 and f1 == 0.0:
        return
    a_att, a_rel = c[C_ATT], c[C_REL]
    win = np.int64(c[C_WIN])
    t, ratio, rng = c[C_T], c[C_R], c[C_RANGE]
    hpf_on = c[C_HPF_ON] != 0.0
    n0 = st.n[0]
    g = st.gr[0]
    applied = 0.0
    for i in range(count):
        r = (phase + i + 1) / CONTROL_BLOCK
        f = f0 + (f1 - f0) * r
        a = 0.0
        for ch in range(nch):
            k = key[ch, start + i]
            if hpf_on:
                k = biquad_tdf2(st.hpf_c, st.hpf_z, ch, k)
            k = abs(k)
            if k > a:
                a = k
        held = slidemax_push(st.sm_vals, st.sm_idx, st.sm_ht, 0, n0 + i, a, win)
        target = gate_gr_db(fast_lin_to_db(held), t, ratio, rng)
        if target < g:
            g += a_att * (target - g)
        else:
            g += a_rel * (target - g)
        applied = f * g
        gain = fast_exp2(-LOG2_10_OVER_20 * applied)
        for ch in range(nch):
            x[ch, start + i] *= gain
    st.gr[0] = g
    st.n[0] = n0 + count
    for ch in range(nch):
        st.gr_db[ch] = applied


@njit(**KERNEL)
def gate_meter_gr_db(st):
    return array_max(st.gr_db)


@njit(**KERNEL)
def gate_active(st):
    """False while the gate is fully off: the chain then skips building its key."""
    return st.coef[C_F0] != 0.0 or st.coef[C_F1] != 0.0 or st.coef[C_LAST_ATT] < 0.0
