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

Cost (dsp.md budget: a few ns per stereo frame): the sliding maximum is a van
Herk / Gil-Werman window maximum (engine/dsp.py, constant work per sample);
the held level changes rarely (it is a maximum over at least 10 ms), so its dB
value and static GR are recomputed only when it moves, and only below the
threshold (compared in linear terms above it); the ballistic GR snaps to its
target once within SNAP_DB, after which the gain -- and its exp -- stays put.
A segment held above the threshold with no reduction left (open), or below
T − range/(R − 1) with the whole range settled (shut), skips the per-sample
gain computer altogether.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from .dsp import (
    CONTROL_BLOCK,
    KERNEL,
    LOG2_10_OVER_20,
    NATIVE_ONLY,
    STAGE_FADE_MS,
    array_max,
    biquad_tdf2,
    butter2,
    fast_exp2,
    fast_lin_to_db,
    onepole_coeff,
    winmax_alloc,
    winmax_block,
    winmax_reset,
)
from .params import BY_ID, PID, SC_HPF_OFF_HZ

MIN_WINDOW_MS = 10.0          # the shortest peak window: clean down to 50 Hz
MAX_HOLD_MS = 500.0           # parameters.md
RATIO_GATE = BY_ID["gate_ratio"].max    # the table's top ratio is a gate (∞:1)
SNAP_DB = 1e-6                # ballistics end: far below any audible or measurable step

(C_ATT, C_REL, C_WIN, C_T, C_R, C_RANGE, C_HPF_ON, C_F0, C_F1, C_FADE_STEP,
 C_LAST_ATT, C_LAST_REL, C_LAST_HOLD, C_LAST_HPF, C_T_LIN, C_FULL_LIN, C_LEN) = range(17)


class GateState(NamedTuple):
    coef: np.ndarray           # [C_LEN]
    hpf_c: np.ndarray          # [5]
    hpf_z: np.ndarray          # [channels, 2]
    gr: np.ndarray             # [1] ballistic gain reduction (dB, shared by the channels)
    wm_vals: np.ndarray        # window maximum (engine/dsp.py winmax_*), linked
    wm_suf: np.ndarray
    wm_blk: np.ndarray
    wm_pre: np.ndarray
    level: np.ndarray          # [CONTROL_BLOCK] scratch: key level per sample of a segment
    held: np.ndarray           # [CONTROL_BLOCK] scratch: its window maximum
    gain: np.ndarray           # [CONTROL_BLOCK] scratch: applied GR (dB), then linear gain
    n: np.ndarray              # int64[1] absolute sample index
    gr_db: np.ndarray          # [channels] meter: applied reduction (dB, >= 0)


def gate_alloc(samplerate: float, channels: int, max_block: int) -> GateState:
    win = int(math.ceil(max(MAX_HOLD_MS, MIN_WINDOW_MS) * 1e-3 * samplerate)) + 1
    vals, suf, blk, pre = winmax_alloc(win)
    return GateState(coef=np.zeros(C_LEN), hpf_c=np.zeros(5), hpf_z=np.zeros((channels, 2)),
                     gr=np.zeros(1), wm_vals=vals, wm_suf=suf, wm_blk=blk, wm_pre=pre,
                     level=np.zeros(CONTROL_BLOCK), held=np.zeros(CONTROL_BLOCK),
                     gain=np.zeros(CONTROL_BLOCK),
                     n=np.zeros(1, np.int64), gr_db=np.zeros(channels))


@njit(**KERNEL)
def gate_gr_db(x_db, threshold_db, ratio, range_db):
    """Static gain reduction (dB, >= 0) of the expander for level x_db."""
    if x_db >= threshold_db:
        return 0.0
    if ratio >= RATIO_GATE:
        return range_db
    return min((ratio - 1.0) * (threshold_db - x_db), range_db)


@njit(cache=True, **NATIVE_ONLY)
def gate_reset(st):
    st.coef[:] = 0.0
    st.coef[C_LAST_ATT] = -1.0
    st.hpf_z[:] = 0.0
    st.gr[:] = 0.0
    winmax_reset(st.wm_vals, st.wm_suf, st.wm_blk, st.wm_pre)
    st.n[0] = 0
    st.gr_db[:] = 0.0


@njit(**KERNEL)
def gate_control(st, p, samplerate):
    c = st.coef
    if c[C_LAST_ATT] < 0.0:
        c[C_FADE_STEP] = CONTROL_BLOCK * 1000.0 / (STAGE_FADE_MS * samplerate)
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
    t, ratio, rng = p[PID.gate_threshold], p[PID.gate_ratio], p[PID.gate_range]
    if t != c[C_T] or ratio != c[C_R] or rng != c[C_RANGE] or c[C_T_LIN] == 0.0:
        c[C_T_LIN] = fast_exp2(LOG2_10_OVER_20 * t)
        # below this level the reduction is the whole range: T − range/(R − 1)
        if ratio >= RATIO_GATE:
            c[C_FULL_LIN] = c[C_T_LIN]
        elif ratio > 1.0:
            c[C_FULL_LIN] = fast_exp2(LOG2_10_OVER_20 * (t - rng / (ratio - 1.0)))
        else:
            c[C_FULL_LIN] = 0.0
    c[C_T], c[C_R], c[C_RANGE] = t, ratio, rng
    if p[PID.sc_hpf] > SC_HPF_OFF_HZ:
        if p[PID.sc_hpf] != c[C_LAST_HPF]:
            butter2(p[PID.sc_hpf], samplerate, st.hpf_c, True)
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
    if c[C_F0] == 0.0 and c[C_F1] == 0.0 and st.wm_blk[1] != 0:
        # fully off: forget the detector, so switching on starts from an open gate
        st.gr[0] = 0.0
        st.gr_db[:] = 0.0
        winmax_reset(st.wm_vals, st.wm_suf, st.wm_blk, st.wm_pre)
    if st.gr[0] < 1e-12:
        st.gr[0] = 0.0
    for ch in range(st.hpf_z.shape[0]):
        for k in range(2):
            if abs(st.hpf_z[ch, k]) < 1e-30:
                st.hpf_z[ch, k] = 0.0


@njit(**KERNEL)
def gate_process(st, p, x, key, start, count, phase):
    """Expand x[:, start:start+count] in place, detecting on key (which may be x)."""
    c = st.coef
    f0, f1 = c[C_F0], c[C_F1]
    nch = x.shape[0]
    if f0 == 0.0 and f1 == 0.0:
        return
    lowest, highest = _gate_detect(st, key, start, count)
    g = st.gr[0]
    if g == 0.0 and lowest >= c[C_T_LIN]:
        # open all through the segment (the common case): no reduction, unity gain
        for ch in range(nch):
            st.gr_db[ch] = 0.0
        return
    if g == c[C_RANGE] and highest < c[C_FULL_LIN] and f0 == f1:
        # shut all through the segment, settled: the whole range, one gain
        applied = f1 * g
        shut = fast_exp2(-LOG2_10_OVER_20 * applied)
        for ch in range(nch):
            for i in range(start, start + count):
                x[ch, i] *= shut
            st.gr_db[ch] = applied
        return
    _gate_ballistics(st, x, start, count, phase)


@njit(**KERNEL)
def _gate_detect(st, key, start, count):
    """The key's level per sample (max over channels, after sc_hpf) into
    st.level, its held window maximum into st.held; returns the segment's
    lowest and highest held level."""
    c = st.coef
    nch = key.shape[0]
    level = st.level
    if c[C_HPF_ON] != 0.0:
        for i in range(count):
            a = 0.0
            for ch in range(nch):
                k = abs(biquad_tdf2(st.hpf_c, st.hpf_z, ch, key[ch, start + i]))
                a = k if k > a else a
            level[i] = a
    elif nch == 2:      # the common case, as one vector loop
        for i in range(count):
            k0 = abs(key[0, start + i])
            k1 = abs(key[1, start + i])
            level[i] = k0 if k0 > k1 else k1
    else:
        for i in range(count):
            level[i] = abs(key[0, start + i])
    n0 = st.n[0]
    st.n[0] = n0 + count
    return winmax_block(st.wm_vals, st.wm_suf, st.wm_blk, st.wm_pre, n0, level, st.held, count,
                        np.int64(c[C_WIN]))


@njit(**KERNEL)
def _gate_ballistics(st, x, start, count, phase):
    """The general path, sample by sample, from the held levels _gate_detect left:
    the ballistic GR is a recursion; its gains are then one vector loop of exps
    (no branch), and the gains one vector multiply. The open and shut paths in
    gate_process give what this would, bit for bit (tests/test_gate.py)."""
    c = st.coef
    f0, f1 = c[C_F0], c[C_F1]
    nch = x.shape[0]
    a_att, a_rel = c[C_ATT], c[C_REL]
    t, ratio, rng = c[C_T], c[C_R], c[C_RANGE]
    t_lin = c[C_T_LIN]
    g = st.gr[0]
    held_last = -1.0
    target = 0.0
    gain = st.gain
    for i in range(count):
        held = st.held[i]
        if held != held_last:
            held_last = held
            target = 0.0 if held >= t_lin else gate_gr_db(fast_lin_to_db(held), t, ratio, rng)
        if g != target:
            g += (a_att if target < g else a_rel) * (target - g)
            if abs(target - g) < SNAP_DB:
                g = target
        gain[i] = (f0 + (f1 - f0) * ((phase + i + 1) / CONTROL_BLOCK)) * g
    applied = gain[count - 1]
    for i in range(count):
        gain[i] = fast_exp2(-LOG2_10_OVER_20 * gain[i])
    for ch in range(nch):
        for i in range(count):
            x[ch, start + i] *= gain[i]
    st.gr[0] = g
    for ch in range(nch):
        st.gr_db[ch] = applied


@njit(**KERNEL)
def gate_meter_gr_db(st):
    return array_max(st.gr_db)


@njit(**KERNEL)
def gate_active(st):
    """False while the gate is fully off: the chain then skips building its key."""
    return st.coef[C_F0] != 0.0 or st.coef[C_F1] != 0.0 or st.coef[C_LAST_ATT] < 0.0
