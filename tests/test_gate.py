"""GATE against dsp.md: ratio, range, attack, hold, release, key."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import SR, configure, gain_track_db, peak_db, run, stereo, time_to_cover, tone

from engine import Engine
from engine.curve import chain_curve_db

GATE = dict(gate_on=1, settle_on=0)


@pytest.fixture(scope="module")
def eng():
    return Engine(SR, 2, 0, 4096)


@pytest.mark.parametrize("ratio,rng_db,level,expect_gr", [
    (2.0, 40.0, -50.0, 10.0),     # (R − 1)·(T − L)
    (3.0, 40.0, -45.0, 10.0),
    (2.0, 20.0, -80.0, 20.0),     # capped at the range
    (100.0, 30.0, -41.0, 30.0),   # gate: the whole range just under the threshold
    (4.0, 40.0, -30.0, 0.0),      # above the threshold: untouched
])
def test_ratio_and_range(eng, ratio, rng_db, level, expect_gr):
    configure(eng, gate_threshold=-40, gate_ratio=ratio, gate_range=rng_db, gate_attack=1,
              gate_release=20, gate_hold=0, **GATE)
    x = tone(level, 0.4)
    y = run(eng, stereo(x))
    s = slice(int(0.3 * SR), int(0.38 * SR))
    assert abs(peak_db(x[s]) - peak_db(y[s, 0]) - expect_gr) <= 0.25
    assert abs(eng.meters()["gate_gr_db"] - expect_gr) <= 0.25


def test_matches_curve(eng):
    values = dict(gate_threshold=-40, gate_ratio=2.5, gate_range=30, **GATE)
    levels = [-70.0, -55.0, -45.0, -41.0, -35.0]
    expect = chain_curve_db(levels, dict(values, drift_on=0, limiter_on=0))
    for lv, ex in zip(levels, expect, strict=True):
        configure(eng, gate_attack=1, gate_release=20, gate_hold=0, **values)
        y = run(eng, stereo(tone(lv, 0.4)))
        assert abs(peak_db(y[int(0.3 * SR): int(0.38 * SR), 0]) - ex) <= 0.25


def _step(eng, before_db, after_db, seconds_before, seconds_after, **values):
    configure(eng, **values)
    n1 = int(seconds_before * SR)
    n = n1 + int(seconds_after * SR)
    env = np.full(n, 10 ** (before_db / 20))
    env[n1:] = 10 ** (after_db / 20)
    x = env * np.sin(2 * np.pi * 1000 * np.arange(n) / SR)
    y = run(eng, stereo(x))
    with np.errstate(divide="ignore"):
        idx, g = gain_track_db(x, y[:, 0], floor=0.0)
    big = (np.abs(x[idx]) > 0.3 * env[idx]) & (idx < n - 2000)
    return n1, idx[big], g[big]


@pytest.mark.parametrize("attack_ms", [2.0, 10.0])
def test_attack(eng, attack_ms):
    # −60 -> −45 dBFS, both under T −40 with R 2: GR 20 -> 5 dB
    n1, idx, g = _step(eng, -60, -45, 0.4, 0.2, gate_threshold=-40, gate_ratio=2, gate_range=60,
                       gate_attack=attack_ms, gate_release=50, gate_hold=0, **GATE)
    t = time_to_cover(idx, g, n1, -20.0, -5.0)
    assert abs(t * 1000 / attack_ms - 1) <= 0.15, t


@pytest.mark.parametrize("release_ms", [30.0, 150.0])
def test_release(eng, release_ms):
    n1, idx, g = _step(eng, -45, -60, 0.3, 5 * release_ms / 1000 + 0.1, gate_threshold=-40,
                       gate_ratio=2, gate_range=60, gate_attack=1, gate_release=release_ms,
                       gate_hold=0, **GATE)
    t = time_to_cover(idx, g, n1, -5.0, -20.0)
    assert abs(t * 1000 / release_ms - 1) <= 0.15, t


def test_hold(eng):
    # open (−20) then −70: the gate stays open for the hold, then closes with the release
    hold_ms = 80.0
    n1, idx, g = _step(eng, -20, -70, 0.3, 0.4, gate_threshold=-40, gate_ratio=100,
                       gate_range=40, gate_attack=1, gate_release=20, gate_hold=hold_ms, **GATE)
    closing = idx[(idx > n1) & (g < -1.0)]
    t_close = (closing[0] - n1) / SR * 1000
    assert hold_ms - 3 <= t_close <= hold_ms + 6, t_close


def test_external_key_and_hpf():
    e = Engine(SR, 2, 2, 2048)
    main = tone(-30, 0.4)
    # the key is above the threshold: the gate opens although the main signal is below it
    configure(e, gate_threshold=-20, gate_ratio=100, gate_range=40, sidechain="external", **GATE)
    key = tone(-6, 0.4, freq=200.0)
    y = run(e, np.stack([main, main, key, key], 1))
    s = slice(int(0.3 * SR), int(0.38 * SR))
    assert abs(peak_db(y[s, 0]) - (-30)) <= 0.1
    # a 40 Hz key through a 400 Hz sidechain high-pass: too quiet, the gate closes
    key = tone(-6, 0.4, freq=40.0)
    configure(e, gate_threshold=-20, gate_ratio=100, gate_range=40, sidechain="external",
              sc_hpf=400, gate_release=20, **GATE)
    y = run(e, np.stack([main, main, key, key], 1))
    assert abs(peak_db(y[s, 0]) - (-70)) <= 0.25


def test_gate_off_fades_and_is_transparent(eng):
    x = tone(-50, 0.6, freq=220.0)
    configure(eng, gate_threshold=-40, gate_ratio=100, gate_range=40, **GATE)
    a = eng.process(stereo(x[: SR // 3]).astype(np.float32))
    eng.set("gate_on", 0)
    b = eng.process(stereo(x[SR // 3:]).astype(np.float32))
    y = np.concatenate([a, b])[:, 0].astype(np.float64)
    # the gain comes back up within the fade, without a step
    assert np.max(np.abs(np.diff(y))) <= 1.2 * np.max(np.abs(np.diff(x)))
    lat = eng.latency_samples
    assert np.array_equal(y[-SR // 8:], np.float32(x)[-SR // 8 - lat: len(x) - lat])


def test_window_maximum_is_the_sliding_maximum():
    """The gate's detector (van Herk / Gil-Werman window maximum) against the
    monotonic-deque sliding maximum on the same random levels, with the window
    changing mid-stream, growing and shrinking: identical at every sample."""
    from numba import njit

    from engine.dsp import (
        slidemax_alloc,
        slidemax_push,
        slidemax_reset,
        winmax_alloc,
        winmax_block,
        winmax_reset,
    )

    @njit
    def both(levels, windows, a, b):     # kernels are called from compiled code only
        vals, suf, blk, pre = a
        dv, di, dh = b
        winmax_reset(vals, suf, blk, pre)
        slidemax_reset(dv, di, dh)
        out = np.zeros((levels.shape[0], 2))
        held = np.zeros(16)
        for n0 in range(0, levels.shape[0], 16):    # segments, as the gate runs it
            w = windows[n0]
            winmax_block(vals, suf, blk, pre, n0, levels[n0:n0 + 16], held, 16, w)
            out[n0:n0 + 16, 0] = held
            for n in range(n0, n0 + 16):
                out[n, 1] = slidemax_push(dv, di, dh, 0, n, levels[n], w)
        return out

    rng = np.random.default_rng(4)
    n = 20480
    levels = np.abs(rng.standard_normal(n)) * np.repeat(rng.uniform(0, 1, n // 512), 512)
    windows = np.repeat(np.array([480, 1, 777, 480, 5000, 3, 480, 2048], np.int64), n // 8)
    dv, di, dh = slidemax_alloc(1, 5000)
    out = both(levels, windows, winmax_alloc(5000), (dv, di, dh))
    # the deque forgets values from before a window grows; the window maximum
    # keeps them. From one (new) window length after each change on, they agree.
    ok = np.ones(n, bool)
    for k in range(1, 8):
        at = k * (n // 8)
        if windows[at] > windows[at - 1]:
            ok[at: at + windows[at]] = False
    assert np.array_equal(out[ok, 0], out[ok, 1])
    assert np.all(out[:, 0] >= out[:, 1])


def test_open_and_shut_fast_paths_are_the_general_path():
    """Twin test: the gate stage alone, run twice on the same input, once as the
    chain runs it (open and shut segments take their fast paths) and once with
    every segment through the general per-sample path (_gate_ballistics). The
    outputs must be bit-identical, and both fast paths must have been taken."""
    from numba import njit

    from engine.dsp import CONTROL_BLOCK
    from engine.gate import (
        C_F0,
        C_F1,
        C_FULL_LIN,
        C_RANGE,
        C_T_LIN,
        _gate_ballistics,
        _gate_detect,
        gate_alloc,
        gate_control,
        gate_process,
        gate_reset,
    )
    from engine.params import DEFAULTS, PID

    @njit
    def run_stage(st, p, x, general):
        gate_reset(st)            # native only: called from compiled code
        opened = shut = 0
        for s in range(0, x.shape[1], CONTROL_BLOCK):
            gate_control(st, p, float(SR))
            if not general:
                g = st.gr[0]
                gate_process(st, p, x, x, s, CONTROL_BLOCK, 0)
                # which path the segment took, from the state it started in
                if g == 0.0 and st.gr[0] == 0.0 and st.gr_db[0] == 0.0:
                    opened += 1
                elif g == st.coef[C_RANGE] and st.coef[C_F0] == st.coef[C_F1]:
                    shut += 1 if st.held[CONTROL_BLOCK - 1] < st.coef[C_FULL_LIN] else 0
            else:
                _gate_detect(st, x, s, CONTROL_BLOCK)
                _gate_ballistics(st, x, s, CONTROL_BLOCK, 0)
        return opened, shut, st.coef[C_T_LIN]

    rng = np.random.default_rng(7)
    n = 4 * SR
    # phrases at -12 dBFS between stretches of -70 dBFS room noise, 0.1-0.5 s each
    cuts = np.cumsum(rng.integers(4800, 24000, n // 4800))
    env = np.where(np.searchsorted(cuts, np.arange(n)) % 2 == 0, 10 ** (-12 / 20), 10 ** (-70 / 20))
    x = np.stack([env * rng.standard_normal(n), 0.7 * env * rng.standard_normal(n)]) * 0.3
    p = DEFAULTS.copy()
    p[PID.gate_on], p[PID.gate_threshold], p[PID.gate_ratio], p[PID.gate_range] = 1.0, -45.0, 4.0, 30.0
    p[PID.gate_attack], p[PID.gate_release], p[PID.gate_hold] = 1.0, 8.0, 20.0
    outs = []
    for general in (False, True):
        st = gate_alloc(SR, 2, 64)
        y = x.copy()
        outs.append((y, run_stage(st, p, y, general)))
    (fast, (opened, shut, _)), (general, _) = outs
    assert opened > 100 and shut > 100
    assert np.max(np.abs(fast - x)) > 0.001            # it did gate
    assert np.array_equal(fast, general)
