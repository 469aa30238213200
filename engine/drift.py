"""DRIFT: 40-band ERB upward compressor (dsp.md, "DRIFT").

Signal path
-----------
The analysis bank only measures; the lifts are applied to the delayed input:

    x_D = x delayed by drift_lookahead (the only latency DRIFT adds)
    y   = x_D + Σ_b c_b·BP_b(x_D)

BP_b is a unity-peak 2nd-order band-pass at band centre f_b (engine/drift_bank.py:
a trapezoidal state-variable filter, bandwidth 1.2× the analysis bandwidth,
kept in Hz up to Nyquist). Where nothing is lifted every c_b is exactly 0 and
y is x_D, bit for bit, at every frequency from DC to Nyquist: mix, listen and
bypass are exact with DRIFT on. Each BP_b is positive-real (phase within ±90°),
so with every c_b ≥ 0 the output would stay within 90° of x_D by construction;
the solve below gives small negative c_b beside steep parts of the profile,
so this is measured, not proved: within 40° for steady sines, within 70° of
x_D over every frequency for the design's profiles (tests). The gains c come
from the per-band lifts through the interaction
matrix of the bank (Välimäki & Liski's accurate graphic equaliser, solved in
the linear domain where a parallel bank's overlap is exactly linear; six
half-step corrections per tick for the quadrature part):

    T_b = 10^(lift'_b/20),  c = W·(T − 1),  c += W·(T − |1 + H·c|)/2  (6 times)

lift'_b is the band lifts with their slope limited to LIFT_SLOPE_DB per band
(lift'_b = min_k lift_k + LIFT_SLOPE_DB·|b − k|): an equaliser of 40
overlapping sections cannot follow a steeper profile, and the solve would
answer with large alternating gains. Before that, a band with nothing to
keep (empty, or held by the noise guard) takes the slope down from its
programme neighbours instead of pulling them down (see _synthesis_gains).

Routes measured (issue 12; steady sines 40 Hz..18 kHz, amount 100, threshold
−40, max lift 18, −41..−72 dBFS, against the formula with T_b and lift
interpolated in ERB number; models in scripts/drift_eq_study.py and
`python -m engine.drift_bank`, the engine's figures in tests/test_drift_path.py):

  resynthesis from the gammatone bank (the first version) ... at rest −0.25..+0.17 dB,
      group delay +9.8 ms at 100 Hz, 50 % mix notch −52 dB, nothing above 21 kHz
  cascade of peaking sections, V–L matrix in dB, one solve . −5.9..−0.4 dB (the
      overlap is far from linear in dB at 18 dB of lift); |phase| ≤ 66°
  parallel band-passes, real solve only ...................... −0.0..+3.3 dB (48 kHz)
  ... + 2 full corrections ................................... −2.1..+0.5 dB (44.1 kHz: the
      corrections overshoot beside a valley in the lifts)
  ... + 6 half-step corrections, slope ≤ 3 dB/band (chosen) .. −0.66..+0.49 dB at 44.1,
      48 and 96 kHz, |phase| ≤ 40°
  ... corrections carried from tick to tick (cheaper) ....... diverges on some profiles
  ... without the slope limit ................................. diverges at a sharp edge

Cost (`make bench`, 48 kHz stereo): the analysis bank and the synthesis bank
both run as 80-lane vector loops; the solve (19 40×40 products) runs only in
ticks whose target moved and dominates while lifting (see the README).

The parallel bank vectorises over its 80 lanes (40 bands × 2 channels);
a cascade is one serial chain of 40 sections per sample.

Detection and gain
------------------
Analysis: one 4th-order complex gammatone per band on the undelayed input
(drift_bank.analysis_coefs), so the lookahead lets a lift fall before a loud
onset arrives. Band b's level is its Hilbert envelope |z_b|² (a sine of
amplitude A at the centre reads 20·log10(A)), the maximum over each 16-sample
control segment. Stereo link per band: L = (1 − link)·own + link·max over
channels (dB); at 100 % both channels share one gain computer. Every tick:

  L'_b     = L_b raised at a local maximum to the top of the parabola through
             it and its neighbours, the neighbour on the vertex's side to
             that top − SPREAD_DB·max(d − FLAT_BANDS, 0) (d its distance to the
             vertex in bands), then every band to at least its neighbours − SPREAD_DB
  target_b = min((T_b − L'_b)·(1 − 1/R), max_lift) if L'_b < T_b else 0,
             T_b = drift_threshold + 4a·(2·log10(f_b/20)/3 − 1), R = 1 + 3a
  target_b ·= smoothstep((L'_b + 96)/6)               (no lift at or below −96)

A sine between two centres reads up to 1.6 dB low in both; the parabola finds
its level, and its skirt in the bands beside it is not taken for quiet
material. Ballistics per band, one-pole on the lift in dB: attack (lift falling)
drift_attack minus the band's detection delay, never below a quarter of it;
release drift_release·(1 + 3·memory·h_b); heat h_b follows lift_b/max_lift with
2 s up / 8 s down. The gains c ramp linearly across the next 16 samples.

Noise guard and focus
---------------------
Each band learns its noise floor (minimum statistics): a guard level G_b, the
band power averaged over 50 envelope correlation times 1/(2π·b) (20 ms at
least; it falls 4× faster than it rises), and every 0.2 s the sub-window's
lowest G_b joins a ring of 8; the floor is the ring's minimum (1.6 s). A
sub-window teaches nothing if the band heard only digital silence, held a
tone (its raw level's spread under 2 dB), or decayed (its mean fell 1.5 dB
from the sub-window before) — except in the first 0.6 s after a reset, when
whatever is there, mains hum included, is floor. The target is scaled by
w_b = smoothstep((G_b − floor_b − drift_guard)/6); when w_b falls, the lift may
fall but not rise for 0.15 s. drift_guard 0 = off. With the link below 100 %
each channel learns its own floors. The focus range (drift_low, drift_high)
multiplies the target by a weight 0 outside, rising to 1 over one band inside
each edge.

drift_on = 0 crossfades (10 ms) the lifts out; fully off, the output is x_D
bit-exact and the banks stop. Switching on clears them and runs them
WARM_MS with the lifts still out, then fades the lifts in. drift_lookahead
moves by a 10 ms crossfade between the old and new delay (dsp.tap_*), and the
reported latency follows.

Kernel layout: both channels share one vector axis of NL = 80 lanes, band b
of channel c at lane 2b + c (a mono engine leaves the odd lanes at rest). All
per-lane coefficients and state live in one flat float32 block fb with
compile-time row offsets (row r, lane j at r·NL + j), which lets LLVM prove
the accesses apart and vectorise the lane loops; the block starts on a cache
line and every row is 320 bytes.
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
    XFADE_MS,
    aligned_zeros,
    fast_exp2,
    fast_power_to_db,
    onepole_coeff,
    pow2_at_least,
    tap_control,
    tap_read,
    tap_reset,
)
from .params import BY_ID, PID

NUM_BANDS = drift_bank.NUM_BANDS
FLOOR_DB = -96.0             # no lift at or below
FLOOR_FADE_DB = 6.0          # lift fades in from -96 to -90 dBFS
HEAT_UP_S, HEAT_DOWN_S = 2.0, 8.0
FLUSH_POWER = 1e-30
FLUSH_STATE = 1e-18          # synthesis states below this are cleared (no subnormals)
ATTACK_MIN_FRACTION = 0.25   # attack compensation never goes below this share of t
DET_RISE = 2.8               # a level step reaches 63 % (in dB) after ≈ 2.8/(2π·b) in a gammatone
SPREAD_DB = 1.5              # a band reads at least its neighbours' level minus this
FLAT_BANDS = 0.5             # a peak's own level reaches this far either side of its vertex
LIFT_SLOPE_DB = drift_bank.LIFT_SLOPE_DB
SOLVE_TOL = 1e-4             # (linear) a target this close to the last solved: c stands
MASK_DB = 40.0               # while a loud onset is fresh (the peak level PEAK_NEAR_DB
ONSET_DB = 20.0              # over its ONSET_MS average), every band reads at least the
#                              peak level − MASK_DB + min(that rise, ONSET_DB)
ONSET_MS = 5.0
PEAK_HOLD_MS = 30.0          # the peak level holds this long (a 20 Hz half period and more),
PEAK_FALL_DB_MS = 1.0        # then falls this fast: an envelope, not the segment's sample peak;
PEAK_NEAR_DB = 3.0           # a segment peak this near it renews the hold, and an onset
#                              counts from this much over the average
ONSET_JUMP_DB = 12.0         # an onset this sudden drops the lifts at once (no attack, no ramp)
LOOKAHEAD_MAX_MS = float(BY_ID["drift_lookahead"].max)   # from the table
WARM_MS = 7.5                # after drift_on: the banks run this long before the lifts fade in

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
#                              over noise under 1.7
DECAY_DB = 1.5               # a sub-window whose mean level fell this much below the one
#                              before holds a decay (a tail: programme), not noise
GUARD_FALL = 4.0             # the guard's level falls this many times faster than it rises
GUARD_MIN_S = 0.02           # the guard's level: power averaged over max(this,
GUARD_CORR = 50.0            # GUARD_CORR envelope correlation times 1/(2π·b) of the band)
UNKNOWN_DB = 1e9             # a floor not learned yet (the guard holds the lift)
SILENT_DB = -150.0           # a sub-window whose band fell below this taught nothing

# cfg slots (fixed at alloc): samplerate, channels, heat up / down coefficients
# per tick, ticks per guard sub-window, ticks of guard hold
CFG_SR, CFG_NCH, CFG_HEAT_UP, CFG_HEAT_DN, CFG_SUB_TICKS, CFG_HOLD_TICKS, CFG_LEN = range(7)

# misc slots
M_POS, M_W0, M_W1, M_FRESH, M_ATT, M_BANK, M_WARM = 0, 1, 2, 3, 4, 5, 6
M_SUB, M_SUBS, M_GUARDED, M_PEAK0, M_PEAK1 = 7, 8, 9, 10, 11
M_SLOW0, M_SLOW1, M_ONSET0, M_ONSET1 = 12, 13, 14, 15
M_ENV0, M_ENV1, M_HOLD0, M_HOLD1, M_LEN = 16, 17, 18, 19, 20

NL = 2 * NUM_BANDS           # lanes: band b channel c at lane 2b + c (row stride of `fb`)
# rows of the flat block fb (each NL float32 wide)
R_AR, R_AI, R_K4 = 0, 1, 2   # analysis: complex pole, input factor k⁴
R_S = 3                      # 8 analysis state rows: stage s real at R_S + 2s, imag at R_S + 2s + 1
R_PEAK, R_SCR = 11, 12       # the segment's max |z|²; R_SCR: scratch of drift_control
R_X, R_XD = 13, 14           # the segment's input and delayed input: channel 0 at
#                              columns 0..15, channel 1 at 16..31
R_A1, R_A2, R_A3 = 15, 16, 17    # synthesis state-variable filter coefficients
R_IC1, R_IC2 = 18, 19        # its two states
R_C0, R_DC = 20, 21          # its output gain c_b·k_b at the segment's start, and its change
R_ACC = 22                   # 4 rows: per sample of the segment, the 16 lanes of a group summed
#                              over the groups (sample i at R_ACC·NL + 16·i)
ROWS = 26
GROUP = 16                   # lanes per analysis group (one AVX-512 vector)


class BandState(NamedTuple):
    """One channel's gain computer (both channels share the first while linked)."""
    power: np.ndarray          # [NUM_BANDS] max |z_b|² of the last segment
    level_db: np.ndarray       # [NUM_BANDS] band level (dBFS), linked
    seen_db: np.ndarray        # [NUM_BANDS] the level the gain computer uses (L')
    target_db: np.ndarray      # [NUM_BANDS] static lift targets
    lift_db: np.ndarray        # [NUM_BANDS] lift after ballistics
    heat: np.ndarray           # [NUM_BANDS] thermal memory 0..1
    guard_power: np.ndarray    # [NUM_BANDS] band power averaged for the guard
    guard_db: np.ndarray       # [NUM_BANDS] that level (dBFS)
    floor_db: np.ndarray       # [NUM_BANDS] learned noise floor (dBFS)
    sub_min: np.ndarray        # [NUM_BANDS] this sub-window: lowest guard level,
    sub_s1: np.ndarray         # [NUM_BANDS]   sum and sum of squares of the raw band
    sub_s2: np.ndarray         # [NUM_BANDS]   level (dB): its spread tells tone from noise
    ring: np.ndarray           # [RING, NUM_BANDS] the last sub-windows' contributions
    ring_pos: np.ndarray       # int64 [NUM_BANDS] next ring slot of each band
    sub_prev: np.ndarray       # [NUM_BANDS] the previous sub-window's mean raw level (dB)
    weight: np.ndarray         # [NUM_BANDS] the guard's weight of each band's lift this tick
    guard_w: np.ndarray        # [NUM_BANDS] the guard's weight (held, see GUARD_HOLD_S)
    guard_hold: np.ndarray     # [NUM_BANDS] ticks its weight is still held
    tlin: np.ndarray           # [NUM_BANDS] 10^(lift'/20): the realised target
    gain: np.ndarray           # [NUM_BANDS] synthesis gains c
    t_solved: np.ndarray       # [NUM_BANDS] the realised target c was last corrected for
    resid: np.ndarray          # [2] that solve's last residual (largest; < 0: c not valid),
    #                            and which tick of two this is
    scr: np.ndarray            # [3, NUM_BANDS] scratch of the solve


class DriftState(NamedTuple):
    bands: tuple               # (BandState, BandState): channel 0, channel 1
    lift_db: np.ndarray        # [NUM_BANDS] meters: lift (the louder channel's when unlinked),
    heat: np.ndarray           # [NUM_BANDS]   heat,
    level_db: np.ndarray       # [NUM_BANDS]   band level,
    guard_db: np.ndarray       # [NUM_BANDS]   the guard's level,
    floor_db: np.ndarray       # [NUM_BANDS]   learned floor (the lower channel's)
    tilt: np.ndarray           # [NUM_BANDS] 2·log10(f_b/20)/3 − 1
    det_ms: np.ndarray         # [NUM_BANDS] detection delay of a level rise (ms)
    att_coef: np.ndarray       # [NUM_BANDS] attack coefficient per tick (for misc[M_ATT])
    erb: np.ndarray            # [NUM_BANDS] ERB number of each band centre (focus)
    guard_coef: np.ndarray     # [NUM_BANDS] the guard's one-pole coefficient per tick
    w_inv: np.ndarray          # [NUM_BANDS, NUM_BANDS] (Re H)^−1, H[b, k] = BP_k(f_b)
    h_re: np.ndarray           # [NUM_BANDS, NUM_BANDS] Re H
    h_im: np.ndarray           # [NUM_BANDS, NUM_BANDS] Im H
    k_bp: np.ndarray           # [NUM_BANDS] the state-variable filter's band-pass factor k_b
    fb: np.ndarray             # float32 [ROWS·NL]: coefficients, state, scratch, gains
    dry: np.ndarray            # float64 [ch, L] the input, read at the lookahead tap
    xd: np.ndarray             # float64 [2, CONTROL_BLOCK] the last segment's delayed input
    tap: np.ndarray            # float64 [4] the lookahead tap (dsp.tap_*)
    misc: np.ndarray           # float64 [M_LEN]
    cfg: np.ndarray            # float64 [CFG_LEN], indexed by the CFG_* names


def _band_state() -> BandState:
    nb = NUM_BANDS
    return BandState(
        power=np.zeros(nb), level_db=np.full(nb, -240.0), seen_db=np.full(nb, -240.0),
        target_db=np.zeros(nb), lift_db=np.zeros(nb), heat=np.zeros(nb),
        guard_power=np.full(nb, -1.0), guard_db=np.full(nb, -240.0),
        floor_db=np.full(nb, UNKNOWN_DB), sub_min=np.full(nb, UNKNOWN_DB),
        sub_s1=np.zeros(nb), sub_s2=np.zeros(nb), ring=np.full((RING, nb), UNKNOWN_DB),
        ring_pos=np.zeros(nb, np.int64), sub_prev=np.full(nb, -240.0),
        weight=np.ones(nb), guard_w=np.zeros(nb), guard_hold=np.zeros(nb),
        tlin=np.ones(nb), gain=np.zeros(nb), t_solved=np.ones(nb), resid=np.array([-1.0, 0.0]),
        scr=np.zeros((3, nb)))


def drift_alloc(samplerate: float, channels: int, max_block: int) -> DriftState:
    sr = float(samplerate)
    assert channels <= 2
    fc = drift_bank.band_centres()
    coef, norm = drift_bank.analysis_coefs(sr, fc)
    a1, a2, a3, k = drift_bank.synthesis_svf(sr)
    H, W = drift_bank.interaction(sr)
    fb = aligned_zeros(ROWS * NL, np.float32)
    for ch in range(2):
        lanes = 2 * np.arange(NUM_BANDS) + ch
        fb[R_AR * NL + lanes] = coef.real
        fb[R_AI * NL + lanes] = coef.imag
        fb[R_K4 * NL + lanes] = norm ** drift_bank.ORDER
        fb[R_A1 * NL + lanes] = a1
        fb[R_A2 * NL + lanes] = a2
        fb[R_A3 * NL + lanes] = a3
    # the line holds the longest lookahead plus a segment, written before it is read
    L = pow2_at_least(int(math.ceil(LOOKAHEAD_MAX_MS * 1e-3 * sr)) + CONTROL_BLOCK + 2)
    bw = drift_bank.bandwidth_hz(fc)
    st = DriftState(
        bands=(_band_state(), _band_state()),
        lift_db=np.zeros(NUM_BANDS), heat=np.zeros(NUM_BANDS),
        level_db=np.full(NUM_BANDS, -240.0), guard_db=np.full(NUM_BANDS, -240.0),
        floor_db=np.full(NUM_BANDS, UNKNOWN_DB),
        tilt=drift_bank.tilt(fc),
        det_ms=1000.0 * (DET_RISE / (2.0 * np.pi * bw) + 1.5 * CONTROL_BLOCK / sr),
        att_coef=np.zeros(NUM_BANDS), erb=drift_bank.erb_number(fc),
        guard_coef=1.0 - np.exp(-CONTROL_BLOCK / (sr * np.maximum(
            GUARD_MIN_S, GUARD_CORR / (2.0 * np.pi * bw * drift_bank.bw_factors(fc))))),
        w_inv=np.ascontiguousarray(W), h_re=np.ascontiguousarray(H.real),
        h_im=np.ascontiguousarray(H.imag),
        k_bp=k.astype(np.float64),
        fb=fb,
        dry=np.zeros((channels, L)),
        xd=np.zeros((2, CONTROL_BLOCK)),
        tap=np.zeros(4),
        misc=np.zeros(M_LEN),
        cfg=np.zeros(CFG_LEN),
    )
    c = st.cfg
    c[CFG_SR], c[CFG_NCH] = sr, channels
    c[CFG_HEAT_UP] = 1.0 - math.exp(-CONTROL_BLOCK / (HEAT_UP_S * sr))
    c[CFG_HEAT_DN] = 1.0 - math.exp(-CONTROL_BLOCK / (HEAT_DOWN_S * sr))
    c[CFG_SUB_TICKS] = max(1, round(SUB_S * sr / CONTROL_BLOCK))
    c[CFG_HOLD_TICKS] = round(GUARD_HOLD_S * sr / CONTROL_BLOCK)
    return st


@njit(cache=True)
def drift_latency(samplerate, lookahead_ms):
    """Samples DRIFT delays its main path: drift_lookahead (0..5 ms), rounded."""
    la = min(max(lookahead_ms, 0.0), LOOKAHEAD_MAX_MS)
    return int(math.floor(la * 1e-3 * samplerate + 0.5))


@njit(cache=True, **NATIVE_ONLY)
def _clear_banks(st):
    """Analysis and synthesis state, peaks (not the input line)."""
    for i in range(R_S * NL, (R_PEAK + 1) * NL):
        st.fb[i] = 0.0
    for i in range(R_IC1 * NL, (R_IC2 + 1) * NL):
        st.fb[i] = 0.0


@njit(cache=True, **NATIVE_ONLY)
def _rest_gains(st):
    """Lifts, heat, levels and synthesis gains as after reset (0 dB everywhere)."""
    for j in range(NL):
        st.fb[R_C0 * NL + j] = 0.0
        st.fb[R_DC * NL + j] = 0.0
    for bs in st.bands:
        bs.lift_db[:] = 0.0
        bs.heat[:] = 0.0
        bs.level_db[:] = -240.0
        bs.seen_db[:] = -240.0
        bs.target_db[:] = 0.0
        bs.tlin[:] = 1.0
        bs.gain[:] = 0.0
        bs.t_solved[:] = 1.0
        bs.resid[0] = -1.0
        bs.resid[1] = 0.0
    st.lift_db[:] = 0.0
    st.heat[:] = 0.0
    st.level_db[:] = -240.0


@njit(cache=True, **NATIVE_ONLY)
def _guard_reset(st):
    """Forget the learned floors: the next sounds are learned afresh."""
    for bs in st.bands:
        bs.guard_power[:] = -1.0       # no level yet: the first tick's is taken as it is
        bs.guard_db[:] = -240.0
        bs.floor_db[:] = UNKNOWN_DB
        bs.sub_min[:] = UNKNOWN_DB
        bs.sub_s1[:] = 0.0
        bs.sub_s2[:] = 0.0
        for r in range(RING):
            for b in range(NUM_BANDS):
                bs.ring[r, b] = UNKNOWN_DB
        bs.ring_pos[:] = 0
        bs.sub_prev[:] = -240.0
        bs.weight[:] = 1.0
        bs.guard_w[:] = 0.0
        bs.guard_hold[:] = 0.0
    st.guard_db[:] = -240.0
    st.floor_db[:] = UNKNOWN_DB
    st.misc[M_SUB] = 0.0
    st.misc[M_SUBS] = 0.0
    st.misc[M_GUARDED] = 0.0


@njit(cache=True, **NATIVE_ONLY)
def drift_reset(st, p):
    _clear_banks(st)
    st.dry[:] = 0.0
    st.xd[:] = 0.0
    _rest_gains(st)
    _guard_reset(st)
    tap_reset(st.tap, float(drift_latency(st.cfg[CFG_SR], p[PID.drift_lookahead])))
    st.misc[M_ATT] = -1.0
    st.misc[M_POS] = 0.0
    st.misc[M_W0] = 1.0
    st.misc[M_W1] = 1.0
    st.misc[M_BANK] = 1.0
    st.misc[M_WARM] = 0.0
    st.misc[M_FRESH] = 1.0     # the first tick takes drift_on as it is (no fade after reset)
    st.misc[M_PEAK0] = 0.0
    st.misc[M_PEAK1] = 0.0
    st.misc[M_SLOW0] = -240.0
    st.misc[M_SLOW1] = -240.0
    st.misc[M_ONSET0] = 0.0
    st.misc[M_ONSET1] = 0.0
    st.misc[M_ENV0] = -240.0
    st.misc[M_ENV1] = -240.0
    st.misc[M_HOLD0] = 0.0
    st.misc[M_HOLD1] = 0.0


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
    """Every 16 samples: the lookahead tap, the drift_on crossfade and the banks'
    run state; while the banks run, band levels -> static lifts -> ballistics,
    heat -> synthesis gains."""
    misc = st.misc
    tap_control(st.tap, float(drift_latency(samplerate, p[PID.drift_lookahead])),
                CONTROL_BLOCK * 1000.0 / (XFADE_MS * samplerate))
    # --- drift_on: crossfade weight of the lifts (start and end of the next segment)
    w = misc[M_W1]
    misc[M_W0] = w
    on = p[PID.drift_on] >= 0.5
    step = CONTROL_BLOCK * 1000.0 / (STAGE_FADE_MS * samplerate)
    if misc[M_FRESH] != 0.0:
        # first tick after reset: take drift_on as it is (no fade); the state is clear
        misc[M_FRESH] = 0.0
        w = 1.0 if on else 0.0
        misc[M_W0] = w
        misc[M_BANK] = 1.0 if on else 0.0
    elif on:
        if misc[M_BANK] == 0.0:
            # switched on: clear and restart the banks; the lifts fade in once
            # the analysis filters have rung up
            _clear_banks(st)
            _guard_reset(st)
            misc[M_BANK] = 1.0
            misc[M_WARM] = math.ceil(WARM_MS * 1e-3 * samplerate / CONTROL_BLOCK)
        elif misc[M_WARM] > 0.0:
            misc[M_WARM] -= 1.0
        else:
            w = min(1.0, w + step)
    else:
        misc[M_WARM] = 0.0
        w = max(0.0, w - step)
        if w == 0.0 and misc[M_W0] == 0.0 and misc[M_BANK] != 0.0:
            # fully off: the banks stop and DRIFT rests at 0 dB
            misc[M_BANK] = 0.0
            _rest_gains(st)
    misc[M_W1] = w
    if misc[M_BANK] == 0.0:
        return
    fb = st.fb
    # --- band power per lane; non-finite guard (rule 8); denormal-free state:
    # a band whose analysis output stayed under -300 dB is cleared, tiny
    # synthesis states are flushed. Plain lane loops (selects) LLVM vectorises.
    nbad = 0
    for j in range(NL):
        v = fb[R_PEAK * NL + j]
        sv = fb[(R_S + 6) * NL + j] + fb[(R_S + 7) * NL + j] + fb[R_IC1 * NL + j] + fb[R_IC2 * NL + j]
        ok = math.isfinite(v) and math.isfinite(sv)
        nbad += 0 if ok else 1
        fb[R_SCR * NL + j] = v if ok else np.float32(0.0)
        fb[R_PEAK * NL + j] = 0.0
    for r in range(R_S, R_S + 8):
        for j in range(NL):
            fb[r * NL + j] *= np.float32(0.0) if fb[R_SCR * NL + j] < FLUSH_POWER else np.float32(1.0)
    for r in range(R_IC1, R_IC2 + 1):
        for j in range(NL):
            s = fb[r * NL + j]
            fb[r * NL + j] = s if abs(s) >= FLUSH_STATE else np.float32(0.0)
    if nbad != 0:
        _clear_banks(st)
        for bs in st.bands:
            bs.lift_db[:] = 0.0
    # --- band levels, stereo link
    nch = int(st.cfg[CFG_NCH])
    link = min(max(p[PID.drift_link] * 0.01, 0.0), 1.0)
    linked = nch == 1 or link >= 1.0
    b0 = st.bands[0]
    b1 = st.bands[1]
    for b in range(NUM_BANDS):
        b0.power[b] = np.float64(fb[R_SCR * NL + 2 * b])
        b1.power[b] = np.float64(fb[R_SCR * NL + 2 * b + 1])
    if linked:
        for b in range(NUM_BANDS):
            pw = max(b0.power[b], b1.power[b])
            b0.power[b] = pw
            b0.level_db[b] = fast_power_to_db(pw)
    else:
        for b in range(NUM_BANDS):
            own0 = fast_power_to_db(b0.power[b])
            own1 = fast_power_to_db(b1.power[b])
            hi = max(own0, own1)
            b0.level_db[b] = own0 + link * (hi - own0)
            b1.level_db[b] = own1 + link * (hi - own1)
            # the guard reads the linked level too
            b0.power[b] = 10.0 ** (0.1 * b0.level_db[b])
            b1.power[b] = 10.0 ** (0.1 * b1.level_db[b])
    # the input's peak level over the segment, linked like the bands: the
    # analysis filters of the low bands take ~10 ms to see an onset, the peak
    # sees it at once (and the lookahead before it is heard)
    hold = math.ceil(PEAK_HOLD_MS * 1e-3 * samplerate / CONTROL_BLOCK)
    fall = PEAK_FALL_DB_MS * CONTROL_BLOCK * 1000.0 / samplerate
    for c in range(nch):
        raw = fast_power_to_db(misc[M_PEAK0 + c] * misc[M_PEAK0 + c])
        misc[M_PEAK0 + c] = 0.0
        if raw >= misc[M_ENV0 + c] - PEAK_NEAR_DB:
            # near the envelope: a steady signal keeps it (and its hold) steady
            misc[M_ENV0 + c] = max(raw, misc[M_ENV0 + c])
            misc[M_HOLD0 + c] = hold
        elif misc[M_HOLD0 + c] > 0.0:
            misc[M_HOLD0 + c] -= 1.0
        else:
            misc[M_ENV0 + c] = max(misc[M_ENV0 + c] - fall, raw)
    pk0 = misc[M_ENV0]
    pk1 = misc[M_ENV1] if nch > 1 else pk0
    pk_hi = max(pk0, pk1)
    a_on = CONTROL_BLOCK * 1000.0 / (ONSET_MS * samplerate)
    a_, _, thr_, _ = drift_gain_params(p)
    loud = thr_ + 4.0 * a_
    # --- the gain computer, once per profile
    nprof = 1 if linked else 2
    att = p[PID.drift_attack]
    if att != misc[M_ATT]:
        # the band's own detection delay is part of the measured attack
        misc[M_ATT] = att
        for b in range(NUM_BANDS):
            st.att_coef[b] = onepole_coeff(max(att - st.det_ms[b], ATTACK_MIN_FRACTION * att),
                                           samplerate, CONTROL_BLOCK)
    sub_end = misc[M_SUB] + 1.0 >= st.cfg[CFG_SUB_TICKS]
    held = 0
    subs = misc[M_SUBS] + (1.0 if sub_end else 0.0)
    for ch in range(nprof):
        bs = st.bands[ch]
        own = pk0 if ch == 0 else pk1
        pk = pk_hi if linked else own + link * (pk_hi - own)
        # onset: the peak level's rise over its slow average (which follows a
        # fall at once, so the next hit is an onset again)
        # (the average is never more than MASK_DB under: after silence an
        # onset is as fresh as after quiet material)
        slow = max(misc[M_SLOW0 + ch], pk - MASK_DB)
        # only a loud onset (above the highest band threshold) counts: a rise
        # among quiet levels is left to drift_attack
        onset = max(pk - slow, 0.0) if pk > loud else 0.0
        misc[M_SLOW0 + ch] = pk if pk < slow else slow + a_on * (pk - slow)
        misc[M_ONSET0 + ch] = 1.0 if onset >= ONSET_JUMP_DB else 0.0
        _seen_levels(bs, pk - MASK_DB + min(onset, ONSET_DB) if onset > PEAK_NEAR_DB else -240.0)
        _static_targets(st, bs, p)
        _guard_accumulate(st, bs)
        if sub_end:
            _guard_subwindow(st, bs, misc[M_SUBS])
        held += _weigh_targets(st, bs, p, subs)
        _ballistics(st, bs, p, samplerate, misc[M_ONSET0 + ch] != 0.0)
        _synthesis_gains(st, bs, misc[M_ONSET0 + ch] != 0.0)
    misc[M_SUB] = 0.0 if sub_end else misc[M_SUB] + 1.0
    misc[M_SUBS] = subs
    misc[M_GUARDED] = float(held)
    # --- meters (the louder channel's lift, the lower floor) and the lanes' gains
    bo = st.bands[nprof - 1]
    for b in range(NUM_BANDS):
        st.lift_db[b] = max(b0.lift_db[b], bo.lift_db[b])
        st.heat[b] = max(b0.heat[b], bo.heat[b])
        st.level_db[b] = max(b0.level_db[b], bo.level_db[b])
        st.guard_db[b] = max(b0.guard_db[b], bo.guard_db[b])
        st.floor_db[b] = min(b0.floor_db[b], bo.floor_db[b])
    for b in range(NUM_BANDS):
        kb = st.k_bp[b]
        for ch in range(2):
            g_new = np.float32(st.bands[ch if ch < nprof else 0].gain[b] * kb)
            j = 2 * b + ch
            g_old = fb[R_C0 * NL + j] + fb[R_DC * NL + j]
            # a sudden onset: the gain drops at the segment's start, before the
            # onset reaches the output through the lookahead (the step it makes
            # in the quiet material before is masked by the onset)
            if misc[M_ONSET0 + (ch if ch < nprof else 0)] != 0.0 and g_new < g_old:
                g_old = g_new
            fb[R_C0 * NL + j] = g_old
            fb[R_DC * NL + j] = g_new - g_old


@njit(**KERNEL)
def _seen_levels(bs, masked_db):
    """L' (see the module docstring): a local maximum raised to its parabola's top
    P at vertex b + d, the neighbour on the vertex's side to at least
    P − SPREAD_DB·max(|k − b − d| − FLAT_BANDS, 0), then every band to at least its
    neighbours' level − SPREAD_DB, and to at least masked_db (during a loud
    onset: what it masks is not lifted while the band's own filter is still
    ringing up to it)."""
    lv = bs.level_db
    sn = bs.seen_db
    nb = NUM_BANDS
    for b in range(nb):
        sn[b] = lv[b]
    for b in range(1, nb - 1):
        lo = lv[b - 1]
        mid = lv[b]
        hi = lv[b + 1]
        den = lo - 2.0 * mid + hi
        if mid >= lo and mid >= hi and den < -1e-9:
            d = min(max(0.5 * (lo - hi) / den, -0.5), 0.5)
            top = mid - (lo - hi) * (lo - hi) / (8.0 * den)
            sn[b] = max(sn[b], top)
            k = b + 1 if d > 0.0 else b - 1
            sn[k] = max(sn[k], top - SPREAD_DB * max(1.0 - abs(d) - FLAT_BANDS, 0.0))
    # neighbours: two passes through scratch so each band sees its neighbours' L'
    t = bs.scr[0]
    for b in range(nb):
        t[b] = sn[b]
    sn[0] = max(t[0], t[1] - SPREAD_DB)
    for b in range(1, nb - 1):
        sn[b] = max(max(t[b], t[b - 1] - SPREAD_DB), t[b + 1] - SPREAD_DB)
    sn[nb - 1] = max(t[nb - 1], t[nb - 2] - SPREAD_DB)
    for b in range(nb):
        sn[b] = max(sn[b], masked_db)


@njit(**KERNEL)
def _static_targets(st, bs, p):
    a, slope, thr, max_lift = drift_gain_params(p)
    ta = 4.0 * a
    for b in range(NUM_BANDS):
        bs.target_db[b] = drift_static_lift(bs.seen_db[b], thr + ta * st.tilt[b], slope, max_lift)


@njit(**KERNEL)
def _ballistics(st, bs, p, samplerate, onset):
    """One-pole on the lift in dB: attack while it falls (at once on a sudden
    onset), release (lengthened by heat) while it rises; heat follows
    lift/max_lift (selects: vectorises)."""
    max_lift = max(p[PID.drift_max_lift], 0.0)
    mem = 3.0 * p[PID.drift_memory] * 0.01
    x_rel = CONTROL_BLOCK * 1000.0 / (p[PID.drift_release] * samplerate)
    h_up = st.cfg[CFG_HEAT_UP]
    h_dn = st.cfg[CFG_HEAT_DN]
    inv_max = 1.0 / max_lift if max_lift > 0.0 else 0.0
    for b in range(NUM_BANDS):
        tgt = bs.target_db[b]
        lift = bs.lift_db[b]
        h = bs.heat[b]
        coef = (1.0 if onset else st.att_coef[b]) if tgt < lift else \
            _one_minus_exp_neg(x_rel / (1.0 + mem * h))
        lift += coef * (tgt - lift)
        lift = 0.0 if abs(lift) < 1e-9 else lift
        bs.lift_db[b] = lift
        u = min(max(lift * inv_max, 0.0), 1.0)
        h += (h_up if u > h else h_dn) * (u - h)
        bs.heat[b] = 0.0 if h < 1e-9 else h


@njit(**KERNEL)
def _matvec(m, x, out):
    """out = m·x (NUM_BANDS square). Eight rows at a time share one pass over
    x, each row's sum in its own register: 5× faster here than a row at a
    time, whose 40-long dot products cost a horizontal sum and a scalar tail
    each (measured: 100 against 550 ns per product)."""
    for b0 in range(0, NUM_BANDS, 8):
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
        for k in range(NUM_BANDS):
            xk = x[k]
            a0 += m[b0, k] * xk
            a1 += m[b0 + 1, k] * xk
            a2 += m[b0 + 2, k] * xk
            a3 += m[b0 + 3, k] * xk
            a4 += m[b0 + 4, k] * xk
            a5 += m[b0 + 5, k] * xk
            a6 += m[b0 + 6, k] * xk
            a7 += m[b0 + 7, k] * xk
        out[b0] = a0
        out[b0 + 1] = a1
        out[b0 + 2] = a2
        out[b0 + 3] = a3
        out[b0 + 4] = a4
        out[b0 + 5] = a5
        out[b0 + 6] = a6
        out[b0 + 7] = a7


@njit(**KERNEL)
def _synthesis_gains(st, bs, onset):
    """The gains c of the synthesis bank for this profile's lifts: the lifts'
    slope limited to LIFT_SLOPE_DB per band, T = 10^(lift'/20), then c = W·(T − 1)
    followed by SOLVE_ITERATIONS corrections c += SOLVE_STEP·W·(T − |1 + H·c|).
    Each solve starts afresh: carried over from tick to tick, the corrections
    drift away on some profiles (their iteration is not a contraction
    everywhere). A solve serves two ticks (the gains still ramp every tick),
    except on an onset; a target that did not move needs none. All lifts 0:
    c = 0 exactly."""
    nb = NUM_BANDS
    t = bs.tlin
    g = bs.gain
    r = bs.scr[0]
    hr = bs.scr[1]
    hi = bs.scr[2]
    lifted = False
    for b in range(nb):
        r[b] = bs.lift_db[b]
        lifted = lifted or r[b] != 0.0
    if not lifted:
        for b in range(nb):
            t[b] = 1.0
            g[b] = 0.0
        bs.resid[0] = -1.0
        return
    # a band with nothing in it (under the floor's fade) or only its noise
    # floor (the guard holds it) has no lift of its own to keep: it takes the
    # slope down from its programme neighbours' lift (times the share the
    # guard lets through), so a held tone amid guarded noise is not pulled
    # down by the slope limit below, while in a pause, where the guard holds
    # (nearly) every band, the room's bands are not lifted by a neighbour's
    # held lift
    quiet = FLOOR_DB + FLOOR_FADE_DB
    # (hi: 1 for a free band; hr: the slope a pass carries)
    for b in range(nb):
        hi[b] = 1.0 if (bs.level_db[b] < quiet or bs.weight[b] == 0.0) else 0.0
    for sweep in range(2):
        carry = 0.0
        for k in range(nb):
            b = k if sweep == 0 else nb - 1 - k
            if hi[b] != 0.0:
                carry = max(carry - LIFT_SLOPE_DB, 0.0)
                hr[b] = max(hr[b], carry) if sweep == 1 else carry
            else:
                carry = r[b] * bs.weight[b]
                hr[b] = 0.0
    for b in range(nb):
        r[b] = max(r[b], hr[b])
    for b in range(1, nb):
        r[b] = min(r[b], r[b - 1] + LIFT_SLOPE_DB)
    for b in range(nb - 2, -1, -1):
        r[b] = min(r[b], r[b + 1] + LIFT_SLOPE_DB)
    moved = 0.0
    for b in range(nb):
        t[b] = fast_exp2(LOG2_10_OVER_20 * r[b])
        moved = max(moved, abs(t[b] - bs.t_solved[b]))
    # a solve stands for two ticks (32 samples) unless an onset needs it now;
    # one whose target did not move stands until it does
    bs.resid[1] = 1.0 - bs.resid[1]
    if not onset and bs.resid[0] >= 0.0 and (moved < SOLVE_TOL or bs.resid[1] != 0.0):
        return
    for b in range(nb):
        r[b] = t[b] - 1.0
        bs.t_solved[b] = t[b]
    _matvec(st.w_inv, r, g)
    resid = 0.0
    for _ in range(drift_bank.SOLVE_ITERATIONS):
        _matvec(st.h_re, g, hr)
        _matvec(st.h_im, g, hi)
        resid = 0.0
        for b in range(nb):
            re = 1.0 + hr[b]
            r[b] = t[b] - math.sqrt(re * re + hi[b] * hi[b])
            resid = max(resid, abs(r[b]))
        _matvec(st.w_inv, r, hr)
        for b in range(nb):
            g[b] += drift_bank.SOLVE_STEP * hr[b]
    bs.resid[0] = resid


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
def _guard_accumulate(st, bs):
    """Every tick: the guard's band levels (power averaged over a few dozen of the
    band's envelope correlation times, so noise reads steady) and this
    sub-window's statistics."""
    for b in range(NUM_BANDS):
        prev = bs.guard_power[b]
        pw = bs.power[b]
        # falls GUARD_FALL times faster than it rises: the end of a phrase reaches
        # the floor in tens of ms, while noise still reads a steady level
        c = st.guard_coef[b] if pw >= prev else min(1.0, GUARD_FALL * st.guard_coef[b])
        g = pw if prev < 0.0 else prev + c * (pw - prev)
        bs.guard_power[b] = g
        lvl = fast_power_to_db(g)
        bs.guard_db[b] = lvl
        bs.sub_min[b] = min(bs.sub_min[b], lvl)
        raw = bs.level_db[b]
        bs.sub_s1[b] += raw
        bs.sub_s2[b] += raw * raw


@njit(**KERNEL)
def _guard_subwindow(st, bs, n):
    """End of a sub-window (the n-th after a reset). A band learns from it (its lowest level joins the
    band's ring) if it heard something (not digital silence) and either the
    engine is still learning (sub-windows 1 .. LEARN_SUBS − 1 after a reset: what
    is there before the programme, hum included, is floor; sub-window 0 is
    skipped while the filters ring up) or its envelope fluctuated (noise) without
    decaying. A
    steady tone after that is programme and changes nothing: the floor neither
    rises to it nor forgets the noise under it. Nor does a decay (the mean
    level fell by DECAY_DB since the sub-window before): a tail is programme.
        floor_b = min over the band's last RING learned sub-windows of min(level_b)"""
    if n == 0.0:
        skip = True
        learning = False
    else:
        skip = False
        learning = n < LEARN_SUBS
    inv_n = 1.0 / st.cfg[CFG_SUB_TICKS]
    for b in range(NUM_BANDS):
        v = bs.sub_min[b]
        mean = bs.sub_s1[b] * inv_n
        steady = bs.sub_s2[b] * inv_n - mean * mean < STEADY_STD_DB * STEADY_STD_DB
        decaying = mean < bs.sub_prev[b] - DECAY_DB
        bs.sub_prev[b] = mean
        if v > SILENT_DB and not skip and (learning or not (steady or decaying)):
            r = bs.ring_pos[b]
            bs.ring[r, b] = v
            bs.ring_pos[b] = (r + 1) % RING
            f = bs.ring[0, b]
            for k in range(1, RING):
                f = min(f, bs.ring[k, b])
            bs.floor_db[b] = f
        bs.sub_min[b] = UNKNOWN_DB
        bs.sub_s1[b] = 0.0
        bs.sub_s2[b] = 0.0


@njit(**KERNEL)
def _weigh_targets(st, bs, p, subs):
    """The static lifts scaled by the noise guard and the focus range:
        target_b ·= w_b · focus_b,  w_b = smoothstep((G_b − floor_b − guard)/6)
    (G_b the guard's level; guard 0 = off). w_b rises at once; when it falls, the
    band's lift may fall but not rise for GUARD_HOLD_S (a pause between
    syllables or notes keeps the lift it had, a gap does not grow one), then
    w_b applies. Returns the number of bands the guard holds down (meter)."""
    guard = p[PID.drift_guard]
    low = p[PID.drift_low]
    high = p[PID.drift_high]
    # a band that has learned no floor holds its lift while the engine is still
    # learning, and has none to guard against after that (it heard only silence)
    unknown = 0.0 if subs < LEARN_SUBS else 1.0
    held = 0
    for b in range(NUM_BANDS):
        t = bs.target_db[b] * drift_focus_weight(st.erb[b], low, high)
        wg = 1.0
        if guard > 0.0:
            u = min(max((bs.guard_db[b] - bs.floor_db[b] - guard) * (1.0 / GUARD_FADE_DB), 0.0), 1.0)
            wg = u * u * (3.0 - 2.0 * u) if bs.floor_db[b] < UNKNOWN_DB else unknown
            if wg >= bs.guard_w[b]:
                bs.guard_w[b] = wg
                bs.guard_hold[b] = st.cfg[CFG_HOLD_TICKS]
                t *= wg
            elif bs.guard_hold[b] > 0.0:
                bs.guard_hold[b] -= 1.0
                t = min(t * bs.guard_w[b], bs.lift_db[b])
            else:
                bs.guard_w[b] = wg
                t *= wg
        held += 1 if (wg < 0.5 and bs.target_db[b] > 0.01) else 0
        bs.weight[b] = wg
        bs.target_db[b] = t
    return held


@njit(**KERNEL)
def drift_process(st, p, x, start, count, phase):
    """In place on x[ch, start:start+count]; the segment lies inside one control period.

    The input goes into the line and the analysis bank (levels for the next
    tick); the output is the line read at the lookahead tap, x_D, plus the
    synthesis bank's Σ c_b·BP_b(x_D) faded by the drift_on weight."""
    nch = x.shape[0]
    dry = st.dry
    mask = dry.shape[1] - 1
    pos0 = int(st.misc[M_POS])
    st.misc[M_POS] = float((pos0 + count) & mask)
    for ch in range(nch):
        pk = st.misc[M_PEAK0 + ch]
        for i in range(count):
            v = x[ch, start + i]
            dry[ch, np.uint64((pos0 + i) & mask)] = v
            pk = max(pk, abs(v))
        st.misc[M_PEAK0 + ch] = pk
    for i in range(count):
        r = (phase + i + 1) / CONTROL_BLOCK
        for ch in range(nch):
            st.xd[ch, i] = tap_read(dry, st.tap, ch, pos0 + i, r, mask)
    if st.misc[M_BANK] == 0.0:
        # off: the input delayed by the lookahead, bit-exact, and no bank work
        for ch in range(nch):
            for i in range(count):
                x[ch, start + i] = st.xd[ch, i]
        return
    v = st.fb
    for i in range(count):
        v[R_X * NL + i] = np.float32(x[0, start + i])
        v[R_XD * NL + i] = np.float32(st.xd[0, i])
        v[R_X * NL + CONTROL_BLOCK + i] = np.float32(x[1, start + i]) if nch > 1 else np.float32(0.0)
        v[R_XD * NL + CONTROL_BLOCK + i] = np.float32(st.xd[1, i]) if nch > 1 else np.float32(0.0)
    _analysis_segment(v, count)
    _synthesis_segment(v, phase, count)
    w0 = st.misc[M_W0]
    w1 = st.misc[M_W1]
    for i in range(count):
        # channel 0 on the even lanes of the summed group, channel 1 on the odd
        acc0 = np.float32(0.0)
        acc1 = np.float32(0.0)
        for kk in range(0, GROUP, 2):
            acc0 += v[R_ACC * NL + GROUP * i + kk]
            acc1 += v[R_ACC * NL + GROUP * i + kk + 1]
        w = w1
        if w1 != w0:
            w = w0 + (w1 - w0) * ((phase + i + 1) / CONTROL_BLOCK)
        x[0, start + i] = st.xd[0, i] + w * np.float64(acc0)
        if nch > 1:
            x[1, start + i] = st.xd[1, i] + w * np.float64(acc1)


@njit(**KERNEL)
def _synthesis_segment(v, phase, count):
    """`count` samples of the delayed input through every synthesis filter
    (trapezoidal state-variable band-pass, band output v1), each lane's
    c_b·k_b·v1 (its gain ramping across the segment) summed over the lane
    groups into R_ACC. Lane groups of 16 outside, samples inside: a group's
    states stay in registers from sample to sample."""
    inv = np.float32(1.0 / CONTROL_BLOCK)
    for g in range(NL // GROUP):
        for i in range(count):
            t = np.float32(phase + i + 1) * inv
            x0 = v[R_XD * NL + i]
            x1 = v[R_XD * NL + CONTROL_BLOCK + i]
            for kk in range(GROUP):
                j = g * GROUP + kk
                ic1 = v[R_IC1 * NL + j]
                ic2 = v[R_IC2 * NL + j]
                v3 = (x0 if (j & 1) == 0 else x1) - ic2
                v1 = v[R_A1 * NL + j] * ic1 + v[R_A2 * NL + j] * v3
                v2 = ic2 + v[R_A2 * NL + j] * ic1 + v[R_A3 * NL + j] * v3
                v[R_IC1 * NL + j] = np.float32(2.0) * v1 - ic1
                v[R_IC2 * NL + j] = np.float32(2.0) * v2 - ic2
                y = (v[R_C0 * NL + j] + v[R_DC * NL + j] * t) * v1
                a = R_ACC * NL + GROUP * (i & (CONTROL_BLOCK - 1)) + kk
                v[a] = y if g == 0 else v[a] + y


@njit(**KERNEL)
def _stage(v, k, s, xr, xi, ar, ai):
    """Cascade stage s (1..3) of lane k: y = x + a·y[n−1] (complex), state at rows
    R_S + 2s (real) and R_S + 2s + 1 (imaginary). Stage 0 differs (real input
    scaled by k⁴) and is written out in _analysis_segment."""
    sr = v[(R_S + 2 * s) * NL + k]
    si = v[(R_S + 2 * s + 1) * NL + k]
    yr = xr + ar * sr - ai * si
    yi = xi + ar * si + ai * sr
    v[(R_S + 2 * s) * NL + k] = yr
    v[(R_S + 2 * s + 1) * NL + k] = yi
    return yr, yi


@njit(**KERNEL)
def _analysis_segment(v, count):
    """`count` samples of the undelayed input through every analysis filter of
    both channels (even lanes channel 0, odd lanes channel 1), keeping the
    segment's largest |z|² per lane.

    Lane groups of 16 outside, samples inside: a group's 8 state vectors are
    carried in registers from sample to sample."""
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


@njit(**KERNEL)
def drift_delayed_input(st, ch, i, count):
    """After drift_process of a segment: its sample i's input delayed by DRIFT's
    latency, as DRIFT's output is built on it (listen: what DRIFT adds)."""
    return st.xd[ch, i]
