"""Ceiling limiter, last: after mix and output gain (dsp.md, "Output, mix, bypass").

    x ─ |x| max over channels ─ sliding max over D+1 ─ required gain c/peak ─ release
      ─ box average (D+1) ─ gain ─┐
    x ─ delay D ────────────────── × ─ clamp ±c

D = LOOKAHEAD_MS. The required gain r[n] = min(1, c / max|x[n−D..n]|) is
already the minimum over the window, the release only lets it rise
(instantly down, one-pole up), and the box average over the last D+1 values
reaches the sample x[n−D] only through values that were all computed while
that sample was in the window, so the average is <= c/|x[n−D]|: the delayed
sample times the gain never exceeds c (Signalsmith-style lookahead limiter).
A final clamp to just under c catches rounding, the fade-in after
`limiter_on`, and a ceiling that moves while a peak is in flight.

Quiet segments: when no sample in any window of the segment exceeds the
ceiling (window maxima from per-control-period maxima, a bound from above),
the gain is at rest (env = 1) and the box holds only ones, every required
gain is 1 and the per-sample detector would change nothing. Such a segment
skips the detector: the gain applied is the same g = min(s/(D+1), 1) the
detector would compute, so the output is bit-identical; the sliding maximum
is rebuilt from the delay line when a loud segment comes. Most programme
material sits below the ceiling nearly all the time.

The delay is in the path whether the limiter is on or off, so latency is
constant. Fully off (after its fade) the limiter is that delay and nothing
else; switching on again restarts the detector from the peaks already in the
delay line.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from .dsp import (
    CONTROL_BLOCK,
    KERNEL,
    NATIVE_ONLY,
    STAGE_FADE_MS,
    db_to_lin,
    fast_lin_to_db,
    onepole_coeff,
    pow2_at_least,
    slidemax_alloc,
    slidemax_push,
    slidemax_reset,
)
from .params import PID

LOOKAHEAD_MS = 0.5
RELEASE_MS = 50.0
#: clamp just under the ceiling: float32 output rounding can add half an ulp
CLAMP_MARGIN = 1.0 - 2.0 ** -22

C_C0, C_C1, C_REL, C_F0, C_F1, C_FADE_STEP, C_INIT, C_CEIL_DB, C_IDLE, C_ONES, C_STALE, C_LEN = range(12)
# C_ONES: samples since env was last below 1 (box entries that are exactly 1);
# C_STALE: the sliding maximum missed quiet segments and must be rebuilt
PERIODS = 16                 # ring of per-control-period maxima (> D/16 + 1 periods)


class LimiterState(NamedTuple):
    delay: np.ndarray          # int64[1] D, fixed per sample rate
    coef: np.ndarray           # [C_LEN]
    line: np.ndarray           # [channels, pow2] the lookahead delay
    box: np.ndarray            # [pow2] the released required gains, for the box average
    sums: np.ndarray           # [1] running sum of the box
    env: np.ndarray            # [1] released required gain
    pos: np.ndarray            # int64[1] absolute sample index
    sm_vals: np.ndarray
    sm_idx: np.ndarray
    sm_ht: np.ndarray
    pmax: np.ndarray           # [PERIODS] max over channels of |x| per control period, by period index
    gr_db: np.ndarray          # [channels] meter


def limiter_alloc(samplerate: float, channels: int, max_block: int) -> LimiterState:
    d = limiter_latency(samplerate)
    size = pow2_at_least(d + 2)
    vals, idx, ht = slidemax_alloc(1, d + 1)
    assert d // CONTROL_BLOCK + 2 <= PERIODS
    return LimiterState(delay=np.full(1, d, np.int64), coef=np.zeros(C_LEN), line=np.zeros((channels, size)),
                        box=np.ones(size), sums=np.zeros(1), env=np.ones(1),
                        pos=np.zeros(1, np.int64), sm_vals=vals, sm_idx=idx, sm_ht=ht,
                        pmax=np.zeros(PERIODS), gr_db=np.zeros(channels))


@njit(cache=True)
def limiter_latency(samplerate):
    """The lookahead delay in samples (always in the path)."""
    return int(math.floor(LOOKAHEAD_MS * 0.001 * samplerate + 0.5))


@njit(cache=True)
def limiter_reset(st):
    st.coef[:] = 0.0
    st.line[:] = 0.0
    st.box[:] = 1.0
    st.env[0] = 1.0
    st.pos[0] = 0
    slidemax_reset(st.sm_vals, st.sm_idx, st.sm_ht)
    st.pmax[:] = 0.0
    st.coef[C_ONES] = st.box.shape[0]
    st.gr_db[:] = 0.0


@njit(**KERNEL)
def limiter_control(st, p, samplerate):
    c = st.coef
    if c[C_INIT] == 0.0:
        c[C_INIT] = 1.0
        c[C_REL] = onepole_coeff(RELEASE_MS, samplerate)
        c[C_FADE_STEP] = CONTROL_BLOCK * 1000.0 / (STAGE_FADE_MS * samplerate)
        c[C_F1] = 1.0 if p[PID.limiter_on] >= 0.5 else 0.0
        c[C_C1] = db_to_lin(p[PID.ceiling]) * CLAMP_MARGIN
        c[C_CEIL_DB] = p[PID.ceiling]
    c[C_C0] = c[C_C1]
    if p[PID.ceiling] != c[C_CEIL_DB]:
        c[C_CEIL_DB] = p[PID.ceiling]
        c[C_C1] = db_to_lin(p[PID.ceiling]) * CLAMP_MARGIN
    c[C_F0] = c[C_F1]
    if p[PID.limiter_on] >= 0.5:
        c[C_F1] = min(1.0, c[C_F1] + c[C_FADE_STEP])
    else:
        c[C_F1] = max(0.0, c[C_F1] - c[C_FADE_STEP])
    if c[C_F0] == 0.0 and c[C_F1] == 0.0:
        return
    # the running sum drifts by rounding; re-add it exactly once per control block
    d = st.delay[0]
    mask = st.box.shape[0] - 1
    pos = st.pos[0]
    s = 0.0
    for k in range(d + 1):
        s += st.box[(pos - 1 - k) & mask]
    st.sums[0] = s


@njit(cache=True, **NATIVE_ONLY)
def _restart(st, pos0, D, nch):
    """Switched on again: the detector starts over from the peaks in the delay line
    (the D samples still to come out), with the gain at rest. The period maxima
    were not kept while off: +inf until they are rewritten."""
    bmask = st.box.shape[0] - 1
    for k in range(D + 1):
        st.box[(pos0 - 1 - k) & bmask] = 1.0
    st.env[0] = 1.0
    st.sums[0] = float(D + 1)
    st.coef[C_ONES] = D + 1
    st.pmax[:] = np.inf
    _rebuild_detector(st, pos0, D, nch)


@njit(cache=True, **NATIVE_ONLY)
def _rebuild_detector(st, pos0, D, nch):
    """The sliding maximum over the D samples before pos0, from the delay line."""
    mask = st.line.shape[1] - 1
    slidemax_reset(st.sm_vals, st.sm_idx, st.sm_ht)
    st.coef[C_STALE] = 0.0
    for k in range(D, 0, -1):
        n = pos0 - k
        a = 0.0
        for ch in range(nch):
            v = abs(st.line[ch, n & mask])
            if v > a:
                a = v
        slidemax_push(st.sm_vals, st.sm_idx, st.sm_ht, 0, n, a, D + 1)


@njit(**KERNEL)
def _apply(y, f, ge, on, ceil):
    """The delayed sample y times the faded gain ge, clamped to ±ceil while on."""
    if f != 0.0:
        y *= ge
    if on:
        if y > ceil:
            y = ceil
        elif y < -ceil:
            y = -ceil
    return y


@njit(**KERNEL)
def limiter_process(st, p, x, start, count, phase):
    """Limit x[:, start:start+count] in place (delayed by limiter_latency)."""
    c = st.coef
    nch = x.shape[0]
    line = st.line
    mask = line.shape[1] - 1
    bmask = st.box.shape[0] - 1
    pos0 = st.pos[0]
    c0, c1 = c[C_C0], c[C_C1]
    f0, f1 = c[C_F0], c[C_F1]
    on = p[PID.limiter_on] >= 0.5
    a_rel = c[C_REL]
    env = st.env[0]
    s = st.sums[0]
    D = st.delay[0]
    if f0 == 0.0 and f1 == 0.0:
        # off: the lookahead delay only
        for ch in range(nch):
            for i in range(count):
                n = pos0 + i
                line[ch, np.uint64(n & mask)] = x[ch, start + i]
                x[ch, start + i] = line[ch, np.uint64((n - D) & mask)]
        st.pos[0] = pos0 + count
        c[C_IDLE] = 1.0
        for ch in range(nch):
            st.gr_db[ch] = 0.0
        return
    if c[C_IDLE] != 0.0:
        _restart(st, pos0, D, nch)
        c[C_IDLE] = 0.0
        s = st.sums[0]
        env = st.env[0]
    inv_n = 1.0 / (D + 1)
    # this segment's peak, and a bound on every window: the maxima of the
    # control periods the D samples before it fall in (this one's so far included)
    seg = 0.0
    for ch in range(nch):
        for i in range(count):
            v = abs(x[ch, start + i])
            seg = v if v > seg else seg
    per = (pos0 - phase) // CONTROL_BLOCK
    pm = st.pmax
    if phase == 0:
        pm[per % PERIODS] = 0.0
    wmax = seg
    for q in range((pos0 - D) // CONTROL_BLOCK, per + 1):
        wmax = max(wmax, pm[q % PERIODS])
    pm[per % PERIODS] = max(pm[per % PERIODS], seg)
    if env == 1.0 and c[C_ONES] >= D + 1 and wmax <= min(c0, c1):
        # quiet: every required gain is 1, env stays 1, each box term adds
        # 1 − 1 = 0 to s; the gain below is what the detector would give
        g = min(s * inv_n, 1.0)
        for i in range(count):
            n = pos0 + i
            r = (phase + i + 1) / CONTROL_BLOCK
            ceil = c0 + (c1 - c0) * r
            f = f0 + (f1 - f0) * r
            st.box[n & bmask] = 1.0
            ge = 1.0 - f * (1.0 - g)
            for ch in range(nch):
                line[ch, n & mask] = x[ch, start + i]
                x[ch, start + i] = _apply(line[ch, (n - D) & mask], f, ge, on, ceil)
        c[C_ONES] += count
        c[C_STALE] = 1.0
        st.pos[0] = pos0 + count
        gr = -fast_lin_to_db(1.0 - f1 * (1.0 - g))
        for ch in range(nch):
            st.gr_db[ch] = gr
        return
    if c[C_STALE] != 0.0:
        _rebuild_detector(st, pos0, D, nch)
    ones = c[C_ONES]
    g = 1.0
    for i in range(count):
        n = pos0 + i
        r = (phase + i + 1) / CONTROL_BLOCK
        ceil = c0 + (c1 - c0) * r
        f = f0 + (f1 - f0) * r
        a = 0.0
        for ch in range(nch):
            v = abs(x[ch, start + i])
            if v > a:
                a = v
        peak = slidemax_push(st.sm_vals, st.sm_idx, st.sm_ht, 0, n, a, D + 1)
        req = 1.0 if peak <= ceil else ceil / peak
        env = env + a_rel * (req - env)
        if req < env:
            env = req
        ones = ones + 1.0 if env == 1.0 else 0.0
        s += env - st.box[(n - D - 1) & bmask]
        st.box[n & bmask] = env
        g = min(s * inv_n, 1.0)
        ge = 1.0 - f * (1.0 - g)
        for ch in range(nch):
            line[ch, n & mask] = x[ch, start + i]
            x[ch, start + i] = _apply(line[ch, (n - D) & mask], f, ge, on, ceil)
    c[C_ONES] = ones
    st.env[0] = env
    st.sums[0] = s
    st.pos[0] = pos0 + count
    gr = -fast_lin_to_db(1.0 - f1 * (1.0 - g))
    for ch in range(nch):
        st.gr_db[ch] = gr
