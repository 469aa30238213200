"""SETTLE: broadband downward compressor (dsp.md, "SETTLE").

Read like Faust's compressors.lib, one small function per block:

    key ─ sc_hpf ─ sc_lpf ─ detector (peak hold | RMS) ─ dB ─ link ─ gain computer
        ─ attack/release ─ smooth ─ gain ─────────────────────────────────┐
    main ─ lookahead delay ──────────────────────────────────────────────── × ─ makeup

Detector. Peak: the maximum of |key| over a short sliding window (at most
PEAK_WINDOW_MS, at most half the release), so a steady tone reads its peak
level with no ripple and the gain computer sees a level, not a waveform. The
hold the window adds to a release is taken out of the release one-pole
(release_ms − window), so the gain still covers 63.2 % of a downward step
after `release`. RMS: sqrt(2·mean(x²)) with a one-pole mean of time constant
`rms_window`; the factor 2 makes a sine read its peak level (AES17).

Ballistics act on the gain reduction in dB (Giannoulis et al. 2012, "smooth
branching"): attack when the target reduction rises, release when it falls,
then `smooth` as one more one-pole (the Kurzweil SmoothTime).

Styles (dsp.md, "SETTLE styles"; `style`): the gain element's character,
each a gain computer, a timing rule and a gain stage:

  clean   everything above, exactly (the fast path below is clean's)
  opto    knee at least OPTO_KNEE_DB; attack time / (1 + overshoot/OVERSHOOT_DB);
          GR = (1 − m)·g_fast + m·g_slow: g_fast releases with `release`, g_slow
          with 10·release (0.5..5 s), m (0..1) charges towards GR/OPTO_DEPTH_DB in
          1.5 s and forgets in 5 s: the longer and harder the work, the slower
          the release
  fet     the clean curve; attack as opto; release·(FET_REL_MIN + m), m as opto
          but charging in 0.3 s and forgetting in 1 s; a cubic gain stage
  varimu  GR = k_lo·V(x − T) + the second segment, V(e) = e − e0·(√π/2)·erf(e/e0):
          the slope falls from 1 at T to 1/R by T + 20 dB (e0 = VARIMU_E0_DB);
          release ×2 and a 15 ms smoothing at least; a square-law gain stage

The gain stages add harmonics that grow with the reduction GR (dB) applied:
with u the delayed signal through a 4th-order Butterworth low-pass at fs/8
(so the harmonics they make of it stay under Nyquist: band-limited, no
oversampling) and E a peak follower of the full-band signal (20 ms fall),
x = u/E and
  fet:    y += E·FET_DRIVE·GR·(0.75·x − x³)        (a sine: 3rd harmonic at FET_DRIVE·GR/4)
  varimu: y += E·VARIMU_DRIVE·GR·(x² − mean(x²))    (2nd harmonic at VARIMU_DRIVE·GR/2;
                                                     the mean over 10 ms keeps DC out)
so a 1 kHz sine at 10 dB of reduction has THD −33 dB (fet) and −42 dB (varimu),
and none without reduction. Switching style fades the gain stages in and out
over STAGE_FADE_MS; the curve and timing change under the ballistics, which
keep the gain continuous.

Feedback: the detector reads SETTLE's own output (the key times the gain
applied at the previous sample). The static curve is inverted with the gain
reduction the loop itself applied, x̂ = L_out + G, so the steady state is the
feed-forward curve for every ratio, ∞ included. The peak window is kept at or
under half the attack there: a hold longer than the attack inside the loop
would overshoot.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from .dsp import (
    CONTROL_BLOCK,
    FASTMATH,
    KERNEL,
    LOG2_10_OVER_20,
    NATIVE_ONLY,
    STAGE_FADE_MS,
    XFADE_MS,
    array_max,
    biquad_tdf2,
    butter2,
    fade_switch,
    fast_exp2,
    fast_lin_to_db,
    fast_power_to_db,
    onepole_coeff,
    pow2_at_least,
    tap_control,
    tap_read,
    tap_reset,
)
from .params import BY_ID, PID, SC_HPF_OFF_HZ, SC_LPF_OFF_HZ

SILENCE = -240.0
PEAK_BUCKET_MS = 6.0          # peak hold bucket: clean peak reading down to 83 Hz
MAX_LOOKAHEAD_MS = BY_ID["lookahead"].max
AUTO_MAKEUP_REF_DB = -18.0    # dsp.md: a -18 dBFS sine comes back at -18 dBFS
RATIO_INF = BY_ID["ratio"].max     # the table's top ratio is ∞:1: the slope is exactly 0

# styles: their indices in the table's choices
S_CLEAN, S_OPTO, S_FET, S_VARIMU = (BY_ID["style"].choices.index(n)
                                    for n in ("clean", "opto", "fet", "varimu"))
OPTO_KNEE_DB = 10.0           # dsp.md: a soft knee of at least 10 dB whatever `knee` says
OVERSHOOT_DB = 10.0           # opto/fet attack time ÷ (1 + overshoot / this)
OPTO_DEPTH_DB = 10.0          # the memory charges towards GR / this (at most 1)
OPTO_SLOW_X = 10.0            # the slow release: this × release, within 0.5..5 s
OPTO_SLOW_MIN_MS, OPTO_SLOW_MAX_MS = 500.0, 5000.0
OPTO_MEM_UP_MS, OPTO_MEM_DOWN_MS = 1500.0, 5000.0
FET_MEM_UP_MS, FET_MEM_DOWN_MS = 300.0, 1000.0
FET_REL_MIN = 0.5             # fet release: release·(0.5 + m): faster after a transient
FET_DRIVE = 0.009             # per dB of GR: 10 dB → 3rd harmonic −33 dB
VARIMU_E0_DB = 7.5            # the slope reaches 1/R within 0.2 % of (1 − 1/R) by T + 20 dB
VARIMU_DRIVE = 0.0016         # per dB of GR: 10 dB → 2nd harmonic −42 dB
VARIMU_REL_X = 2.0
VARIMU_SMOOTH_MS = 15.0
SHAPER_Q = (0.5411961001461970, 1.3065629648763766)   # 4th-order Butterworth as two biquads
SHAPER_ENV_MS = 20.0
SHAPER_DC_MS = 10.0
HALF_SQRT_PI = 0.8862269254527580
UNREAD_DB = 1e300             # no level read yet (no detector level equals it)

# coef[] layout (control-rate values the per-sample loop reads)
(C_ATT, C_REL, C_SMOOTH, C_RMS, C_WIN, C_TLO, C_KLO, C_THI, C_KHI, C_KNEE, C_LINK, C_FB, C_ISRMS,
 C_HPF_ON, C_F0, C_F1, C_MK0, C_MK1, C_AUTO_F, C_XF_STEP, C_FADE_STEP,
 C_LAST_ATT, C_LAST_REL, C_LAST_SMOOTH, C_LAST_RMS, C_LAST_HPF, C_WIN_MS, C_CLEARED,
 C_BUCKET, C_BUCKET_FB, C_REL_FB, C_LAST_T, C_LAST_R, C_LAST_T2, C_LAST_R2, C_AUTO_DB,
 C_LPF_ON, C_LAST_LPF,
 C_STYLE, C_LAST_STYLE, C_FET_F0, C_FET_F1, C_VMU_F0, C_VMU_F1, C_A_SLOW, C_A_MUP, C_A_MDN,
 C_A_FMUP, C_A_FMDN, C_ENV_DEC, C_A_SQ, C_A_VSM, C_SHAPING, C_LEN) = range(54)


class SettleState(NamedTuple):
    coef: np.ndarray           # [C_LEN] control-rate coefficients and caches
    hpf_c: np.ndarray          # [5] sidechain high-pass coefficients
    hpf_z: np.ndarray          # [channels, 2] its state
    lpf_c: np.ndarray          # [5] sidechain low-pass coefficients
    lpf_z: np.ndarray          # [channels, 2] its state
    ms: np.ndarray             # [channels] RMS mean square
    gr: np.ndarray             # [channels] ballistic gain reduction (dB, >= 0)
    gr2: np.ndarray            # [channels] after `smooth` (dB)
    applied: np.ndarray        # [channels] reduction applied at the last sample (dB, faded)
    glin: np.ndarray           # [channels] linear gain reduction applied at the last sample
    level: np.ndarray          # [channels] per-sample scratch: detector level (dB)
    seg_db: np.ndarray         # [CONTROL_BLOCK] scratch: the segment's gain per sample (dB, then linear)
    hold: np.ndarray           # [channels, 2]: peak of the running and of the previous bucket
    n: np.ndarray              # int64[1]: absolute sample index (the buckets' clock)
    line: np.ndarray           # [channels, pow2] lookahead delay line
    line_pos: np.ndarray       # int64[1]
    tap: np.ndarray            # [4] lookahead crossfade (engine/dsp.py tap_*)
    gr_db: np.ndarray          # [channels] meter: applied reduction (dB, positive)
    detector_db: np.ndarray    # [channels] meter: linked detector level (dBFS)
    mem: np.ndarray            # [channels] opto/fet memory m (0..1)
    gslow: np.ndarray          # [channels] opto's slow GR (dB)
    shp_c: np.ndarray          # [2, 5] the gain stages' band-limiting low-pass
    shp_z: np.ndarray          # [2, channels, 2] its states
    shp_env: np.ndarray        # [channels] peak follower E
    shp_sq: np.ndarray         # [channels] mean(x²) (varimu)
    style_lv: np.ndarray       # [channels] the level the style's curve last read
    style_gr: np.ndarray       # [channels] and what it gave


def settle_alloc(samplerate: float, channels: int, max_block: int) -> SettleState:
    line = pow2_at_least(int(math.ceil(MAX_LOOKAHEAD_MS * 1e-3 * samplerate)) + 2)
    return SettleState(
        coef=np.zeros(C_LEN), hpf_c=np.zeros(5), hpf_z=np.zeros((channels, 2)),
        lpf_c=np.zeros(5), lpf_z=np.zeros((channels, 2)),
        ms=np.zeros(channels), gr=np.zeros(channels), gr2=np.zeros(channels),
        applied=np.zeros(channels), glin=np.ones(channels), level=np.zeros(channels),
        seg_db=np.zeros(CONTROL_BLOCK),
        hold=np.zeros((channels, 2)), n=np.zeros(1, np.int64),
        line=np.zeros((channels, line)), line_pos=np.zeros(1, np.int64), tap=np.zeros(4),
        gr_db=np.zeros(channels), detector_db=np.full(channels, -240.0),
        mem=np.zeros(channels), gslow=np.zeros(channels), shp_c=np.zeros((2, 5)),
        shp_z=np.zeros((2, channels, 2)), shp_env=np.zeros(channels), shp_sq=np.zeros(channels),
        style_lv=np.full(channels, UNREAD_DB), style_gr=np.zeros(channels))


# --- gain computer (shared with engine/curve.py: one implementation) --------

@njit(**KERNEL)
def knee_excess_db(x_db, threshold_db, knee_db):
    """How far x is over the threshold, with the quadratic knee: 0 below
    T − W/2, (x − T + W/2)²/(2W) inside the knee, x − T above."""
    d = x_db - threshold_db
    if knee_db <= 0.0:
        return d if d > 0.0 else 0.0
    h = 0.5 * knee_db
    if d <= -h:
        return 0.0
    if d >= h:
        return d
    e = d + h
    return e * e / (2.0 * knee_db)


@njit(**KERNEL)
def inv_ratio(ratio):
    """1/R, with ratio 100 meaning ∞ (slope exactly 0)."""
    if ratio >= RATIO_INF:
        return 0.0
    return 1.0 / ratio


@njit(cache=True, fastmath=FASTMATH, **NATIVE_ONLY)
def settle_segments(threshold_db, ratio, threshold2_db, ratio2):
    """(T_lo, k_lo, T_hi, k_hi) of the two-segment curve: the pairs are
    interchangeable; k_lo = 1 − 1/R_lo, k_hi = (1/R_lo)(1 − 1/R_hi), so the
    slope is 1/R_lo between the thresholds and 1/(R_lo·R_hi) above T_hi."""
    if threshold2_db < threshold_db:
        t_lo, r_lo, t_hi, r_hi = threshold2_db, ratio2, threshold_db, ratio
    else:
        t_lo, r_lo, t_hi, r_hi = threshold_db, ratio, threshold2_db, ratio2
    i_lo = inv_ratio(r_lo)
    return t_lo, 1.0 - i_lo, t_hi, i_lo * (1.0 - inv_ratio(r_hi))


@njit(**KERNEL)
def settle_gr_db(x_db, t_lo, k_lo, t_hi, k_hi, knee_db):
    """Static gain reduction (dB, >= 0) for detector level x_db:
    GR = k_lo·E(x; T_lo, W) + k_hi·E(x; T_hi, W), E = knee_excess_db. Each
    knee interpolates the slope linearly (Giannoulis/Massberg/Reiss 2012)."""
    return (k_lo * knee_excess_db(x_db, t_lo, knee_db)
            + k_hi * knee_excess_db(x_db, t_hi, knee_db))


@njit(**KERNEL)
def varimu_excess_db(x_db, threshold_db):
    """V(e) = e − e0·(√π/2)·erf(e/e0) for e = x − T > 0: its slope
    1 − exp(−(e/e0)²) rises from 0 at the threshold to 1 (the full ratio)."""
    e = x_db - threshold_db
    if e <= 0.0:
        return 0.0
    return e - VARIMU_E0_DB * HALF_SQRT_PI * math.erf(e / VARIMU_E0_DB)


@njit(**KERNEL)
def settle_style_gr_db(x_db, t_lo, k_lo, t_hi, k_hi, knee_db, style):
    """The static curve of a style: clean's, opto's with its soft knee, or
    varimu's ratio rising with level on the first segment."""
    if style == S_VARIMU:
        return k_lo * varimu_excess_db(x_db, t_lo) + k_hi * knee_excess_db(x_db, t_hi, knee_db)
    if style == S_OPTO and knee_db < OPTO_KNEE_DB:
        knee_db = OPTO_KNEE_DB
    return settle_gr_db(x_db, t_lo, k_lo, t_hi, k_hi, knee_db)


@njit(cache=True, fastmath=FASTMATH, **NATIVE_ONLY)
def settle_static_gr_db(x_db, p):
    """Static gain reduction for level x_db with the parameter vector p."""
    t_lo, k_lo, t_hi, k_hi = settle_segments(p[PID.threshold], p[PID.ratio],
                                             p[PID.threshold2], p[PID.ratio2])
    return settle_style_gr_db(x_db, t_lo, k_lo, t_hi, k_hi, p[PID.knee], int(p[PID.style]))


@njit(cache=True, fastmath=FASTMATH, **NATIVE_ONLY)
def settle_auto_makeup_db(p):
    """The gain that brings a steady AUTO_MAKEUP_REF_DB sine back to itself."""
    return settle_static_gr_db(AUTO_MAKEUP_REF_DB, p)


# --- stage API ----------------------------------------------------------------

@njit(cache=True)
def settle_latency(samplerate, lookahead_ms):
    """Samples the lookahead adds to the main path."""
    return int(math.floor(lookahead_ms * 0.001 * samplerate + 0.5))


@njit(cache=True)
def settle_reset(st):
    st.coef[:] = 0.0
    st.coef[C_LAST_ATT] = -1.0          # forces the first coefficient update
    st.hpf_z[:] = 0.0
    st.lpf_z[:] = 0.0
    _clear_detector(st)
    st.n[0] = 0
    st.line[:] = 0.0
    st.line_pos[0] = 0
    tap_reset(st.tap, 0.0)
    st.gr_db[:] = 0.0
    st.detector_db[:] = -240.0


@njit(cache=True, **NATIVE_ONLY)
def _clear_detector(st):
    st.ms[:] = 0.0
    st.gr[:] = 0.0
    st.gr2[:] = 0.0
    st.applied[:] = 0.0
    st.glin[:] = 1.0
    st.hold[:] = 0.0
    st.mem[:] = 0.0
    st.gslow[:] = 0.0
    _clear_shaper(st)


@njit(**KERNEL)
def _clear_shaper(st):
    st.shp_z[:] = 0.0
    st.shp_env[:] = 0.0
    st.shp_sq[:] = 0.0


@njit(**KERNEL)
def settle_control(st, p, samplerate):
    c = st.coef
    first = c[C_LAST_ATT] < 0.0
    if first:
        # after reset: switches start where their parameters are, no fade-in
        c[C_FADE_STEP] = CONTROL_BLOCK * 1000.0 / (STAGE_FADE_MS * samplerate)
        c[C_XF_STEP] = CONTROL_BLOCK * 1000.0 / (XFADE_MS * samplerate)
        c[C_F1] = 1.0 if p[PID.settle_on] >= 0.5 else 0.0
        c[C_AUTO_F] = 1.0 if p[PID.auto_makeup] >= 0.5 else 0.0
        tap_reset(st.tap, float(settle_latency(samplerate, p[PID.lookahead])))
        c[C_A_MUP] = onepole_coeff(OPTO_MEM_UP_MS, samplerate)
        c[C_A_MDN] = onepole_coeff(OPTO_MEM_DOWN_MS, samplerate)
        c[C_A_FMUP] = onepole_coeff(FET_MEM_UP_MS, samplerate)
        c[C_A_FMDN] = onepole_coeff(FET_MEM_DOWN_MS, samplerate)
        c[C_ENV_DEC] = 1.0 - onepole_coeff(SHAPER_ENV_MS, samplerate)
        c[C_A_SQ] = onepole_coeff(SHAPER_DC_MS, samplerate)
        c[C_A_VSM] = onepole_coeff(VARIMU_SMOOTH_MS, samplerate)
        for k in range(2):
            _lowpass_q(samplerate / 8.0, samplerate, SHAPER_Q[k], st.shp_c[k])
        style = int(p[PID.style])
        c[C_STYLE] = c[C_LAST_STYLE] = style
        c[C_FET_F1] = 1.0 if style == S_FET else 0.0
        c[C_VMU_F1] = 1.0 if style == S_VARIMU else 0.0
    # times: recomputed only when they move (the exps are the costly part)
    if (p[PID.attack] != c[C_LAST_ATT] or p[PID.release] != c[C_LAST_REL]
            or p[PID.smooth] != c[C_LAST_SMOOTH] or p[PID.rms_window] != c[C_LAST_RMS]):
        att, rel = p[PID.attack], p[PID.release]
        # bucket B (a whole number of control blocks): the hold spans B..2B, 1.5·B on average
        bucket_ms = min(PEAK_BUCKET_MS, rel / 8.0)
        blocks = max(1.0, math.floor(bucket_ms * 1e-3 * samplerate / CONTROL_BLOCK + 0.5))
        c[C_BUCKET] = blocks
        win_ms = 1.5 * blocks * CONTROL_BLOCK * 1000.0 / samplerate
        c[C_ATT] = onepole_coeff(att, samplerate)
        c[C_REL] = onepole_coeff(rel - win_ms, samplerate)    # the hold already took win_ms
        # inside the feedback loop the hold must stay well under the attack (overshoot otherwise)
        blocks_fb = max(1.0, min(blocks, math.floor(0.1 * att * 1e-3 * samplerate
                                                     / CONTROL_BLOCK)))
        c[C_BUCKET_FB] = blocks_fb
        c[C_REL_FB] = onepole_coeff(rel - 1.5 * blocks_fb * CONTROL_BLOCK * 1000.0 / samplerate,
                                    samplerate)
        c[C_SMOOTH] = onepole_coeff(p[PID.smooth], samplerate)
        c[C_A_SLOW] = onepole_coeff(min(OPTO_SLOW_MAX_MS, max(OPTO_SLOW_MIN_MS, OPTO_SLOW_X * rel)),
                                    samplerate)
        c[C_RMS] = onepole_coeff(p[PID.rms_window], samplerate)
        c[C_WIN_MS] = win_ms
        c[C_LAST_ATT], c[C_LAST_REL] = att, rel
        c[C_LAST_SMOOTH], c[C_LAST_RMS] = p[PID.smooth], p[PID.rms_window]
    c[C_ISRMS] = 1.0 if p[PID.detector] >= 0.5 else 0.0
    c[C_FB] = 1.0 if p[PID.topology] >= 0.5 else 0.0
    # peak hold: at each bucket boundary the running bucket becomes the previous one
    blocks = c[C_BUCKET_FB] if c[C_FB] != 0.0 else c[C_BUCKET]
    c[C_WIN] += 1.0
    if c[C_WIN] >= blocks:
        c[C_WIN] = 0.0
        for ch in range(st.hold.shape[0]):
            st.hold[ch, 1] = st.hold[ch, 0]
            st.hold[ch, 0] = 0.0
    _key_filter(c, p[PID.sc_hpf], p[PID.sc_hpf] > SC_HPF_OFF_HZ, C_LAST_HPF, C_HPF_ON, st.hpf_c,
                st.hpf_z, True, samplerate)
    _key_filter(c, p[PID.sc_lpf], p[PID.sc_lpf] < SC_LPF_OFF_HZ, C_LAST_LPF, C_LPF_ON, st.lpf_c,
                st.lpf_z, False, samplerate)
    if (p[PID.threshold] != c[C_LAST_T] or p[PID.ratio] != c[C_LAST_R]
            or p[PID.threshold2] != c[C_LAST_T2] or p[PID.ratio2] != c[C_LAST_R2]
            or p[PID.knee] != c[C_KNEE] or p[PID.style] != c[C_LAST_STYLE] or first):
        t_lo, k_lo, t_hi, k_hi = settle_segments(p[PID.threshold], p[PID.ratio],
                                                 p[PID.threshold2], p[PID.ratio2])
        c[C_TLO], c[C_KLO], c[C_THI], c[C_KHI], c[C_KNEE] = t_lo, k_lo, t_hi, k_hi, p[PID.knee]
        c[C_LAST_T], c[C_LAST_R] = p[PID.threshold], p[PID.ratio]
        c[C_LAST_T2], c[C_LAST_R2] = p[PID.threshold2], p[PID.ratio2]
        style = int(p[PID.style])
        if style == S_OPTO and c[C_LAST_STYLE] != S_OPTO:
            # the slow part starts where the gain is, with nothing remembered
            for ch in range(st.gr.shape[0]):
                st.gslow[ch] = st.gr[ch]
                st.mem[ch] = 0.0
        c[C_STYLE] = c[C_LAST_STYLE] = style
        st.style_lv[:] = UNREAD_DB       # the curve moved: read it afresh
        c[C_AUTO_DB] = settle_style_gr_db(AUTO_MAKEUP_REF_DB, t_lo, k_lo, t_hi, k_hi, p[PID.knee],
                                          style)
    c[C_LINK] = p[PID.link] * 0.01
    # on/off and auto makeup fade; makeup ramps linearly in dB across the segment
    c[C_F0] = c[C_F1]
    c[C_F1] = fade_switch(c[C_F1], p[PID.settle_on], c[C_FADE_STEP])
    c[C_AUTO_F] = fade_switch(c[C_AUTO_F], p[PID.auto_makeup], c[C_FADE_STEP])
    c[C_FET_F0], c[C_VMU_F0] = c[C_FET_F1], c[C_VMU_F1]
    c[C_FET_F1] = fade_switch(c[C_FET_F1], 1.0 if c[C_STYLE] == S_FET else 0.0, c[C_FADE_STEP])
    c[C_VMU_F1] = fade_switch(c[C_VMU_F1], 1.0 if c[C_STYLE] == S_VARIMU else 0.0, c[C_FADE_STEP])
    shaping = c[C_FET_F0] + c[C_FET_F1] + c[C_VMU_F0] + c[C_VMU_F1] != 0.0
    if c[C_SHAPING] != 0.0 and not shaping:
        _clear_shaper(st)         # a gain stage faded in later starts from rest
    c[C_SHAPING] = 1.0 if shaping else 0.0
    mk = p[PID.makeup] + c[C_AUTO_F] * c[C_AUTO_DB]
    c[C_MK0] = mk if first else c[C_MK1]
    c[C_MK1] = mk
    tap_control(st.tap, float(settle_latency(samplerate, p[PID.lookahead])), c[C_XF_STEP])
    # state flushing (rule 7): decays towards 0 must end at 0, not in subnormals
    for ch in range(st.gr.shape[0]):
        if st.gr[ch] < 1e-12:
            st.gr[ch] = 0.0
        if st.gr2[ch] < 1e-12:
            st.gr2[ch] = 0.0
        if st.ms[ch] < 1e-30:
            st.ms[ch] = 0.0
        if st.gslow[ch] < 1e-12:
            st.gslow[ch] = 0.0
        if st.mem[ch] < 1e-12:
            st.mem[ch] = 0.0
        if st.shp_env[ch] < 1e-30:
            st.shp_env[ch] = 0.0
        for k in range(2):
            for j in range(2):
                if abs(st.shp_z[k, ch, j]) < 1e-30:
                    st.shp_z[k, ch, j] = 0.0
        for k in range(2):
            if abs(st.hpf_z[ch, k]) < 1e-30:
                st.hpf_z[ch, k] = 0.0
            if abs(st.lpf_z[ch, k]) < 1e-30:
                st.lpf_z[ch, k] = 0.0


@njit(**KERNEL)
def _key_filter(c, hz, on, last, flag, coef, z, highpass, samplerate):
    """One of the key's filters at a tick: redesigned when its frequency moved;
    off (at its table end) it is skipped and its state cleared."""
    if on:
        if hz != c[last]:
            butter2(hz, samplerate, coef, highpass)
            c[last] = hz
        c[flag] = 1.0
    elif c[flag] != 0.0:
        c[flag] = 0.0
        for ch in range(z.shape[0]):
            z[ch, 0] = 0.0
            z[ch, 1] = 0.0


@njit(**KERNEL)
def _lowpass_q(cutoff_hz, samplerate, q, out):
    """RBJ low-pass biquad (bilinear, prewarped) with quality q into out[0:5]."""
    w0 = 2.0 * math.pi * cutoff_hz / samplerate
    cw = math.cos(w0)
    alpha = math.sin(w0) / (2.0 * q)
    a0 = 1.0 + alpha
    out[0] = (1.0 - cw) * 0.5 / a0
    out[1] = (1.0 - cw) / a0
    out[2] = out[0]
    out[3] = -2.0 * cw / a0
    out[4] = (1.0 - alpha) / a0


@njit(**KERNEL)
def _delay_only(st, x, start, count, phase):
    """settle_on fully off: the (lookahead-delayed) signal passes untouched."""
    line = st.line
    mask = line.shape[1] - 1
    pos = st.line_pos[0]
    tap = st.tap
    d_cur = np.int64(tap[1])
    d_prev = np.int64(tap[0])
    w0, w1 = tap[2], tap[3]
    fading = w0 < 1.0 or w1 < 1.0
    for ch in range(x.shape[0]):
        for i in range(count):
            wp = pos + i
            line[ch, wp & mask] = x[ch, start + i]
            d = line[ch, (wp - d_cur) & mask]
            if fading:
                w = w0 + (w1 - w0) * ((phase + i + 1) / CONTROL_BLOCK)
                d = w * d + (1.0 - w) * line[ch, (wp - d_prev) & mask]
            x[ch, start + i] = d
    st.line_pos[0] = pos + count


@njit(**KERNEL)
def settle_process(st, p, x, key, start, count, phase):
    """Compress x[:, start:start+count] in place, detecting on key (same rows)."""
    c = st.coef
    f0, f1 = c[C_F0], c[C_F1]
    if f0 == 0.0 and f1 == 0.0:
        # the detector restarts from rest when switched on again
        if c[C_CLEARED] == 0.0:
            _clear_detector(st)
            st.gr_db[:] = 0.0
            c[C_CLEARED] = 1.0
        _delay_only(st, x, start, count, phase)
        st.n[0] += count
        return
    c[C_CLEARED] = 0.0
    _compress(x, key, start, count, phase, c, st.hpf_c, st.hpf_z, st.lpf_c, st.lpf_z,
              st.ms, st.gr, st.gr2,
              st.applied, st.glin, st.level, st.hold, st.seg_db, st.n,
              st.line, st.line_pos, st.tap, st.detector_db, st)
    for ch in range(x.shape[0]):
        st.gr_db[ch] = st.applied[ch]


@njit(**KERNEL)
def _compress(x, key, start, count, phase, c, hpf_c, hpf_z, lpf_c, lpf_z, ms, gr, gr2, applied,
              glin, lvl,
              hold, seg_db, nclock, line, line_pos, tap, detector_db, st):
    nch = x.shape[0]
    mask = line.shape[1] - 1
    pos = line_pos[0]
    d_cur = np.int64(tap[1])
    d_prev = np.int64(tap[0])
    w0, w1 = tap[2], tap[3]
    fading = w0 < 1.0 or w1 < 1.0
    f0, f1 = c[C_F0], c[C_F1]
    a_att, a_rel, a_sm, a_rms = c[C_ATT], c[C_REL], c[C_SMOOTH], c[C_RMS]
    fb = c[C_FB] != 0.0
    if fb:
        a_rel = c[C_REL_FB]
    t_lo, k_lo, t_hi, k_hi, knee = c[C_TLO], c[C_KLO], c[C_THI], c[C_KHI], c[C_KNEE]
    link = c[C_LINK]
    is_rms = c[C_ISRMS] != 0.0
    hpf_on = c[C_HPF_ON] != 0.0
    lpf_on = c[C_LPF_ON] != 0.0
    mk0, mk1 = c[C_MK0], c[C_MK1]
    n0 = nclock[0]
    inv_cb = 1.0 / CONTROL_BLOCK
    style = int(c[C_STYLE])
    shaping = c[C_SHAPING] != 0.0
    if (link == 1.0 and not fb and not is_rms and not hpf_on and not lpf_on and not fading
            and style == S_CLEAN and not shaping):
        _compress_linked_peak(x, key, start, count, phase, c, gr, gr2, applied, hold, seg_db, line,
                              pos, d_cur, detector_db)
        line_pos[0] = pos + count
        nclock[0] = n0 + count
        return
    for i in range(count):
        r = (phase + i + 1) * inv_cb
        f = f0 + (f1 - f0) * r
        mk = f * (mk0 + (mk1 - mk0) * r)
        # detector: level in dBFS per channel
        mx = -1e300
        for ch in range(nch):
            k = key[ch, start + i]
            if hpf_on:
                k = biquad_tdf2(hpf_c, hpf_z, ch, k)
            if lpf_on:
                k = biquad_tdf2(lpf_c, lpf_z, ch, k)
            if fb:
                k *= glin[ch]
            if is_rms:
                m = ms[ch] + a_rms * (k * k - ms[ch])
                ms[ch] = m
                lv = fast_power_to_db(2.0 * m)      # 2·mean(x²): a sine reads its peak
            else:
                a = abs(k)
                if a > hold[ch, 0]:
                    hold[ch, 0] = a
                lv = fast_lin_to_db(max(hold[ch, 0], hold[ch, 1]))
            if fb:
                lv += applied[ch]                   # invert the curve with the gain the loop applied
            lvl[ch] = lv
            if lv > mx:
                mx = lv
        wp = pos + i
        for ch in range(nch):
            # link: (1 − link)·own + link·max, in dB
            lv = lvl[ch] + link * (mx - lvl[ch])
            if style == S_CLEAN:
                target = settle_gr_db(lv, t_lo, k_lo, t_hi, k_hi, knee)
                g = gr[ch]
                if target > g:
                    g += a_att * (target - g)
                else:
                    g += a_rel * (target - g)
                gr[ch] = g
                g2 = gr2[ch] + a_sm * (g - gr2[ch])
            else:
                # the curve (an erf for varimu) only when the level moved: a held
                # peak moves rarely
                if lv != st.style_lv[ch]:
                    st.style_lv[ch] = lv
                    st.style_gr[ch] = settle_style_gr_db(lv, t_lo, k_lo, t_hi, k_hi, knee, style)
                target = st.style_gr[ch]
                g2 = gr2[ch] + _style_ballistics(st, c, ch, target, style, a_att, a_rel, a_sm)
            gr2[ch] = g2
            ap = f * g2
            applied[ch] = ap
            if fb:
                glin[ch] = fast_exp2(-LOG2_10_OVER_20 * ap)
            gain = fast_exp2(LOG2_10_OVER_20 * (mk - ap))
            # lookahead: the gain computed now meets the sample from d_cur ago
            line[ch, wp & mask] = x[ch, start + i]
            d = line[ch, (wp - d_cur) & mask]
            if fading:
                w = w0 + (w1 - w0) * r
                d = w * d + (1.0 - w) * line[ch, (wp - d_prev) & mask]
            if shaping:
                d += _gain_stage(st, c, ch, d, ap, r)
            x[ch, start + i] = d * gain
            detector_db[ch] = lv
    line_pos[0] = pos + count
    nclock[0] = n0 + count


@njit(**KERNEL)
def _style_ballistics(st, c, ch, target, style, a_att, a_rel, a_sm):
    """One sample of opto's, fet's or varimu's timing (module docstring); updates
    gr (and opto's slow part and the memory) and returns the smoothing step
    that gr2 takes."""
    g = st.gr[ch]
    over = target - g
    m = st.mem[ch]
    if over > 0.0:
        a = a_att
        if style != S_VARIMU:
            a = min(1.0, a_att * (1.0 + over * (1.0 / OVERSHOOT_DB)))
        g += a * over
        if style == S_OPTO:
            st.gslow[ch] += a * (target - st.gslow[ch])
    else:
        a = a_rel
        if style == S_FET:
            a = min(1.0, a_rel / (FET_REL_MIN + m))
        elif style == S_VARIMU:
            a = a_rel * (1.0 / VARIMU_REL_X)
        g += a * over
        if style == S_OPTO:
            gs = st.gslow[ch]
            st.gslow[ch] = gs + (a if target > gs else c[C_A_SLOW]) * (target - gs)
    st.gr[ch] = g
    if style == S_VARIMU:
        return min(a_sm, c[C_A_VSM]) * (g - st.gr2[ch])
    u = min(1.0, g * (1.0 / OPTO_DEPTH_DB))
    if style == S_OPTO:
        st.mem[ch] = m + (c[C_A_MUP] if u > m else c[C_A_MDN]) * (u - m)
        g = (1.0 - m) * g + m * st.gslow[ch]
    else:
        st.mem[ch] = m + (c[C_A_FMUP] if u > m else c[C_A_FMDN]) * (u - m)
    return a_sm * (g - st.gr2[ch])


@njit(**KERNEL)
def _gain_stage(st, c, ch, d, gr_db, r):
    """What fet's and varimu's gain stages add to the delayed sample d at a
    reduction of gr_db (module docstring), faded with the style."""
    u = biquad_tdf2(st.shp_c[0], st.shp_z[0], ch, d)
    u = biquad_tdf2(st.shp_c[1], st.shp_z[1], ch, u)
    e = st.shp_env[ch] * c[C_ENV_DEC]
    a = abs(d)
    e = a if a > e else e
    st.shp_env[ch] = e
    if e < 1e-30:
        return 0.0
    xn = u / e
    wf = c[C_FET_F0] + (c[C_FET_F1] - c[C_FET_F0]) * r
    wv = c[C_VMU_F0] + (c[C_VMU_F1] - c[C_VMU_F0]) * r
    h = 0.0
    if wf != 0.0:
        h += wf * FET_DRIVE * gr_db * (0.75 * xn - xn * xn * xn)
    if wv != 0.0:
        q = xn * xn
        sq = st.shp_sq[ch] + c[C_A_SQ] * (q - st.shp_sq[ch])
        st.shp_sq[ch] = sq
        h += wv * VARIMU_DRIVE * gr_db * (q - sq)
    return e * h


@njit(**KERNEL)
def _compress_linked_peak(x, key, start, count, phase, c, gr, gr2, applied, hold, seg_db, line, pos,
                          d_cur, detector_db):
    """The common case (peak, feed-forward, link 100 %, no sidechain filter): every
    channel gets the same gain, so the detector max, log, gain computer,
    ballistics and exp run once per sample instead of once per channel. The
    ballistics are a recursion, sample by sample; the exps are not, and run
    afterwards over the segment in one loop that vectorises."""
    nch = x.shape[0]
    mask = line.shape[1] - 1
    f0, f1 = c[C_F0], c[C_F1]
    a_att, a_rel, a_sm = c[C_ATT], c[C_REL], c[C_SMOOTH]
    t_lo, k_lo, t_hi, k_hi, knee = c[C_TLO], c[C_KLO], c[C_THI], c[C_KHI], c[C_KNEE]
    mk0, mk1 = c[C_MK0], c[C_MK1]
    g = gr[0]
    g2 = gr2[0]
    h0 = 0.0
    h1 = 0.0
    for ch in range(nch):
        h0 = max(h0, hold[ch, 0])
        h1 = max(h1, hold[ch, 1])
    inv_cb = 1.0 / CONTROL_BLOCK
    ap = 0.0
    last = max(h0, h1)
    lv = fast_lin_to_db(last)
    target = settle_gr_db(lv, t_lo, k_lo, t_hi, k_hi, knee)
    stereo = nch == 2
    for i in range(count):
        r = (phase + i + 1) * inv_cb
        f = f0 + (f1 - f0) * r
        mk = f * (mk0 + (mk1 - mk0) * r)
        j = start + i
        if stereo:
            # written out: a channel loop of unknown length costs more than the work in it
            h0 = max(h0, max(abs(key[0, j]), abs(key[1, j])))
        else:
            for ch in range(nch):
                h0 = max(h0, abs(key[ch, j]))
        held = max(h0, h1)
        if held != last:
            # the held peak only moves on a new maximum: log and curve run that rarely
            last = held
            lv = fast_lin_to_db(held)
            target = settle_gr_db(lv, t_lo, k_lo, t_hi, k_hi, knee)
        g += (a_att if target > g else a_rel) * (target - g)
        g2 += a_sm * (g - g2)
        ap = f * g2
        seg_db[i] = mk - ap
    for i in range(count):
        seg_db[i] = fast_exp2(LOG2_10_OVER_20 * seg_db[i])
    for i in range(count):
        j = start + i
        gain = seg_db[i]
        wp = pos + i
        rp = (wp - d_cur) & mask
        wp &= mask
        if stereo:
            line[0, wp] = x[0, j]
            line[1, wp] = x[1, j]
            x[0, j] = line[0, rp] * gain
            x[1, j] = line[1, rp] * gain
        else:
            for ch in range(nch):
                line[ch, wp] = x[ch, j]
                x[ch, j] = line[ch, rp] * gain
    for ch in range(nch):
        # the per-channel state stays coherent for a later switch to partial link
        hold[ch, 0] = max(hold[ch, 0], h0) if nch == 1 else h0
        hold[ch, 1] = max(hold[ch, 1], h1)
        gr[ch] = g
        gr2[ch] = g2
        applied[ch] = ap
        detector_db[ch] = lv


@njit(**KERNEL)
def settle_meter_gr_db(st):
    return array_max(st.gr_db)


@njit(**KERNEL)
def settle_meter_detector_db(st):
    return array_max(st.detector_db)


# --- what listen (engine/chain.py) reads ----------------------------------------

@njit(**KERNEL)
def settle_delayed_input(st, ch, i, count, phase):
    """After settle_process of a segment of `count`: its sample i's input as the
    lookahead delayed it (the signal the gain met)."""
    mask = st.line.shape[1] - 1
    return tap_read(st.line, st.tap, ch, st.line_pos[0] - count + i, (phase + i + 1) / CONTROL_BLOCK,
                    mask)


@njit(**KERNEL)
def settle_makeup_db(st, i, phase):
    """The makeup (dB) sample i of the segment got, faded with settle_on."""
    c = st.coef
    r = (phase + i + 1) / CONTROL_BLOCK
    return (c[C_F0] + (c[C_F1] - c[C_F0]) * r) * (c[C_MK0] + (c[C_MK1] - c[C_MK0]) * r)


@njit(**KERNEL)
def settle_key_filters(st, z, ch, k):
    """The key sample k through SETTLE's sidechain filters as its detector has
    them, with the listener's own states z[2, channels, 2]."""
    if st.coef[C_HPF_ON] != 0.0:
        k = biquad_tdf2(st.hpf_c, z[0], ch, k)
    if st.coef[C_LPF_ON] != 0.0:
        k = biquad_tdf2(st.lpf_c, z[1], ch, k)
    return k
