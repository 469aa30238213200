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
bit-exact, and the bank stops (it costs nothing while off; lifts, heat and
levels rest at 0 / 0 / silence). Switching on again clears the bank, runs it
for D + WARM_MS while the output is still the delayed input (so every filter
has rung up), then crossfades in over 10 ms: click-free, latency unchanged.

Kernel layout: both channels share one vector axis of NL = 2·NFP lanes
(channel 0's filters, then channel 1's; a mono engine leaves the second half
at rest). All per-lane coefficients, state and gains live in one flat
float32 block fb with compile-time row offsets (row r, lane k at r·NL + k),
so LLVM vectorises the lane loop (80 lanes = 5 AVX-512 vectors) without
run-time alias checks; the filter outputs go to a row of the same block and
are copied to the synthesis delay line in a separate loop. The delay line is
a time-major ring of rows: each sample writes its outputs as one row and
gathers its output from older rows (every path is one sample longer than the
bank was designed for, so a sample never reads its own row). Ring indices are
unsigned, so no negative-index wraparound code sits in the loops.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from . import drift_bank
from .dsp import FASTMATH, LOG2_10_OVER_20, fast_exp2, fast_power_to_db, onepole_coeff
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
M_POS, M_W0, M_W1, M_FRESH, M_ATT, M_BANK, M_WARM, M_LEN = 0, 1, 2, 3, 4, 5, 6, 7
WARM_MS = 5.0                # after drift_on: bank runs D + this before the crossfade starts


PER_BAND = 1                 # must equal drift_bank.PER_BAND (literal: Numba caches globals)
NFP = 40                     # filter slots per channel, a multiple of 8 >= filters
NL = 2 * NFP                 # lanes: channel 0's filters, then channel 1's (row stride of `fb`)
# rows of the flat block fb (each NL float32 wide); one flat array with
# compile-time row offsets lets LLVM vectorise the lane loop without alias checks
R_AR, R_AI, R_K4, R_PR, R_PI = 0, 1, 2, 3, 4
R_S = 5                      # 8 state rows: stage s real at R_S + 2s, imag at R_S + 2s + 1
R_PEAK, R_OUT, R_G0, R_DG, ROWS = 13, 14, 15, 16, 17
LINE_SHIFT = 7               # synthesis delay line row stride 128 >= NL (a power of two)


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
    fb: np.ndarray             # float32 [ROWS·NL]: coefficients, state, scratch, gains (lane-major rows)
    roff: np.ndarray           # int64 [NL] (d_k + 1)·2^LINE_SHIFT − lane: read-behind offset in `line`
    line: np.ndarray           # float32 [L·2^LINE_SHIFT]: ring of rows (one per sample, NL lanes)
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
    assert nf <= NFP and PER_BAND == drift_bank.PER_BAND and NL <= (1 << LINE_SHIFT)
    assert channels <= 2
    assert np.all(np.diff(bank.delay) >= 0)
    k0 = int(np.sum(bank.delay == 0))
    L = _pow2_at_least(max(int(bank.delay.max()) + 1, D) + 1)
    pos = bank.band_pos
    lo = np.clip(np.floor(pos + 1e-9), 0, NUM_BANDS - 1).astype(np.int64)
    hi = np.clip(np.ceil(pos - 1e-9), 0, NUM_BANDS - 1).astype(np.int64)
    det = np.array([int(np.argmin(np.abs(pos - b))) for b in range(NUM_BANDS)], np.int64)
    assert np.allclose(pos[det], np.arange(NUM_BANDS))
    assert PER_BAND != 1 or (nf == NUM_BANDS and np.array_equal(det, np.arange(NUM_BANDS))
                             and np.array_equal(lo, det) and np.array_equal(hi, det))
    fb_ = drift_bank.band_centres()
    w = bank.gain * bank.phase
    fb = np.zeros(ROWS * NL, np.float32)
    for ch in range(2):
        o = ch * NFP
        fb[R_AR * NL + o:R_AR * NL + o + nf] = bank.coef.real
        fb[R_AI * NL + o:R_AI * NL + o + nf] = bank.coef.imag
        fb[R_K4 * NL + o:R_K4 * NL + o + nf] = bank.norm ** drift_bank.ORDER
        fb[R_PR * NL + o:R_PR * NL + o + nf] = w.real
        fb[R_PI * NL + o:R_PI * NL + o + nf] = w.imag
    d_lane = np.r_[bank.delay, np.zeros(NFP - nf)].astype(np.int64)
    d_lane = np.r_[d_lane, d_lane]
    st = DriftState(
        lift_db=np.zeros(NUM_BANDS), heat=np.zeros(NUM_BANDS),
        level_db=np.full(NUM_BANDS, -240.0), target_db=np.zeros(NUM_BANDS),
        tilt=2.0 * np.log10(fb_ / 20.0) / 3.0 - 1.0,
        det_ms=1000.0 * (DET_RISE / (2.0 * np.pi * drift_bank.bandwidth_hz(fb_)) + 1.5 * CONTROL / sr),
        det=det, band_lo=lo, band_hi=hi, delay=bank.delay.astype(np.int64),
        gain=np.ones(nf, np.float32), gain_db=np.zeros(nf), att_coef=np.zeros(NUM_BANDS),
        power=np.zeros(nf), fb=fb,
        roff=((d_lane + 1) << LINE_SHIFT) - np.arange(NL),
        line=np.zeros(L << LINE_SHIFT, np.float32),
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
def _clear_bank(st):
    """Filter state, peaks and the synthesis line (not the dry delay)."""
    for i in range(R_S * NL, (R_OUT + 1) * NL):
        st.fb[i] = 0.0
    st.line[:] = 0.0


@njit(cache=True)
def _clear_signal(st):
    _clear_bank(st)
    st.dry[:] = 0.0


@njit(cache=True)
def _rest_gains(st):
    """Lifts, heat, levels and filter gains as after reset (0 dB everywhere)."""
    for k in range(NL):
        st.fb[R_G0 * NL + k] = 1.0
        st.fb[R_DG * NL + k] = 0.0
    st.gain[:] = 1.0
    st.gain_db[:] = 0.0
    st.lift_db[:] = 0.0
    st.heat[:] = 0.0
    st.level_db[:] = -240.0
    st.target_db[:] = 0.0


@njit(cache=True)
def drift_reset(st):
    _clear_signal(st)
    _rest_gains(st)
    st.misc[M_ATT] = -1.0
    st.misc[M_POS] = 0.0
    st.misc[M_W0] = 1.0
    st.misc[M_W1] = 1.0
    st.misc[M_BANK] = 1.0
    st.misc[M_WARM] = 0.0
    st.misc[M_FRESH] = 1.0     # the first tick takes drift_on as it is (no fade after reset)


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _one_minus_exp_neg(x):
    """1 − e^(−x) for x >= 0; a series for small x (release coefficients every tick)."""
    if x < 0.03:
        return x * (1.0 - 0.5 * x * (1.0 - x / 3.0 * (1.0 - 0.25 * x)))
    return 1.0 - math.exp(-x)


@njit(cache=True, fastmath=FASTMATH, inline="always")
def drift_gain_params(p):
    """(a, slope, threshold, max_lift) of the gain computer: a = amount in 0..1,
    slope = 1 − 1/R with R = 1 + 3a; a band's threshold is threshold + 4a·tilt_b."""
    a = min(max(p[PID.amount] * 0.01, 0.0), 1.0)
    slope = 1.0 - 1.0 / (1.0 + 3.0 * a)
    return a, slope, p[PID.drift_threshold], max(p[PID.drift_max_lift], 0.0)


@njit(cache=True, fastmath=FASTMATH, inline="always")
def drift_static_lift(lvl, t, slope, max_lift):
    """DRIFT's static gain computer for one band: the lift (dB) for band level lvl
    (dBFS) under band threshold t: min((t − lvl)·slope, max_lift) below t, else 0,
    faded in by a smoothstep from FLOOR_DB to FLOOR_DB + FLOOR_FADE_DB.
    drift_control and the GUI's transfer curve (engine/curve.py) both call this."""
    # branch-free (selects; vectorises in drift_control's band loop): the clamped
    # smoothstep is exactly 0 at or below the floor and exactly 1 from the fade's top
    lift = min((t - lvl) * slope, max_lift)
    u = min(max((lvl - FLOOR_DB) * (1.0 / FLOOR_FADE_DB), 0.0), 1.0)
    lift *= u * u * (3.0 - 2.0 * u)
    return lift if lvl < t else 0.0


@njit(cache=True, fastmath=FASTMATH, inline="always")
def drift_control(st, p, samplerate):
    """Every 16 samples: the drift_on crossfade and the bank's run state; while the
    bank runs, band levels -> static lifts -> ballistics, heat, filter gains."""
    misc = st.misc
    # --- drift_on: crossfade weight (start and end of the next segment), bank run state
    w = misc[M_W1]
    misc[M_W0] = w
    on = p[PID.drift_on] >= 0.5
    step = CONTROL * 1000.0 / (ONOFF_MS * samplerate)
    if misc[M_FRESH] != 0.0:
        # first tick after reset: take drift_on as it is (no fade); the state is clear
        misc[M_FRESH] = 0.0
        w = 1.0 if on else 0.0
        misc[M_W0] = w
        misc[M_WARM] = 0.0
        misc[M_BANK] = 1.0 if on else 0.0
    elif on:
        if misc[M_BANK] == 0.0:
            # start from a clear bank and let it ring up while the output is still the
            # delayed input; the crossfade starts once every path carries signal
            _clear_bank(st)
            misc[M_BANK] = 1.0
            misc[M_WARM] = math.ceil((st.cfg[1] + WARM_MS * 1e-3 * samplerate) / CONTROL)
        elif misc[M_WARM] > 0.0:
            misc[M_WARM] -= 1.0
        else:
            w = min(1.0, w + step)
    else:
        misc[M_WARM] = 0.0
        w = max(0.0, w - step)
        if w == 0.0 and misc[M_W0] == 0.0 and misc[M_BANK] != 0.0:
            # fully off: the bank stops and DRIFT rests at 0 dB
            misc[M_BANK] = 0.0
            _rest_gains(st)
    misc[M_W1] = w
    if misc[M_BANK] == 0.0:
        return
    nb = NUM_BANDS
    nf = int(st.cfg[2])
    nch = st.dry.shape[0]
    fb = st.fb
    # --- band power: max over channels (stereo link); non-finite guard (rule 8);
    # denormal-free state: a filter whose output stayed under -300 dB is cleared.
    # Plain lane loops (selects, no branches) that LLVM vectorises.
    power = st.power
    for k in range(nf):
        power[k] = 0.0
    nbad = 0
    for ch in range(nch):
        o = ch * NFP
        for k in range(nf):
            j = o + k
            v = np.float64(fb[R_PEAK * NL + j])
            sv = np.float64(fb[(R_S + 6) * NL + j]) + np.float64(fb[(R_S + 7) * NL + j])
            ok = math.isfinite(v) and math.isfinite(sv)
            nbad += 0 if ok else 1
            pk = power[k]
            power[k] = v if (ok and v > pk) else pk
            fb[R_PEAK * NL + j] = 0.0
    for ch in range(nch):
        o = ch * NFP
        for r in range(R_S, R_S + 8):
            for k in range(nf):
                j = r * NL + o + k
                fb[j] = np.float32(0.0) if power[k] < FLUSH_POWER else fb[j]
    bad = nbad != 0
    if bad:
        _clear_signal(st)
        for b in range(nb):
            st.lift_db[b] = 0.0
    # --- gain computer
    a, slope, thr, max_lift = drift_gain_params(p)
    if PER_BAND == 1:
        # one filter per band, filter b on band b (drift_alloc checks): a plain loop
        # that LLVM vectorises, fast log included
        for b in range(nb):
            st.level_db[b] = fast_power_to_db(st.power[b])
    else:
        for b in range(nb):
            # the band's own filter and the two in-between filters beside it: a sine
            # anywhere in the band reads within 0.6 dB of its level, at the centre exactly
            k = st.det[b]
            pk = st.power[k]
            if k > 0:
                pk = max(pk, st.power[k - 1])
            if k + 1 < nf:
                pk = max(pk, st.power[k + 1])
            st.level_db[b] = fast_power_to_db(pk)
    # level seen by the gain computer: at least a neighbour's level − SPREAD_DB
    # (the first and last band have one neighbour; the middle loop has no branches)
    lv = st.level_db
    tilt = st.tilt
    tgt = st.target_db
    ta = 4.0 * a
    tgt[0] = drift_static_lift(max(max(lv[0], -240.0 - SPREAD_DB), lv[1] - SPREAD_DB),
                               thr + ta * tilt[0], slope, max_lift)
    for b in range(1, nb - 1):
        lvl = max(max(lv[b], lv[b - 1] - SPREAD_DB), lv[b + 1] - SPREAD_DB)
        tgt[b] = drift_static_lift(lvl, thr + ta * tilt[b], slope, max_lift)
    tgt[nb - 1] = drift_static_lift(max(lv[nb - 1], lv[nb - 2] - SPREAD_DB),
                                    thr + ta * tilt[nb - 1], slope, max_lift)
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
    c = LOG2_10_OVER_20 * 0.5          # mean of two lifts in dB -> log2 of the gain
    if PER_BAND == 1:
        # every gain, branch-free, into the (free between segments) R_OUT row: a loop
        # LLVM vectorises. The same function of the same lift as computing it only
        # when the lift moved, so the result is identical (fast_exp2(0) is exactly 1).
        for k in range(nf):
            fb[R_OUT * NL + k] = np.float32(fast_exp2(c * (2.0 * st.lift_db[k])))
        for k in range(nf):
            g_old = st.gain[k]
            g_new = fb[R_OUT * NL + k]
            st.gain_db[k] = 2.0 * st.lift_db[k]
            st.gain[k] = g_new
            fb[R_G0 * NL + k] = g_old
            fb[R_DG * NL + k] = g_new - g_old
        for ch in range(1, nch):
            for k in range(nf):
                fb[R_G0 * NL + ch * NFP + k] = fb[R_G0 * NL + k]
                fb[R_DG * NL + ch * NFP + k] = fb[R_DG * NL + k]
        return
    for k in range(nf):
        ldb = st.lift_db[st.band_lo[k]] + st.lift_db[st.band_hi[k]]
        g_old = st.gain[k]
        g_new = g_old
        if ldb != st.gain_db[k]:
            st.gain_db[k] = ldb
            g_new = np.float32(fast_exp2(c * ldb)) if ldb != 0.0 else np.float32(1.0)
        st.gain[k] = g_new
        for ch in range(nch):
            fb[R_G0 * NL + ch * NFP + k] = g_old
            fb[R_DG * NL + ch * NFP + k] = g_new - g_old


@njit(cache=True, fastmath=FASTMATH, inline="always")
def drift_process(st, p, x, start, count, phase):
    """In place on x[ch, start:start+count]; the segment lies inside one control period."""
    nch = x.shape[0]
    mask = st.dry.shape[1] - 1
    D = int(st.cfg[1])
    pos0 = int(st.misc[M_POS])
    dry = st.dry
    st.misc[M_POS] = float((pos0 + count) & mask)
    if st.misc[M_BANK] == 0.0:
        # off: the input delayed by D, bit-exact, and no filterbank work
        for ch in range(nch):
            for i in range(count):
                pos = pos0 + i
                dry[ch, np.uint64(pos & mask)] = x[ch, start + i]
                x[ch, start + i] = dry[ch, np.uint64((pos - D) & mask)]
        return
    w0 = st.misc[M_W0]
    w1 = st.misc[M_W1]
    full = w0 == 1.0 and w1 == 1.0
    v = st.fb
    line = st.line
    roff = st.roff
    lmask = line.shape[0] - 1
    nl = roff.shape[0]
    inv = np.float32(1.0 / CONTROL)
    for i in range(count):
        n = start + i
        pos = pos0 + i
        base = (pos & mask) << LINE_SHIFT
        t = np.float32(phase + i + 1) * inv
        # every path is delayed by d_k + 1 >= 1 samples: gather this sample's
        # synthesis from older rows, then write this sample's outputs as row `pos`
        acc0 = np.float32(0.0)
        for k in range(NFP):
            acc0 += (v[R_G0 * NL + k] + v[R_DG * NL + k] * t) * \
                line[np.uint64((base - roff[k]) & lmask)]
        acc1 = np.float32(0.0)
        if nch > 1:
            for k in range(NFP, NL):
                acc1 += (v[R_G0 * NL + k] + v[R_DG * NL + k] * t) * \
                    line[np.uint64((base - roff[k]) & lmask)]
        x0 = np.float32(x[0, n])
        x1 = np.float32(x[1, n]) if nch > 1 else np.float32(0.0)
        _bank_step(v, x0, x1)
        # run-time trip count (roff has NL lanes): with the literal NL, LLVM unrolls
        # this copy fully and, unable to rule out line/fb aliasing, leaves 80 scalar
        # moves; as a loop it is vectorised behind one run-time overlap check
        for k in range(nl):
            line[np.uint64(base + k)] = v[R_OUT * NL + k]
        for ch in range(nch):
            xin = x[ch, n]
            wet = np.float64(acc0) if ch == 0 else np.float64(acc1)
            dry[ch, np.uint64(pos & mask)] = xin
            if full:
                x[ch, n] = wet
            else:
                dly = dry[ch, np.uint64((pos - D) & mask)]
                w = w1
                if w1 != w0:
                    w = w0 + (w1 - w0) * ((phase + i + 1) / CONTROL)
                x[ch, n] = dly + w * (wet - dly)


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _bank_step(v, x0, x1):
    """One sample through every filter of both channels (lanes < NFP take x0, the
    rest x1), vectorised over the lanes; the synthesis outputs go to row R_OUT."""
    for k in range(NL):
        xf = x0 if k < NFP else x1
        ar = v[R_AR * NL + k]
        ai = v[R_AI * NL + k]
        yr = v[R_K4 * NL + k] * xf + ar * v[(R_S + 0) * NL + k] - ai * v[(R_S + 1) * NL + k]
        yi = ar * v[(R_S + 1) * NL + k] + ai * v[(R_S + 0) * NL + k]
        v[(R_S + 0) * NL + k] = yr
        v[(R_S + 1) * NL + k] = yi
        ur = yr + ar * v[(R_S + 2) * NL + k] - ai * v[(R_S + 3) * NL + k]
        yi = yi + ar * v[(R_S + 3) * NL + k] + ai * v[(R_S + 2) * NL + k]
        yr = ur
        v[(R_S + 2) * NL + k] = yr
        v[(R_S + 3) * NL + k] = yi
        ur = yr + ar * v[(R_S + 4) * NL + k] - ai * v[(R_S + 5) * NL + k]
        yi = yi + ar * v[(R_S + 5) * NL + k] + ai * v[(R_S + 4) * NL + k]
        yr = ur
        v[(R_S + 4) * NL + k] = yr
        v[(R_S + 5) * NL + k] = yi
        ur = yr + ar * v[(R_S + 6) * NL + k] - ai * v[(R_S + 7) * NL + k]
        yi = yi + ar * v[(R_S + 7) * NL + k] + ai * v[(R_S + 6) * NL + k]
        yr = ur
        v[(R_S + 6) * NL + k] = yr
        v[(R_S + 7) * NL + k] = yi
        e = yr * yr + yi * yi
        pk = v[R_PEAK * NL + k]
        v[R_PEAK * NL + k] = e if e > pk else pk
        v[R_OUT * NL + k] = v[R_PR * NL + k] * yr - v[R_PI * NL + k] * yi
