"""Ceiling limiter after makeup (dsp.md, "Output, mix, bypass").

    x ─ |x| max over channels ─ sliding max over D+1 ─ required gain c/peak ─ release ─ box average (D+1) ─ gain
    x ─ delay D ─────────────────────────────────────────────────────────────────────────────────────────── × ─ clamp ±c

D = LOOKAHEAD_MS. The required gain r[n] = min(1, c / max|x[n−D..n]|) is
already the minimum over the window, the release only lets it rise
(instantly down, one-pole up), and the box average over the last D+1 values
reaches the sample x[n−D] only through values that were all computed while
that sample was in the window, so the average is <= c/|x[n−D]|: the delayed
sample times the gain never exceeds c (Signalsmith-style lookahead limiter).
A final clamp to just under c catches rounding, the fade-in after
`limiter_on`, and a ceiling that moves while a peak is in flight.

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

from .dsp import (FASTMATH, db_to_lin, fast_lin_to_db, onepole_coeff, pow2_at_least,
                  slidemax_alloc, slidemax_push, slidemax_reset)
from .params import PID

LOOKAHEAD_MS = 0.5
RELEASE_MS = 50.0
FADE_MS = 10.0
CONTROL_BLOCK = 16
#: clamp just under the ceiling: float32 output rounding can add half an ulp
CLAMP_MARGIN = 1.0 - 2.0 ** -22

C_C0, C_C1, C_REL, C_F0, C_F1, C_FADE_STEP, C_INIT, C_CEIL_DB, C_IDLE, C_LEN = range(10)


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
    gr_db: np.ndarray          # [channels] meter


def limiter_alloc(samplerate: float, channels: int, max_block: int) -> LimiterState:
    d = limiter_latency(samplerate)
    size = pow2_at_least(d + 2)
    vals, idx, ht = slidemax_alloc(1, d + 1)
    return LimiterState(delay=np.full(1, d, np.int64), coef=np.zeros(C_LEN), line=np.zeros((channels, size)),
                        box=np.ones(size), sums=np.zeros(1), env=np.ones(1),
                        pos=np.zeros(1, np.int64), sm_vals=vals, sm_idx=idx, sm_ht=ht,
                        gr_db=np.zeros(channels))


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
    st.gr_db[:] = 0.0


@njit(cache=True, fastmath=FASTMATH, inline="always")
def limiter_control(st, p, samplerate):
    c = st.coef
    if c[C_INIT] == 0.0:
        c[C_INIT] = 1.0
        c[C_REL] = onepole_coeff(RELEASE_MS, samplerate)
        c[C_FADE_STEP] = CONTROL_BLOCK * 1000.0 / (FADE_MS * samplerate)
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


@njit(cache=True)
def _restart(st, pos0, D, nch):
    """Switched on again: the detector starts over from the peaks in the delay line
    (the D samples still to come out), with the gain at rest."""
    bmask = st.box.shape[0] - 1
    mask = st.line.shape[1] - 1
    for k in range(D + 1):
        st.box[(pos0 - 1 - k) & bmask] = 1.0
    st.env[0] = 1.0
    st.sums[0] = float(D + 1)
    slidemax_reset(st.sm_vals, st.sm_idx, st.sm_ht)
    for k in range(D, 0, -1):
        n = pos0 - k
        a = 0.0
        for ch in range(nch):
            v = abs(st.line[ch, n & mask])
            if v > a:
                a = v
        slidemax_push(st.sm_vals, st.sm_idx, st.sm_ht, 0, n, a, D + 1)


@njit(cache=True, fastmath=FASTMATH, inline="always")
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
        s += env - st.box[(n - D - 1) & bmask]
        st.box[n & bmask] = env
        g = s * inv_n
        if g > 1.0:
            g = 1.0
        ge = 1.0 - f * (1.0 - g)
        for ch in range(nch):
            line[ch, n & mask] = x[ch, start + i]
            y = line[ch, (n - D) & mask]
            if f != 0.0:
                y *= ge
            if on:
                if y > ceil:
                    y = ceil
                elif y < -ceil:
                    y = -ceil
            x[ch, start + i] = y
    st.env[0] = env
    st.sums[0] = s
    st.pos[0] = pos0 + count
    gr = -fast_lin_to_db(1.0 - f1 * (1.0 - g))
    for ch in range(nch):
        st.gr_db[ch] = gr
