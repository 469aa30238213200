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

Noise guard and focus
---------------------
Each band learns its noise floor (minimum statistics): a guard level G_b, the
band power averaged over 50 envelope correlation times 1/(2π·b) (20 ms at
least; it falls 4× faster than it rises, so a phrase's end reaches the floor
in tens of ms), and every 0.2 s the sub-window's lowest G_b joins a ring of 8;
the floor is the ring's minimum (1.6 s). A sub-window teaches nothing if the
band heard only digital silence, held a tone (its raw level's spread under
2 dB: noise reads 2.7–5.3 dB in every band at 48 kHz, a tone 12 dB over noise
under 1.7), or decayed (its mean fell 1.5 dB from the sub-window before: a
tail is programme) — except in the first 0.6 s after a reset, when whatever
is there, mains hum included, is floor. The target lift is then scaled by

  w_b = smoothstep((G_b − floor_b − drift_guard)/6)

and, when w_b falls, the lift may fall but not rise for 0.2 s (pauses between
syllables keep their lift; a gap does not grow one). drift_guard 0 = off.
The focus range (drift_low, drift_high) multiplies the target by a weight
that is 0 for centres outside and rises to 1 over one band spacing inside
each edge. Measured (48 kHz; tests/test_drift.py, tests/test_material.py):

  pink + white noise at −70 dBFS and 50 Hz hum at −60, after 2 s:
      guard off: +8.7 / +11.3 dB (amount 30 / 100), worst band +15.6 / +18.1
      guard 6:   −0.2 dB overall, worst band +0.1, at both amounts
  −50 dBFS 1 kHz sine from 2 s into that noise, held 10 s: formula +0.1 dB
  speech over a −66 dBFS room (the quiet phrase 23 dB over it), amount 30 / 100:
      quiet phrase keeps 79 % / 75 % of its unguarded lift; the gaps after the
      phrases +0.0 dB (guard off: +14 / +17)
  piano tails 6–25 dB over the room keep 81–99 %
  cost: within the run-to-run spread of `make bench` (the guard runs once per
      16-sample tick on 40 bands)

drift_on = 0 crossfades (10 ms, linear) to the input delayed by the same D,
so the latency never changes; fully off, the output is that delayed input,
bit-exact, and the bank stops (it costs nothing while off; lifts, heat and
levels rest at 0 / 0 / silence). Switching on again clears the bank, runs it
for D + WARM_MS while the output is still the delayed input (so every filter
has rung up), then crossfades in over 10 ms: click-free, latency unchanged.

Kernel layout: both channels share one vector axis of NL = 2·NFP lanes,
filter k of channel c at lane 2k + c (a mono engine leaves the odd lanes at
rest). All per-lane coefficients, state and gains live in one flat float32
block fb with compile-time row offsets (row r, lane j at r·NL + j), and the
synthesis line after them in the same block (from LINE_OFF): a time-major
ring of rows, one per sample. One block with fixed offsets lets LLVM prove
the accesses apart and vectorise without run-time alias checks. The block
starts on a cache line (dsp.aligned_zeros) and every row is a multiple of 64
bytes, so no 512-bit access splits across lines. Each segment runs in two
passes:

* bank: lane groups of 16 (one AVX-512 vector) outside, samples inside, so a
  group's 8 state vectors are carried in registers from sample to sample
  (stored, never reloaded); sample n's outputs go straight to line row n;
* synthesis: per sample, y_c = Σ_k g_k·out_{k,c}[n − d_k − 1]. Channel 0 and 1
  of a filter are adjacent, so one 64-bit gather per filter fetches both
  (40 gathered elements per frame instead of 80); every path is one sample
  longer than the bank was designed for, so a sample never reads its own row.

Measured on the target machine class (2-core AMD EPYC, AVX-512), stereo
48 kHz, 16-sample segments: the bank ≈ 35 ns per frame (near the FMA
throughput for 80 lanes × ~20 vector operations), DRIFT in all ≈ 75 ns.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from . import drift_bank
from .dsp import (
    CONTROL_BLOCK,
    KERNEL,
    LOG2_10_OVER_20,
    LOG2_E,
    NATIVE_ONLY,
    STAGE_FADE_MS,
    aligned_zeros,
    f32_pair,
    fast_exp2,
    fast_power_to_db,
    onepole_coeff,
    pow2_at_least,
)
from .params import PID

NUM_BANDS = drift_bank.NUM_BANDS
FLOOR_DB = -96.0             # no lift at or below
FLOOR_FADE_DB = 6.0          # lift fades in from -96 to -90 dBFS
HEAT_UP_S, HEAT_DOWN_S = 2.0, 8.0
FLUSH_POWER = 1e-30
ATTACK_MIN_FRACTION = 0.25   # attack compensation never goes below this share of t
DET_RISE = 2.8               # a level step reaches 63 % (in dB) after ≈ 2.8/(2π·b) in a gammatone
SPREAD_DB = 1.5             # a band reads at least its neighbours' level minus this

# noise guard (dsp.md "Noise guard, learned"): minimum statistics of a smoothed
# band level over RING sub-windows of SUB_S; sub-windows in which the band's
# envelope was steady (a tone: its raw level's spread under STEADY_STD_DB) do not
# raise the floor, except in the first LEARN_SUBS after a reset (after the one
# in which the filters ring up), where whatever is there, hum included, is floor
GUARD_FADE_DB = 6.0          # the lift fades in over this much above floor + guard
GUARD_HOLD_S = 0.15          # the guard lets a band's lift go only after it has stayed
#                              near its floor this long: pauses between syllables and
#                              notes do not close it
SUB_S = 0.2
RING = 8                     # floor = minimum over the last RING·SUB_S = 1.6 s
LEARN_SUBS = 3               # sub-windows 1 and 2 after a reset learn steady sounds too
STEADY_STD_DB = 2.0          # raw band level's spread in a sub-window below which it is a
#                              tone: noise reads 2.7..5.3 dB in every band, a tone 12 dB
#                              over noise under 1.7 (engine/drift.py docstring)
DECAY_DB = 1.5               # a sub-window whose mean level fell this much below the one
#                              before holds a decay (a tail: programme), not noise
GUARD_FALL = 4.0             # the guard's level falls this many times faster than it rises
GUARD_MIN_S = 0.02           # the guard's level: power averaged over max(this,
GUARD_CORR = 50.0            # GUARD_CORR envelope correlation times 1/(2π·b) of the band)
UNKNOWN_DB = 1e9             # a floor not learned yet (the guard holds the lift)
SILENT_DB = -150.0           # a sub-window whose band fell below this taught nothing

# cfg slots (fixed at alloc): samplerate, bank delay D, filters, heat up / down
# coefficients per tick, ticks per guard sub-window, ticks of guard hold
CFG_SR, CFG_D, CFG_NF, CFG_HEAT_UP, CFG_HEAT_DN, CFG_SUB_TICKS, CFG_HOLD_TICKS, CFG_LEN = range(8)

# misc slots
M_POS, M_W0, M_W1, M_FRESH, M_ATT, M_BANK, M_WARM = 0, 1, 2, 3, 4, 5, 6
M_SUB, M_SUBS, M_GUARDED, M_LEN = 7, 8, 9, 10
WARM_MS = 5.0                # after drift_on: bank runs D + this before the crossfade starts


NFP = 40                     # filter slots, a multiple of 8 >= filters
NL = 2 * NFP                 # lanes: filter k channel c at lane 2k + c (row stride of `fb`)
# rows of the flat block fb (each NL float32 wide); one flat array with
# compile-time row offsets lets LLVM vectorise the lane loop without alias checks
R_AR, R_AI, R_K4, R_PR, R_PI = 0, 1, 2, 3, 4
R_G0, R_DG = 5, 6            # per filter (columns 0..NFP-1): gain at segment start, its change
R_S = 7                      # 8 state rows: stage s real at R_S + 2s, imag at R_S + 2s + 1
R_PEAK, R_SCR = 15, 16       # R_SCR: scratch of drift_control
R_X = 17                     # the segment's input: channel 0 at columns 0..15, channel 1 at 16..31
# the synthesis line: a ring of rows, one per sample, NL lanes each; LINE_SHIFT
# is log2 of the row stride in float32 (>= NL, a power of two)
ROWS = 18
GROUP = 16                   # lanes per bank group (one AVX-512 vector); NL is a multiple
LINE_SHIFT = 7
LINE_OFF = 1536              # the line's offset in fb: >= ROWS·NL, a multiple of the row stride
LINE_ROWS_MAX = 1024         # the line holds at most this many rows (384 kHz); a power of two


class DriftState(NamedTuple):
    lift_db: np.ndarray        # [NUM_BANDS] current lift per band (dB) — meter
    heat: np.ndarray           # [NUM_BANDS] thermal memory 0..1 — meter
    level_db: np.ndarray       # [NUM_BANDS] last detected band level (dBFS)
    target_db: np.ndarray      # [NUM_BANDS] scratch: static lift targets
    tilt: np.ndarray           # [NUM_BANDS] 2·log10(f_b/20)/3 − 1
    det_ms: np.ndarray         # [NUM_BANDS] detection delay of a level rise (ms)
    delay: np.ndarray          # int64 [nf] synthesis delay d_k (non-decreasing in k)
    gain: np.ndarray           # float32 [nf] filter gain at the end of the current segment
    att_coef: np.ndarray       # [NUM_BANDS] attack coefficient per tick (for misc[M_ATT])
    power: np.ndarray          # [nf] scratch: max |z_k|² of the last segment over channels
    erb: np.ndarray            # [NUM_BANDS] ERB number of each band centre (focus)
    guard_power: np.ndarray    # [NUM_BANDS] band power averaged for the guard
    guard_coef: np.ndarray     # [NUM_BANDS] its one-pole coefficient per tick
    guard_db: np.ndarray       # [NUM_BANDS] that level (dBFS) — meter drift_level_db
    floor_db: np.ndarray       # [NUM_BANDS] learned noise floor (dBFS) — meter
    sub_min: np.ndarray        # [NUM_BANDS] this sub-window: lowest guard level,
    sub_s1: np.ndarray         # [NUM_BANDS]   sum and sum of squares of the raw band
    sub_s2: np.ndarray         # [NUM_BANDS]   level (dB): its spread tells tone from noise
    ring: np.ndarray           # [RING, NUM_BANDS] the last sub-windows' contributions
    ring_pos: np.ndarray       # int64 [NUM_BANDS] next ring slot of each band
    sub_prev: np.ndarray       # [NUM_BANDS] the previous sub-window's mean raw level (dB)
    weight: np.ndarray         # [NUM_BANDS] the guard's weight of each band's lift this tick
    guard_w: np.ndarray        # [NUM_BANDS] the guard's weight (held, see GUARD_HOLD_S)
    guard_hold: np.ndarray     # [NUM_BANDS] ticks its weight is still held
    fb: np.ndarray             # float32: coefficients, state, scratch, gains (ROWS rows of NL lanes),
    #                            then from LINE_OFF the synthesis line: a ring of rows, one per
    #                            sample, 2^LINE_SHIFT floats each (NL used)
    roff: np.ndarray           # int64 [NFP] (d_k + 1)·2^(LINE_SHIFT−1) − k: read-behind offset in the line
    pairs: np.ndarray          # uint64 view of fb: filter k's (channel 0, channel 1) outputs
    dry: np.ndarray            # float64 [ch, L] dry delay (drift_on crossfade)
    misc: np.ndarray           # float64 [M_LEN]
    cfg: np.ndarray            # float64 [CFG_LEN], indexed by the CFG_* names


def drift_alloc(samplerate: float, channels: int, max_block: int) -> DriftState:
    sr = float(samplerate)
    D = drift_latency(sr)
    bank = drift_bank.design(sr, D=D - 1)     # the kernel adds one sample to every path
    nf = bank.fc.shape[0]
    # one filter per band, filter b on band b: the gain computer's loops rely on it
    assert nf == NUM_BANDS and np.allclose(bank.band_pos, np.arange(NUM_BANDS))
    assert nf <= NFP and NL <= (1 << LINE_SHIFT)
    assert ROWS * NL <= LINE_OFF and LINE_OFF % (1 << LINE_SHIFT) == 0
    assert channels <= 2
    assert np.all(np.diff(bank.delay) >= 0)
    # each segment writes all its rows before it reads: the rings hold the
    # longest delay plus one segment
    L = pow2_at_least(max(int(bank.delay.max()) + 1, D) + CONTROL_BLOCK)
    fb_ = drift_bank.band_centres()
    w = bank.gain * bank.phase
    assert L <= LINE_ROWS_MAX
    fb = aligned_zeros(LINE_OFF + (L << LINE_SHIFT), np.float32)
    for ch in range(2):
        lanes = 2 * np.arange(nf) + ch
        fb[R_AR * NL + lanes] = bank.coef.real
        fb[R_AI * NL + lanes] = bank.coef.imag
        fb[R_K4 * NL + lanes] = bank.norm ** drift_bank.ORDER
        fb[R_PR * NL + lanes] = w.real
        fb[R_PI * NL + lanes] = w.imag
    d = np.r_[bank.delay, np.zeros(NFP - nf)].astype(np.int64)
    st = DriftState(
        lift_db=np.zeros(NUM_BANDS), heat=np.zeros(NUM_BANDS),
        level_db=np.full(NUM_BANDS, -240.0), target_db=np.zeros(NUM_BANDS),
        tilt=drift_bank.tilt(fb_),
        det_ms=1000.0 * (DET_RISE / (2.0 * np.pi * drift_bank.bandwidth_hz(fb_)) + 1.5 * CONTROL_BLOCK / sr),
        delay=bank.delay.astype(np.int64),
        gain=np.ones(nf, np.float32), att_coef=np.zeros(NUM_BANDS),
        power=np.zeros(nf), erb=drift_bank.erb_number(fb_),
        guard_power=np.full(NUM_BANDS, -1.0),
        guard_coef=1.0 - np.exp(-CONTROL_BLOCK / (sr * np.maximum(
            GUARD_MIN_S, GUARD_CORR / (2.0 * np.pi * drift_bank.bandwidth_hz(fb_)
                                       * drift_bank.bw_factors(fb_))))),
        guard_db=np.full(NUM_BANDS, -240.0), floor_db=np.full(NUM_BANDS, UNKNOWN_DB),
        sub_min=np.full(NUM_BANDS, UNKNOWN_DB), sub_s1=np.zeros(NUM_BANDS),
        sub_s2=np.zeros(NUM_BANDS), ring=np.full((RING, NUM_BANDS), UNKNOWN_DB),
        ring_pos=np.zeros(NUM_BANDS, np.int64), sub_prev=np.full(NUM_BANDS, -240.0),
        weight=np.ones(NUM_BANDS), guard_w=np.zeros(NUM_BANDS), guard_hold=np.zeros(NUM_BANDS),
        fb=fb,
        roff=((d + 1) << (LINE_SHIFT - 1)) - np.arange(NFP),
        pairs=fb.view(np.uint64),
        dry=np.zeros((channels, L)),
        misc=np.zeros(M_LEN),
        cfg=np.zeros(CFG_LEN),
    )
    c = st.cfg
    c[CFG_SR], c[CFG_D], c[CFG_NF] = sr, D, nf
    c[CFG_HEAT_UP] = 1.0 - math.exp(-CONTROL_BLOCK / (HEAT_UP_S * sr))
    c[CFG_HEAT_DN] = 1.0 - math.exp(-CONTROL_BLOCK / (HEAT_DOWN_S * sr))
    c[CFG_SUB_TICKS] = max(1, round(SUB_S * sr / CONTROL_BLOCK))
    c[CFG_HOLD_TICKS] = round(GUARD_HOLD_S * sr / CONTROL_BLOCK)
    return st


@njit(cache=True)
def drift_latency(samplerate):
    """Samples of delay the filterbank adds (fixed per sample rate): 2.5 ms, rounded."""
    return int(math.floor(drift_bank.LATENCY_MS * 1e-3 * samplerate + 0.5))


@njit(cache=True, **NATIVE_ONLY)
def _clear_bank(st):
    """Filter state, peaks and the synthesis line (not the dry delay)."""
    for i in range(R_S * NL, ROWS * NL):
        st.fb[i] = 0.0
    for i in range(LINE_OFF, st.fb.shape[0]):
        st.fb[i] = 0.0


@njit(cache=True, **NATIVE_ONLY)
def _clear_signal(st):
    _clear_bank(st)
    st.dry[:] = 0.0


@njit(cache=True, **NATIVE_ONLY)
def _rest_gains(st):
    """Lifts, heat, levels and filter gains as after reset (0 dB everywhere)."""
    for k in range(NL):
        st.fb[R_G0 * NL + k] = 1.0
        st.fb[R_DG * NL + k] = 0.0
    st.gain[:] = 1.0
    st.lift_db[:] = 0.0
    st.heat[:] = 0.0
    st.level_db[:] = -240.0
    st.target_db[:] = 0.0


@njit(cache=True, **NATIVE_ONLY)
def _guard_reset(st):
    """Forget the learned floors: the next sounds are learned afresh."""
    st.guard_power[:] = -1.0           # no level yet: the first tick's is taken as it is
    st.guard_db[:] = -240.0
    st.floor_db[:] = UNKNOWN_DB
    st.sub_min[:] = UNKNOWN_DB
    st.sub_s1[:] = 0.0
    st.sub_s2[:] = 0.0
    for r in range(RING):
        for b in range(NUM_BANDS):
            st.ring[r, b] = UNKNOWN_DB
    st.ring_pos[:] = 0
    st.sub_prev[:] = -240.0
    st.weight[:] = 1.0
    st.guard_w[:] = 0.0
    st.guard_hold[:] = 0.0
    st.misc[M_SUB] = 0.0
    st.misc[M_SUBS] = 0.0
    st.misc[M_GUARDED] = 0.0


@njit(cache=True, **NATIVE_ONLY)
def drift_reset(st):
    _clear_signal(st)
    _rest_gains(st)
    _guard_reset(st)
    st.misc[M_ATT] = -1.0
    st.misc[M_POS] = 0.0
    st.misc[M_W0] = 1.0
    st.misc[M_W1] = 1.0
    st.misc[M_BANK] = 1.0
    st.misc[M_WARM] = 0.0
    st.misc[M_FRESH] = 1.0     # the first tick takes drift_on as it is (no fade after reset)


@njit(**KERNEL)
def _one_minus_exp_neg(x):
    """1 − e^(−x) for x >= 0 (release coefficients every tick): a series for small
    x, else through fast_exp2 (relative error < 1e-5); branch-free, so the band
    loop vectorises."""
    series = x * (1.0 - 0.5 * x * (1.0 - x / 3.0 * (1.0 - 0.25 * x)))
    return series if x < 0.03 else 1.0 - fast_exp2(-x * LOG2_E)


@njit(**KERNEL)
def drift_gain_params(p):
    """(a, slope, threshold, max_lift) of the gain computer: a = amount in 0..1,
    slope = 1 − 1/R with R = 1 + 3a; a band's threshold is threshold + 4a·tilt_b."""
    a = min(max(p[PID.amount] * 0.01, 0.0), 1.0)
    slope = 1.0 - 1.0 / (1.0 + 3.0 * a)
    return a, slope, p[PID.drift_threshold], max(p[PID.drift_max_lift], 0.0)


@njit(**KERNEL)
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


@njit(**KERNEL)
def drift_control(st, p, samplerate):
    """Every 16 samples: the drift_on crossfade and the bank's run state; while the
    bank runs, band levels -> static lifts -> ballistics, heat, filter gains."""
    misc = st.misc
    # --- drift_on: crossfade weight (start and end of the next segment), bank run state
    w = misc[M_W1]
    misc[M_W0] = w
    on = p[PID.drift_on] >= 0.5
    step = CONTROL_BLOCK * 1000.0 / (STAGE_FADE_MS * samplerate)
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
            misc[M_WARM] = math.ceil((st.cfg[CFG_D] + WARM_MS * 1e-3 * samplerate) / CONTROL_BLOCK)
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
    nf = int(st.cfg[CFG_NF])
    fb = st.fb
    # --- band power: max over channels (stereo link); non-finite guard (rule 8);
    # denormal-free state: a filter whose output stayed under -300 dB is cleared.
    # Plain lane loops (selects, no branches) that LLVM vectorises.
    power = st.power
    for k in range(nf):
        power[k] = 0.0
    # Lanes at rest (a mono engine's channel 1) read 0 and change nothing.
    nbad = 0
    for j in range(NL):
        v = fb[R_PEAK * NL + j]
        sv = fb[(R_S + 6) * NL + j] + fb[(R_S + 7) * NL + j]
        ok = math.isfinite(v) and math.isfinite(sv)
        nbad += 0 if ok else 1
        fb[R_SCR * NL + j] = v if ok else np.float32(0.0)
        fb[R_PEAK * NL + j] = 0.0
    for k in range(nf):
        power[k] = np.float64(max(fb[R_SCR * NL + 2 * k], fb[R_SCR * NL + 2 * k + 1]))
    for k in range(nf):
        keep = np.float32(0.0) if power[k] < FLUSH_POWER else np.float32(1.0)
        fb[R_SCR * NL + 2 * k] = keep
        fb[R_SCR * NL + 2 * k + 1] = keep
    for r in range(R_S, R_S + 8):
        for j in range(NL):
            fb[r * NL + j] *= fb[R_SCR * NL + j]
    bad = nbad != 0
    if bad:
        _clear_signal(st)
        for b in range(nb):
            st.lift_db[b] = 0.0
    # --- gain computer
    a, slope, thr, max_lift = drift_gain_params(p)
    # filter b is on band b (drift_alloc checks): a plain loop LLVM vectorises
    for b in range(nb):
        st.level_db[b] = fast_power_to_db(st.power[b])
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
    _guard_update(st)
    _weigh_targets(st, p)
    # --- ballistics and heat (selects, no branches: the band loop vectorises)
    att = p[PID.drift_attack]
    if att != st.misc[M_ATT]:
        # the band's own detection delay is part of the measured attack
        st.misc[M_ATT] = att
        for b in range(nb):
            st.att_coef[b] = onepole_coeff(max(att - st.det_ms[b], ATTACK_MIN_FRACTION * att),
                                           samplerate, CONTROL_BLOCK)
    mem = 3.0 * p[PID.drift_memory] * 0.01
    x_rel = CONTROL_BLOCK * 1000.0 / (p[PID.drift_release] * samplerate)
    h_up = st.cfg[CFG_HEAT_UP]
    h_dn = st.cfg[CFG_HEAT_DN]
    inv_max = 1.0 / max_lift if max_lift > 0.0 else 0.0
    for b in range(nb):
        tgt = st.target_db[b]
        lift = st.lift_db[b]
        h = st.heat[b]
        # attack while the lift falls, release (lengthened by heat) while it rises
        coef = st.att_coef[b] if tgt < lift else _one_minus_exp_neg(x_rel / (1.0 + mem * h))
        lift += coef * (tgt - lift)
        lift = 0.0 if abs(lift) < 1e-9 else lift
        st.lift_db[b] = lift
        u = min(max(lift * inv_max, 0.0), 1.0)
        h += (h_up if u > h else h_dn) * (u - h)
        st.heat[b] = 0.0 if h < 1e-9 else h
    # --- per-filter gains for the next segment (exp only where the lift moved)
    # every gain, branch-free, into the (free between segments) R_SCR row: a loop
    # LLVM vectorises (fast_exp2(0) is exactly 1, so a band at rest stays at 1)
    c = LOG2_10_OVER_20 * 0.5
    for k in range(nf):
        fb[R_SCR * NL + k] = np.float32(fast_exp2(c * (2.0 * st.lift_db[k])))
    for k in range(nf):
        g_old = st.gain[k]
        g_new = fb[R_SCR * NL + k]
        st.gain[k] = g_new
        fb[R_G0 * NL + k] = g_old
        fb[R_DG * NL + k] = g_new - g_old


ERB_STEP = float((drift_bank.erb_number(drift_bank.F_HI) - drift_bank.erb_number(drift_bank.F_LO))
                 / (NUM_BANDS - 1))


@njit(**KERNEL)
def erb_number(f):
    """E(f) = 21.4·log10(1 + 0.00437·f) (Glasberg & Moore 1990)."""
    return 21.4 * math.log10(1.0 + 0.00437 * f)


@njit(**KERNEL)
def drift_focus_weight(e, low_hz, high_hz):
    """Share of a band's lift the focus range lets through, for the band centred at
    ERB number e: 0 for a centre below drift_low or above drift_high, rising to 1
    over one band spacing inside each edge (an edge at the table's end is no edge)."""
    wl = 1.0
    if low_hz > drift_bank.F_LO:
        wl = min(max((e - erb_number(low_hz)) * (1.0 / ERB_STEP), 0.0), 1.0)
    wh = 1.0
    if high_hz < drift_bank.F_HI:
        wh = min(max((erb_number(high_hz) - e) * (1.0 / ERB_STEP), 0.0), 1.0)
    return wl * wh


@njit(**KERNEL)
def _guard_update(st):
    """Every tick: the guard's band levels (power averaged over a few dozen of the
    band's envelope correlation times, so noise reads steady) and the floors
    following them down at once; every SUB_S the floors are recomputed."""
    for b in range(NUM_BANDS):
        prev = st.guard_power[b]
        pw = st.power[b]
        # falls GUARD_FALL times faster than it rises: the end of a phrase reaches
        # the floor in tens of ms, while noise still reads a steady level
        c = st.guard_coef[b] if pw >= prev else min(1.0, GUARD_FALL * st.guard_coef[b])
        g = pw if prev < 0.0 else prev + c * (pw - prev)
        st.guard_power[b] = g
        lvl = fast_power_to_db(g)
        st.guard_db[b] = lvl
        st.sub_min[b] = min(st.sub_min[b], lvl)
        raw = st.level_db[b]
        st.sub_s1[b] += raw
        st.sub_s2[b] += raw * raw
    st.misc[M_SUB] += 1.0
    if st.misc[M_SUB] >= st.cfg[CFG_SUB_TICKS]:
        _guard_subwindow(st)


@njit(**KERNEL)
def _guard_subwindow(st):
    """End of a sub-window. A band learns from it (its lowest level joins the
    band's ring) if it heard something (not digital silence) and either the
    engine is still learning (sub-windows 1 .. LEARN_SUBS − 1 after a reset: what
    is there before the programme, hum included, is floor; sub-window 0 is
    skipped while the filters ring up) or its envelope fluctuated (noise) without
    decaying. A
    steady tone after that is programme and changes nothing: the floor neither
    rises to it nor forgets the noise under it. Nor does a decay (the mean
    level fell by DECAY_DB since the sub-window before): a tail is programme.
        floor_b = min over the band's last RING learned sub-windows of min(level_b)"""
    misc = st.misc
    misc[M_SUB] = 0.0
    n = misc[M_SUBS]
    misc[M_SUBS] = n + 1.0
    if n == 0.0:
        skip = True
        learning = False
    else:
        skip = False
        learning = n < LEARN_SUBS
    inv_n = 1.0 / st.cfg[CFG_SUB_TICKS]
    for b in range(NUM_BANDS):
        v = st.sub_min[b]
        mean = st.sub_s1[b] * inv_n
        steady = st.sub_s2[b] * inv_n - mean * mean < STEADY_STD_DB * STEADY_STD_DB
        decaying = mean < st.sub_prev[b] - DECAY_DB
        st.sub_prev[b] = mean
        if v > SILENT_DB and not skip and (learning or not (steady or decaying)):
            r = st.ring_pos[b]
            st.ring[r, b] = v
            st.ring_pos[b] = (r + 1) % RING
            f = st.ring[0, b]
            for k in range(1, RING):
                f = min(f, st.ring[k, b])
            st.floor_db[b] = f
        st.sub_min[b] = UNKNOWN_DB
        st.sub_s1[b] = 0.0
        st.sub_s2[b] = 0.0


@njit(**KERNEL)
def _weigh_targets(st, p):
    """The static lifts scaled by the noise guard and the focus range:
        target_b ·= w_b · focus_b,  w_b = smoothstep((G_b − floor_b − guard)/6)
    (G_b the guard's level; guard 0 = off). w_b rises at once; when it falls, the
    band's lift may fall but not rise for GUARD_HOLD_S (a pause between
    syllables or notes keeps the lift it had, a gap does not grow one), then
    w_b applies. Counts the bands the guard holds down (meter)."""
    guard = p[PID.drift_guard]
    low = p[PID.drift_low]
    high = p[PID.drift_high]
    # a band that has learned no floor holds its lift while the engine is still
    # learning, and has none to guard against after that (it heard only silence)
    unknown = 0.0 if st.misc[M_SUBS] < LEARN_SUBS else 1.0
    held = 0
    for b in range(NUM_BANDS):
        t = st.target_db[b] * drift_focus_weight(st.erb[b], low, high)
        wg = 1.0
        if guard > 0.0:
            u = min(max((st.guard_db[b] - st.floor_db[b] - guard) * (1.0 / GUARD_FADE_DB), 0.0), 1.0)
            wg = u * u * (3.0 - 2.0 * u) if st.floor_db[b] < UNKNOWN_DB else unknown
            if wg >= st.guard_w[b]:
                st.guard_w[b] = wg
                st.guard_hold[b] = st.cfg[CFG_HOLD_TICKS]
                t *= wg
            elif st.guard_hold[b] > 0.0:
                st.guard_hold[b] -= 1.0
                t = min(t * st.guard_w[b], st.lift_db[b])
            else:
                st.guard_w[b] = wg
                t *= wg
        held += 1 if (wg < 0.5 and st.target_db[b] > 0.01) else 0
        st.weight[b] = wg
        st.target_db[b] = t
    st.misc[M_GUARDED] = float(held)


@njit(**KERNEL)
def drift_process(st, p, x, start, count, phase):
    """In place on x[ch, start:start+count]; the segment lies inside one control period.

    Two passes over the segment: the bank (state in registers, outputs into
    the synthesis line), then per sample the synthesis sum
    y = Σ_k g_k·out_k[n − d_k − 1] and the drift_on crossfade."""
    nch = x.shape[0]
    mask = st.dry.shape[1] - 1
    D = int(st.cfg[CFG_D])
    pos0 = int(st.misc[M_POS])
    dry = st.dry
    st.misc[M_POS] = float((pos0 + count) & mask)
    for ch in range(nch):
        for i in range(count):
            dry[ch, np.uint64((pos0 + i) & mask)] = x[ch, start + i]
    if st.misc[M_BANK] == 0.0:
        # off: the input delayed by D, bit-exact, and no filterbank work
        for ch in range(nch):
            for i in range(count):
                x[ch, start + i] = dry[ch, np.uint64((pos0 + i - D) & mask)]
        return
    v = st.fb
    for i in range(count):
        v[R_X * NL + i] = np.float32(x[0, start + i])
        v[R_X * NL + CONTROL_BLOCK + i] = np.float32(x[1, start + i]) if nch > 1 else np.float32(0.0)
    _bank_segment(v, pos0, mask, count)
    pairs = st.pairs
    roff = st.roff
    pmask = (st.dry.shape[1] << (LINE_SHIFT - 1)) - 1
    w0 = st.misc[M_W0]
    w1 = st.misc[M_W1]
    full = w0 == 1.0 and w1 == 1.0
    inv = np.float32(1.0 / CONTROL_BLOCK)
    for i in range(count):
        n = start + i
        pos = pos0 + i
        base = (pos & mask) << (LINE_SHIFT - 1)
        t = np.float32(phase + i + 1) * inv
        # every path is delayed by d_k + 1 >= 1 samples, so this reads rows
        # written by earlier samples only; one 64-bit gather per filter fetches
        # both channels' outputs (adjacent lanes)
        acc0 = np.float32(0.0)
        acc1 = np.float32(0.0)
        for k in range(NFP):
            g = v[R_G0 * NL + k] + v[R_DG * NL + k] * t
            o0, o1 = f32_pair(pairs[np.uint64((LINE_OFF >> 1) + ((base - roff[k]) & pmask))])
            acc0 += g * o0
            acc1 += g * o1
        if full:
            x[0, n] = np.float64(acc0)
            if nch > 1:
                x[1, n] = np.float64(acc1)
        else:
            w = w1
            if w1 != w0:
                w = w0 + (w1 - w0) * ((phase + i + 1) / CONTROL_BLOCK)
            for ch in range(nch):
                wet = np.float64(acc0) if ch == 0 else np.float64(acc1)
                dly = dry[ch, np.uint64((pos - D) & mask)]
                x[ch, n] = dly + w * (wet - dly)


@njit(**KERNEL)
def _stage(v, k, s, xr, xi, ar, ai):
    """Cascade stage s (1..3) of lane k: y = x + a·y[n−1] (complex), state at rows
    R_S + 2s (real) and R_S + 2s + 1 (imaginary). Stage 0 differs (real input
    scaled by k⁴) and is written out in _bank_segment."""
    sr = v[(R_S + 2 * s) * NL + k]
    si = v[(R_S + 2 * s + 1) * NL + k]
    yr = xr + ar * sr - ai * si
    yi = xi + ar * si + ai * sr
    v[(R_S + 2 * s) * NL + k] = yr
    v[(R_S + 2 * s + 1) * NL + k] = yi
    return yr, yi


@njit(**KERNEL)
def _bank_segment(v, pos0, mask, count):
    """`count` samples through every filter of both channels: even lanes take
    channel 0 (row R_X, columns 0..15), odd lanes channel 1 (columns 16..31);
    sample i's synthesis outputs Re(w_k·z_k) go to the line's row (pos0 + i) & mask.

    Lane groups of 16 outside, samples inside: a group's 8 state vectors are
    carried in registers from sample to sample (LLVM still stores them each
    sample, but never reloads them)."""
    for g in range(NL // GROUP):
        for i in range(count):
            x0 = v[R_X * NL + i]
            x1 = v[R_X * NL + CONTROL_BLOCK + i]
            for kk in range(GROUP):
                k = g * GROUP + kk
                xf = x0 if (k & 1) == 0 else x1
                ar = v[R_AR * NL + k]
                ai = v[R_AI * NL + k]
                yr = v[R_K4 * NL + k] * xf + ar * v[(R_S + 0) * NL + k] - ai * v[(R_S + 1) * NL + k]
                yi = ar * v[(R_S + 1) * NL + k] + ai * v[(R_S + 0) * NL + k]
                v[(R_S + 0) * NL + k] = yr
                v[(R_S + 1) * NL + k] = yi
                yr, yi = _stage(v, k, 1, yr, yi, ar, ai)
                yr, yi = _stage(v, k, 2, yr, yi, ar, ai)
                yr, yi = _stage(v, k, 3, yr, yi, ar, ai)
                e = yr * yr + yi * yi
                pk = v[R_PEAK * NL + k]
                v[R_PEAK * NL + k] = e if e > pk else pk
                # & (LINE_ROWS_MAX − 1) changes nothing (mask < LINE_ROWS_MAX) but bounds the
                # row for alias analysis, which then proves the line apart from the
                # state rows; without it LLVM does not vectorise this loop
                row = (pos0 + i) & mask & (LINE_ROWS_MAX - 1)
                v[LINE_OFF + (row << LINE_SHIFT) + k] = v[R_PR * NL + k] * yr - v[R_PI * NL + k] * yi


@njit(**KERNEL)
def drift_delayed_input(st, ch, i, count):
    """After drift_process of a segment of `count`: its sample i's input delayed
    by DRIFT's latency (what DRIFT's output is compared with, for listen)."""
    mask = st.dry.shape[1] - 1
    return st.dry[ch, np.uint64((int(st.misc[M_POS]) - count + i - int(st.cfg[CFG_D])) & mask)]
