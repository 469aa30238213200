"""DRIFT: 40-band ERB upward compressor (dsp.md, "DRIFT").

Signal path
-----------
A gammatone analysis/resynthesis bank in the style of Hohmann (2002), designed
in engine/drift_bank.py: one 4th-order complex gammatone per control band (a
cascade of four complex one-pole stages), centred on the 40 band centres
(equally spaced in ERB number from 20 Hz to 20 kHz, both included), bandwidth
1.4·(1.019·ERB) (1.0 for the 20 Hz band). Each filter's real part is phase-rotated, delayed by an
integer d_k, weighted and summed; the whole stage delays by exactly
D = round(2.5 ms · fs) samples (110 / 120 / 240 at 44.1 / 48 / 96 kHz), the
full DRIFT latency budget.

The phase factors are what make this work at 2.5 ms. Hohmann aligns every
filter's envelope peak at D, which the slow low filters (group delay up to
~30 ms) cannot reach; aligning their phase at D (or at their own peak) makes
neighbouring filters add with phase differences of ~ω·Δτ ≈ 1.8 rad around
1 kHz. A least-squares gain fit then flattens the magnitude only by
cancellation (contributions in anti-phase up to 0.8 of the total), and any
unequal band gains break that: steady sines near 1 kHz came out 2.5 dB below
the gain formula. Here the target phase is the integral of a smooth target
group delay a(ω) = softmax(D, τ(ω)) taken from the top, −ω·D exactly where
the filters can be delayed: neighbours agree in phase to ~0.06 rad
everywhere, the gains come out smooth and positive, and the response is flat
by construction.

Measured (analytic response of the bank, 40 Hz .. 18 kHz, every lift 0 dB;
`python -m engine.drift_bank`; the float32 kernel measures the same, see
tests/test_drift.py):

  Hohmann phases, 1 filter/band, 2.5 ms ............ dips of −20 dB and more
  Hohmann phases, 2 filters/band, 2.5 ms, LS gains . ±0.12 dB, but 2.5 dB lift errors
  coherent phases, 2 filters/band (bw 1.0), 2.5 ms . ±0.07 dB, lift error ≤ 0.4 dB
  coherent phases, 1 filter/band  (bw 1.0), 2.5 ms . −0.50 .. +0.40 dB
  coherent phases, 1 filter/band  (bw 1.4), 2.5 ms . −0.25 .. +0.15 dB @ 44.1 kHz  (chosen)
                                                     −0.25 .. +0.17 dB @ 48 kHz
                                                     −0.24 .. +0.17 dB @ 96 kHz
  (the 20 Hz filter stays at 1.0 ERB: a wider complex filter that low reads a
  20 Hz sine 1.8 dB high through its image at −fc; the −0.25 dB is at 40 Hz)

One filter per band at 1.4 ERB is as flat as the spec needs with half the
work of two per band (the bank is most of DRIFT's cost), steady sines land
within 0.6 dB of the gain formula, and 2.5 ms is also the lookahead the high
bands' detectors get: their filters ring out in well under D, so their
synthesis path is delayed by up to D while the detector reads the undelayed
envelope — that and fast detection keep transients from being boosted. The
bank is band-limited to about 21 kHz (content above is not resynthesised).

Detection and gain
------------------
Band b's level is the Hilbert envelope |z_b|² of its filter (the complex
gammatone has gain 2 at fc, so a sine of amplitude A at the centre reads
exactly 20·log10(A)); per 16-sample control segment the maximum over the
segment and over channels is taken (stereo link = max). Every control tick
(drift_control):

  L_b      = 10·log10(max |z_b|²)
  L'_b     = max(L_b, L_{b−1} − 1.5 dB, L_{b+1} − 1.5 dB)
  target_b = min((T_b − L'_b)·(1 − 1/R), max_lift) if L'_b < T_b else 0,
             T_b = drift_threshold + 4a·(2·log10(f_b/20)/3 − 1), R = 1 + 3a
  target_b ·= smoothstep((L'_b + 96)/6)               (no lift at or below −96)

L'_b lets a band see its neighbours: a component's skirt in the next band
reads ~10 dB lower there and would be lifted more than the component's own
band, so sines would come out above their formula and a loud tone would leak
lift into the bands beside it. Ballistics per band, one-pole on the lift in
dB: attack (lift falling) drift_attack minus the band's detection delay
(a level step takes ≈2.8/(2π·b) to show in a gammatone envelope, plus the
control grid), never below a quarter of it; release
drift_release·(1 + 3·memory·h_b); heat h_b follows lift_b/max_lift with
2 s up / 8 s down. Each filter's linear gain 10^(lift/20) ramps linearly
across the next 16 samples.

drift_on = 0 crossfades (10 ms, linear) to the input delayed by the same D,
so the latency never changes; fully off, the output is that delayed input,
bit-exact. The bank keeps running while off, so switching back is seamless.

Kernel layout: all per-filter coefficients, state and gains of one channel
live in one float32 row block fb[ch] with compile-time row offsets (so LLVM
vectorises the filter loop over k without alias checks); the synthesis delay
is a time-major ring of rows: each sample writes its filter outputs as one
row and gathers its output from older rows (every path is one sample longer
than the bank was designed for, so a sample never reads its own row).
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
FLUSH_POWER = 1e-30
ATTACK_MIN_FRACTION = 0.25   # attack compensation never goes below this share of t
DET_RISE = 2.8               # a level step reaches 63 % (in dB) after ≈ 2.8/(2π·b) in a gammatone
SPREAD_DB = 1.5             # a band reads at least its neighbours' level minus this

# misc slots
M_POS, M_W0, M_W1, M_FRESH, M_ATT, M_LEN = 0, 1, 2, 3, 4, 5


PER_BAND = 1                 # must equal drift_bank.PER_BAND (literal: Numba caches globals)
NFP = 40                     # filter slots, a multiple of 8 >= filters (row stride of `fb`)
# rows of the per-channel block fb[ch] (each NFP float32 wide); one flat array per
# channel with compile-time row offsets lets LLVM vectorise the filter loop over k
R_AR, R_AI, R_K4, R_PR, R_PI = 0, 1, 2, 3, 4
R_S = 5                      # 8 state rows: stage s real at R_S + 2s, imag at R_S + 2s + 1
R_PEAK, R_OUT, R_G0, R_DG, ROWS = 13, 14, 15, 16, 17
LINE_SHIFT = 6               # synthesis delay line row stride 64 >= NFP (a power of two)


class DriftState(NamedTuple):
    lift_db: np.ndarray        # [NUM_BANDS] current lift per band (dB) — meter
    heat: np.ndarray           # [NUM_BANDS] thermal memory 0..1 — meter
    level_db: np.ndarray       # [NUM_BANDS] last detected band level (dBFS)
    target_db: np.ndarray      # [NUM_BANDS] scratch: static lift targets
    tilt: np.ndarray           # [NUM_BANDS] 2·log10(f_b/20)/3 − 1
    det_ms: np.ndarray         # [NUM_BANDS] detection delay of a level rise (ms)
    det: np.ndarray            # int64 [NUM_BANDS] filter index on each band centre
    band_lo: np.ndarray        # int64 [nf] bands whose mean lift drives filter k
    band_hi: np.ndarray        # int64 [nf]
    delay: np.ndarray          # int64 [nf] synthesis delay d_k (non-decreasing in k)
    gain: np.ndarray           # float32 [nf] filter gain at the end of the current segment
    gain_db: np.ndarray        # [nf] the lift sum (dB) `gain` was computed from
    att_coef: np.ndarray       # [NUM_BANDS] attack coefficient per tick (for misc[M_ATT])
    power: np.ndarray          # [nf] scratch: max |z_k|² of the last segment over channels
    fb: np.ndarray             # float32 [ch, ROWS·NFP]: coefficients, state, scratch, gains
    roff: np.ndarray           # int64 [NFP] (d_k + 1)·2^LINE_SHIFT − k: read-behind offset in `line`
    line: np.ndarray           # float32 [ch, L·2^LINE_SHIFT]: ring of rows (one per sample)
    dry: np.ndarray            # float64 [ch, L] dry delay (drift_on crossfade)
    misc: np.ndarray           # float64 [M_LEN]
    cfg: np.ndarray            # float64 [6]: samplerate, D, nf, k0, heat up / down coefficients


def _pow2_at_least(n: int) -> int:
    m = 1
    while m < n:
        m *= 2
    return m


def drift_alloc(samplerate: float, channels: int, max_block: int) -> DriftState:
    sr = float(samplerate)
    D = drift_latency(sr)
    bank = drift_bank.design(sr, D=D - 1)     # the kernel adds one sample to every path
    nf = bank.fc.shape[0]
    assert nf <= NFP and PER_BAND == drift_bank.PER_BAND and NFP <= (1 << LINE_SHIFT)
    assert np.all(np.diff(bank.delay) >= 0)
    k0 = int(np.sum(bank.delay == 0))
    L = _pow2_at_least(max(int(bank.delay.max()) + 1, D) + 1)
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
        det_ms=1000.0 * (DET_RISE / (2.0 * np.pi * drift_bank.bandwidth_hz(fb_)) + 1.5 * CONTROL / sr),
        det=det, band_lo=lo, band_hi=hi, delay=bank.delay.astype(np.int64),
        gain=np.ones(nf, np.float32), gain_db=np.zeros(nf), att_coef=np.zeros(NUM_BANDS),
        power=np.zeros(nf), fb=fb,
        roff=((np.r_[bank.delay, np.zeros(NFP - nf)].astype(np.int64) + 1) << LINE_SHIFT)
        - np.arange(NFP),
        line=np.zeros((channels, L << LINE_SHIFT), np.float32),
        dry=np.zeros((channels, L)),
        misc=np.zeros(M_LEN),
        cfg=np.array([sr, float(D), float(nf), float(k0),
                      1.0 - math.exp(-CONTROL / (HEAT_UP_S * sr)),
                      1.0 - math.exp(-CONTROL / (HEAT_DOWN_S * sr))]),
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
    st.gain_db[:] = 0.0
    st.misc[M_ATT] = -1.0
    st.lift_db[:] = 0.0
    st.heat[:] = 0.0
    st.level_db[:] = -240.0
    st.target_db[:] = 0.0
    st.misc[M_POS] = 0.0
    st.misc[M_W0] = 1.0
    st.misc[M_W1] = 1.0
    st.misc[M_FRESH] = 1.0     # the first tick takes drift_on as it is (no fade after reset)


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _one_minus_exp_neg(x):
    """1 − e^(−x) for x >= 0; a series for small x (release coefficients every tick)."""
    if x < 0.03:
        return x * (1.0 - 0.5 * x * (1.0 - x / 3.0 * (1.0 - 0.25 * x)))
    return 1.0 - math.exp(-x)


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
        # the band's own filter and the two in-between filters beside it: a sine
        # anywhere in the band reads within 0.6 dB of its level, at the centre exactly
        k = st.det[b]
        pk = st.power[k]
        if PER_BAND == 2:
            if k > 0:
                pk = max(pk, st.power[k - 1])
            if k + 1 < nf:
                pk = max(pk, st.power[k + 1])
        st.level_db[b] = 10.0 * math.log10(pk) if pk > 1e-24 else -240.0
    prev = -240.0
    for b in range(nb):
        # level seen by the gain computer: at least a neighbour's level − SPREAD_DB
        lvl = st.level_db[b]
        lvl = max(lvl, prev - SPREAD_DB)
        if b + 1 < nb:
            lvl = max(lvl, st.level_db[b + 1] - SPREAD_DB)
        prev = st.level_db[b]
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
    att = p[PID.drift_attack]
    if att != st.misc[M_ATT]:
        # the band's own detection delay is part of the measured attack
        st.misc[M_ATT] = att
        for b in range(nb):
            st.att_coef[b] = onepole_coeff(max(att - st.det_ms[b], ATTACK_MIN_FRACTION * att),
                                           samplerate, CONTROL)
    mem = 3.0 * p[PID.drift_memory] * 0.01
    x_rel = CONTROL * 1000.0 / (p[PID.drift_release] * samplerate)
    h_up = st.cfg[4]
    h_dn = st.cfg[5]
    for b in range(nb):
        tgt = st.target_db[b]
        lift = st.lift_db[b]
        h = st.heat[b]
        if tgt < lift:
            lift += st.att_coef[b] * (tgt - lift)
        elif tgt > lift:
            lift += _one_minus_exp_neg(x_rel / (1.0 + mem * h)) * (tgt - lift)
        if abs(lift) < 1e-9:
            lift = 0.0
        st.lift_db[b] = lift
        u = lift / max_lift if max_lift > 0.0 else 0.0
        u = min(max(u, 0.0), 1.0)
        h += (h_up if u > h else h_dn) * (u - h)
        if h < 1e-9:
            h = 0.0
        st.heat[b] = h
    # --- per-filter gains for the next segment (exp only where the lift moved)
    c = math.log(10.0) / 40.0
    for k in range(nf):
        ldb = st.lift_db[st.band_lo[k]] + st.lift_db[st.band_hi[k]]
        g_old = st.gain[k]
        g_new = g_old
        if ldb != st.gain_db[k]:
            st.gain_db[k] = ldb
            g_new = np.float32(math.exp(c * ldb)) if ldb != 0.0 else np.float32(1.0)
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
    roff = st.roff
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
            base = (pos & mask) << LINE_SHIFT
            t = np.float32(phase + i + 1) * inv
            # every path is delayed by d_k + 1 >= 1 samples: gather this sample's
            # synthesis from older rows, then write this sample's outputs as row `pos`
            acc = np.float32(0.0)
            for k in range(NFP):
                acc += (v[R_G0 * NFP + k] + v[R_DG * NFP + k] * t) * line[(base - roff[k]) & lmask]
            _bank_step(v, np.float32(xin), line, base)
            wet = np.float64(acc)
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
def _bank_step(v, xf, line, base):
    """One sample through every filter of one channel (v = fb[ch]), vectorised over k;
    the synthesis outputs go to line[base + k]."""
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
        line[base + k] = v[R_PR * NFP + k] * yr - v[R_PI * NFP + k] * yi
