"""DRIFT: 40-band ERB upward compressor (dsp.md, "DRIFT").

Signal path
-----------
A gammatone analysis/resynthesis bank after Hohmann (2002), designed in
engine/drift_bank.py: 4th-order complex gammatone filters (four complex
one-pole stages each), two filters per control band — one on each of the 40
band centres (equally spaced in ERB number from 20 Hz to 20 kHz, both
included), one halfway between neighbours — plus one filter half a band below
20 Hz and one above 20 kHz (when it fits below 0.47·fs): 81 filters at 48 and
96 kHz, 80 at 44.1 kHz. Each filter's real part is phase-rotated, delayed by
an integer d_k, weighted and summed.

Choice, measured (magnitude of the analytic bank response, 40 Hz .. 18 kHz,
every lift 0 dB; `python -m engine.drift_bank`):

  one filter per band (~1 ERB), 2.0–3.0 ms ........ dips of −10 to −35 dB
  two filters per band, 2.0 ms ..................... ±0.18 dB
  two filters per band, 2.5 ms (chosen) ............ −0.117..+0.113 dB @ 44.1 kHz
                                                     −0.114..+0.111 dB @ 48 kHz
                                                     −0.115..+0.110 dB @ 96 kHz
  two filters per band, 3.0 ms ..................... ±0.08 dB

The chosen 2.5 ms (110 / 120 / 240 samples at 44.1 / 48 / 96 kHz) is the
whole DRIFT latency budget: it is also the detector lookahead the high bands
get (their filters ring out in well under D, so their synthesis path is
delayed by up to D while the detector reads the undelayed envelope), which is
what keeps transients from being boosted. The float32 kernel's measured
ripple and impulse peak are checked in tests/test_drift.py.

Detection and gain
------------------
Band b's level is the Hilbert envelope |z|² of the filter on its centre (the
complex gammatone has gain 2 at fc, so a sine of amplitude A reads exactly
20·log10(A)); per 16-sample control segment the maximum over the segment and
over channels is taken (stereo link = max). Every control tick (drift_control):

  L_b      = 10·log10(max |z_b|²)
  target_b = min((T_b − L_b)·(1 − 1/R), max_lift) if L_b < T_b else 0,
             T_b = drift_threshold + 4a·(2·log10(f_b/20)/3 − 1), R = 1 + 3a
  target_b ·= smoothstep((L_b + 96)/6)               (no lift at or below −96)
  target_b  = min(target_{b−1}, target_b, target_{b+1})

The last line (a one-band spread of the smallest lift) keeps the skirts of a
strong component from being lifted: a sine's neighbouring bands read it lower
and would otherwise lift its tails, so a sine at a band centre comes out
lifted by more than its own band's formula and a loud tone leaks lift into
quiet neighbours. Then per band one-pole ballistics on the lift in dB:
attack (lift falling) drift_attack, release drift_release·(1 + 3·memory·h_b);
heat h_b follows lift_b/max_lift with 2 s up / 8 s down. Each filter's linear
gain is 10^(lift/20) at its band, or the mean lift (in dB) of its two bands
for the in-between filters; gains ramp linearly across the next 16 samples.

drift_on = 0 crossfades (10 ms, linear) to the input delayed by the same D,
so the latency never changes; fully off, the output is that delayed input,
bit-exact. The bank keeps running while off, so switching back is seamless.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from . import drift_bank
from .dsp import FASTMATH, onepole_coeff
from .params import PID

NUM_BANDS = drift_bank.NUM_BANDS
CONTROL = 16                 # must equal chain.CONTROL_BLOCK
FLOOR_DB = -96.0             # no lift at or below
FLOOR_FADE_DB = 6.0          # lift fades in from -96 to -90 dBFS
HEAT_UP_S, HEAT_DOWN_S = 2.0, 8.0
ONOFF_MS = 10.0              # drift_on crossfade
FLUSH_POWER = 1e-30          # |z|² under which a filter's state is cleared (-300 dB)

# misc slots
M_POS, M_W0, M_W1, M_FRESH, M_LEN = 0, 1, 2, 3, 4


NFP = 88                     # filters padded to a multiple of 8 (row stride of `fb`)
# rows of the per-channel block fb[ch] (each NFP float32 wide); one flat array per
# channel with compile-time row offsets lets LLVM vectorise the filter loop over k
R_AR, R_AI, R_K4, R_PR, R_PI = 0, 1, 2, 3, 4
R_S = 5                      # 8 state rows: stage s real at R_S + 2s, imag at R_S + 2s + 1
R_PEAK, R_OUT, R_G0, R_DG, ROWS = 13, 14, 15, 16, 17
LINE_SHIFT = 7               # synthesis delay line row stride 128 >= NFP (a power of two)


class DriftState(NamedTuple):
    lift_db: np.ndarray        # [NUM_BANDS] current lift per band (dB) — meter
    heat: np.ndarray           # [NUM_BANDS] thermal memory 0..1 — meter
    level_db: np.ndarray       # [NUM_BANDS] last detected band level (dBFS)
    target_db: np.ndarray      # [NUM_BANDS] scratch: static lift targets
    tilt: np.ndarray           # [NUM_BANDS] 2·log10(f_b/20)/3 − 1
    det: np.ndarray            # int64 [NUM_BANDS] filter index on each band centre
    band_lo: np.ndarray        # int64 [nf] bands whose mean lift drives filter k
    band_hi: np.ndarray        # int64 [nf]
    delay: np.ndarray          # int64 [nf] synthesis delay d_k (non-decreasing in k)
    gain: np.ndarray           # float32 [nf] filter gain at the end of the current segment
    power: np.ndarray          # [nf] scratch: max |z_k|² of the last segment over channels
    fb: np.ndarray             # float32 [ch, ROWS·NFP]: coefficients, state, scratch, gains
    woff: np.ndarray           # int64 [nf] d_k·2^LINE_SHIFT + k: write-ahead offset in `line`
    line: np.ndarray           # float32 [ch, L·2^LINE_SHIFT]: ring of rows (one per sample)
    dry: np.ndarray            # float64 [ch, L] dry delay (drift_on crossfade)
    misc: np.ndarray           # float64 [M_LEN]
    cfg: np.ndarray            # float64 [4]: samplerate, D, nf, k0 (first delayed filter)


def _pow2_at_least(n: int) -> int:
    m = 1
    while m < n:
        m *= 2
    return m


def drift_alloc(samplerate: float, channels: int, max_block: int) -> DriftState:
    sr = float(samplerate)
    bank = drift_bank.design(sr)
    D = bank.D
    assert D == drift_latency(sr)
    nf = bank.fc.shape[0]
    assert nf <= NFP
    assert np.all(np.diff(bank.delay) >= 0)
    k0 = int(np.sum(bank.delay == 0))
    L = _pow2_at_least(max(int(bank.delay.max()), D) + 1)
    pos = bank.band_pos
    lo = np.clip(np.floor(pos + 1e-9), 0, NUM_BANDS - 1).astype(np.int64)
    hi = np.clip(np.ceil(pos - 1e-9), 0, NUM_BANDS - 1).astype(np.int64)
    det = np.array([int(np.argmin(np.abs(pos - b))) for b in range(NUM_BANDS)], np.int64)
    assert np.allclose(pos[det], np.arange(NUM_BANDS))
    fb_ = drift_bank.band_centres()
    w = bank.gain * bank.phase
    fb = np.zeros((channels, ROWS * NFP), np.float32)
    for ch in range(channels):
        fb[ch, R_AR * NFP:R_AR * NFP + nf] = bank.coef.real
        fb[ch, R_AI * NFP:R_AI * NFP + nf] = bank.coef.imag
        fb[ch, R_K4 * NFP:R_K4 * NFP + nf] = bank.norm ** drift_bank.ORDER
        fb[ch, R_PR * NFP:R_PR * NFP + nf] = w.real
        fb[ch, R_PI * NFP:R_PI * NFP + nf] = w.imag
    st = DriftState(
        lift_db=np.zeros(NUM_BANDS), heat=np.zeros(NUM_BANDS),
        level_db=np.full(NUM_BANDS, -240.0), target_db=np.zeros(NUM_BANDS),
        tilt=2.0 * np.log10(fb_ / 20.0) / 3.0 - 1.0,
        det=det, band_lo=lo, band_hi=hi, delay=bank.delay.astype(np.int64),
        gain=np.ones(nf, np.float32), power=np.zeros(nf), fb=fb,
        woff=(bank.delay.astype(np.int64) << LINE_SHIFT) + np.arange(nf),
        line=np.zeros((channels, L << LINE_SHIFT), np.float32),
        dry=np.zeros((channels, L)),
        misc=np.zeros(M_LEN), cfg=np.array([sr, float(D), float(nf), float(k0)]),
    )
    return st


@njit(cache=True)
def drift_latency(samplerate):
    """Samples of delay the filterbank adds (fixed per sample rate): 2.5 ms, rounded."""
    return int(math.floor(drift_bank.LATENCY_MS * 1e-3 * samplerate + 0.5))


@njit(cache=True)
def _clear_signal(st):
    for ch in range(st.fb.shape[0]):
        for r in range(R_S, R_OUT + 1):
            for k in range(NFP):
                st.fb[ch, r * NFP + k] = 0.0
    st.line[:] = 0.0
    st.dry[:] = 0.0


@njit(cache=True)
def drift_reset(st):
    _clear_signal(st)
    for ch in range(st.fb.shape[0]):
        for k in range(NFP):
            st.fb[ch, R_G0 * NFP + k] = 1.0
            st.fb[ch, R_DG * NFP + k] = 0.0
    st.gain[:] = 1.0
    st.lift_db[:] = 0.0
    st.heat[:] = 0.0
    st.level_db[:] = -240.0
    st.target_db[:] = 0.0
    st.misc[M_POS] = 0.0
    st.misc[M_W0] = 1.0
    st.misc[M_W1] = 1.0
    st.misc[M_FRESH] = 1.0     # the first tick takes drift_on as it is (no fade after reset)


@njit(cache=True, fastmath=FASTMATH)
def drift_control(st, p, samplerate):
    """Every 16 samples: band levels -> static lifts -> ballistics, heat, filter gains."""
    nb = NUM_BANDS
    nf = int(st.cfg[2])
    nch = st.fb.shape[0]
    fb = st.fb
    # --- band power: max over channels (stereo link); non-finite guard (rule 8);
    # denormal-free state: a filter whose output stayed under -300 dB is cleared
    bad = False
    for k in range(nf):
        pk = 0.0
        for ch in range(nch):
            v = np.float64(fb[ch, R_PEAK * NFP + k])
            sv = np.float64(fb[ch, (R_S + 6) * NFP + k]) + np.float64(fb[ch, (R_S + 7) * NFP + k])
            if not (math.isfinite(v) and math.isfinite(sv)):
                bad = True
            elif v > pk:
                pk = v
            fb[ch, R_PEAK * NFP + k] = 0.0
        if pk < FLUSH_POWER:
            for ch in range(nch):
                for r in range(R_S, R_S + 8):
                    fb[ch, r * NFP + k] = 0.0
        st.power[k] = pk
    if bad:
        _clear_signal(st)
        for b in range(nb):
            st.lift_db[b] = 0.0
    # --- gain computer
    a = min(max(p[PID.amount] * 0.01, 0.0), 1.0)
    slope = 1.0 - 1.0 / (1.0 + 3.0 * a)
    thr = p[PID.drift_threshold]
    max_lift = max(p[PID.drift_max_lift], 0.0)
    for b in range(nb):
        pk = st.power[st.det[b]]
        lvl = 10.0 * math.log10(pk) if pk > 1e-24 else -240.0
        st.level_db[b] = lvl
        t = thr + 4.0 * a * st.tilt[b]
        lift = 0.0
        if lvl < t:
            lift = min((t - lvl) * slope, max_lift)
            u = (lvl - FLOOR_DB) / FLOOR_FADE_DB
            if u <= 0.0:
                lift = 0.0
            elif u < 1.0:
                lift *= u * u * (3.0 - 2.0 * u)
        st.target_db[b] = lift
    # --- spread the smallest lift one band each way, then ballistics and heat
    a_att = onepole_coeff(p[PID.drift_attack], samplerate, CONTROL)
    mem = 3.0 * p[PID.drift_memory] * 0.01
    rel = p[PID.drift_release]
    h_up = onepole_coeff(HEAT_UP_S * 1000.0, samplerate, CONTROL)
    h_dn = onepole_coeff(HEAT_DOWN_S * 1000.0, samplerate, CONTROL)
    prev = st.target_db[0]
    for b in range(nb):
        cur = st.target_db[b]
        tgt = min(prev, cur)
        if b + 1 < nb:
            tgt = min(tgt, st.target_db[b + 1])
        prev = cur
        lift = st.lift_db[b]
        h = st.heat[b]
        if tgt < lift:
            lift += a_att * (tgt - lift)
        else:
            lift += onepole_coeff(rel * (1.0 + mem * h), samplerate, CONTROL) * (tgt - lift)
        if abs(lift) < 1e-9:
            lift = 0.0
        st.lift_db[b] = lift
        u = lift / max_lift if max_lift > 0.0 else 0.0
        u = min(max(u, 0.0), 1.0)
        h += (h_up if u > h else h_dn) * (u - h)
        if h < 1e-9:
            h = 0.0
        st.heat[b] = h
    # --- per-filter gains for the next segment
    c = math.log(10.0) / 40.0
    for k in range(nf):
        ldb = st.lift_db[st.band_lo[k]] + st.lift_db[st.band_hi[k]]
        g_new = np.float32(math.exp(c * ldb)) if ldb != 0.0 else np.float32(1.0)
        g_old = st.gain[k]
        st.gain[k] = g_new
        for ch in range(nch):
            fb[ch, R_G0 * NFP + k] = g_old
            fb[ch, R_DG * NFP + k] = g_new - g_old
    # --- drift_on crossfade weight
    w = st.misc[M_W1]
    st.misc[M_W0] = w
    target = 1.0 if p[PID.drift_on] >= 0.5 else 0.0
    step = CONTROL * 1000.0 / (ONOFF_MS * samplerate)
    if st.misc[M_FRESH] != 0.0:
        st.misc[M_FRESH] = 0.0
        w = target
        st.misc[M_W0] = w
    elif w < target:
        w = min(target, w + step)
    elif w > target:
        w = max(target, w - step)
    st.misc[M_W1] = w


@njit(cache=True, fastmath=FASTMATH)
def drift_process(st, p, x, start, count, phase):
    """In place on x[ch, start:start+count]; the segment lies inside one control period."""
    nch = st.fb.shape[0]
    nf = int(st.cfg[2])
    k0 = int(st.cfg[3])
    mask = st.dry.shape[1] - 1
    D = int(st.cfg[1])
    pos0 = int(st.misc[M_POS])
    w0 = st.misc[M_W0]
    w1 = st.misc[M_W1]
    woff = st.woff
    lmask = st.line.shape[1] - 1
    inv = np.float32(1.0 / CONTROL)
    for ch in range(nch):
        v = st.fb[ch]
        line = st.line[ch]
        dry = st.dry[ch]
        for i in range(count):
            n = start + i
            xin = x[ch, n]
            pos = pos0 + i
            _bank_step(v, np.float32(xin))
            # delayed filters: scatter this sample ahead to row pos + d_k (no reduction
            # chain here; the read below is one contiguous row)
            base = (pos & mask) << LINE_SHIFT
            for k in range(k0, nf):
                line[(base + woff[k]) & lmask] = v[R_OUT * NFP + k]
            t = np.float32(phase + i + 1) * inv
            acc = np.float32(0.0)
            for k in range(k0):
                acc += (v[R_G0 * NFP + k] + v[R_DG * NFP + k] * t) * v[R_OUT * NFP + k]
            acc2 = np.float32(0.0)
            for k in range(k0, nf):
                acc2 += (v[R_G0 * NFP + k] + v[R_DG * NFP + k] * t) * line[base + k]
            wet = np.float64(acc + acc2)
            dry[pos & mask] = xin
            if w0 == 1.0 and w1 == 1.0:
                x[ch, n] = wet
            else:
                dly = dry[(pos - D) & mask]
                w = w1
                if w1 != w0:
                    w = w0 + (w1 - w0) * ((phase + i + 1) / CONTROL)
                x[ch, n] = dly + w * (wet - dly)
    st.misc[M_POS] = float((pos0 + count) & mask)


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _bank_step(v, xf):
    """One sample through every filter of one channel (v = fb[ch]); vectorised over k."""
    for k in range(NFP):
        ar = v[R_AR * NFP + k]
        ai = v[R_AI * NFP + k]
        yr = v[R_K4 * NFP + k] * xf + ar * v[(R_S + 0) * NFP + k] - ai * v[(R_S + 1) * NFP + k]
        yi = ar * v[(R_S + 1) * NFP + k] + ai * v[(R_S + 0) * NFP + k]
        v[(R_S + 0) * NFP + k] = yr
        v[(R_S + 1) * NFP + k] = yi
        ur = yr + ar * v[(R_S + 2) * NFP + k] - ai * v[(R_S + 3) * NFP + k]
        yi = yi + ar * v[(R_S + 3) * NFP + k] + ai * v[(R_S + 2) * NFP + k]
        yr = ur
        v[(R_S + 2) * NFP + k] = yr
        v[(R_S + 3) * NFP + k] = yi
        ur = yr + ar * v[(R_S + 4) * NFP + k] - ai * v[(R_S + 5) * NFP + k]
        yi = yi + ar * v[(R_S + 5) * NFP + k] + ai * v[(R_S + 4) * NFP + k]
        yr = ur
        v[(R_S + 4) * NFP + k] = yr
        v[(R_S + 5) * NFP + k] = yi
        ur = yr + ar * v[(R_S + 6) * NFP + k] - ai * v[(R_S + 7) * NFP + k]
        yi = yi + ar * v[(R_S + 7) * NFP + k] + ai * v[(R_S + 6) * NFP + k]
        yr = ur
        v[(R_S + 6) * NFP + k] = yr
        v[(R_S + 7) * NFP + k] = yi
        e = yr * yr + yi * yi
        pk = v[R_PEAK * NFP + k]
        v[R_PEAK * NFP + k] = e if e > pk else pk
        v[R_OUT * NFP + k] = v[R_PR * NFP + k] * yr - v[R_PI * NFP + k] * yi
