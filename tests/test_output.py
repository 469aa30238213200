"""Output section against dsp.md: ceiling, mix, bypass, delta, robustness,
block-size independence."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import SR, configure, peak_db, run, stereo, tone

from engine import Engine
from engine.curve import chain_curve_db


@pytest.fixture(scope="module")
def eng():
    return Engine(SR, 2, 0, 4096)


def _square(seconds, freq=100.0, amp=1.0):
    n = int(seconds * SR)
    return amp * np.sign(np.sin(2 * np.pi * freq * np.arange(n) / SR) + 1e-12)


@pytest.mark.parametrize("ceiling", [-0.3, -6.0, -24.0])
@pytest.mark.parametrize("settle_on", [0, 1])
def test_ceiling_never_exceeded(eng, ceiling, settle_on):
    rng = np.random.default_rng(7)
    clipped_noise = np.clip(rng.standard_normal(SR // 2) * 3.0, -1, 1)
    bursts = np.concatenate([np.zeros(3000), _square(0.05), np.zeros(500), -_square(0.02)])
    for x in (_square(0.4), clipped_noise, bursts):
        configure(eng, limiter_on=1, ceiling=ceiling, input_gain=24, settle_on=settle_on,
                  makeup=24, drift_on=1)
        y = eng.process(stereo(x).astype(np.float32))
        assert np.max(np.abs(y)) <= np.float32(10 ** (ceiling / 20)), (ceiling, np.max(np.abs(y)))


def test_limiter_level_and_curve(eng):
    configure(eng, limiter_on=1, ceiling=-6, settle_on=0)
    y = run(eng, stereo(tone(0, 0.4)))
    assert abs(peak_db(y[int(0.3 * SR): int(0.38 * SR), 0]) - (-6)) <= 0.2
    assert abs(chain_curve_db([0.0], dict(limiter_on=1, ceiling=-6, settle_on=0, drift_on=0))[0]
               - (-6)) < 1e-9


def _limiter_reference(x, ceil, sr=SR):
    """engine/limiter.py's algorithm in float64 numpy, sample by sample: sliding
    max over D+1, required gain, instant attack / one-pole release, box average
    over D+1, applied to the input delayed by D, clamped. `ceil`: the linear
    ceiling, a number or one value per sample."""
    from engine.limiter import LOOKAHEAD_MS, RELEASE_MS
    D = int(np.floor(LOOKAHEAD_MS * 1e-3 * sr + 0.5))
    n = x.shape[1]
    c = np.broadcast_to(np.asarray(ceil, np.float64), (n,))
    a_rel = 1.0 - np.exp(-1000.0 / (RELEASE_MS * sr))
    a = np.max(np.abs(x), axis=0)
    env, box, y = 1.0, np.ones(n + D + 1), np.zeros_like(x)
    xd = np.concatenate([np.zeros((x.shape[0], D)), x], axis=1)
    for i in range(n):
        peak = a[max(0, i - D): i + 1].max()
        req = 1.0 if peak <= c[i] else c[i] / peak
        env = min(env + a_rel * (req - env), req)
        box[i + D + 1] = env
        g = min(box[i + 1: i + D + 2].mean(), 1.0)
        y[:, i] = np.clip(xd[:, i] * g, -c[i], c[i])
    return y


@pytest.mark.parametrize("block", [64, 7])
def test_limiter_matches_reference_through_quiet_and_loud(eng, block):
    """Long quiet stretches (the limiter's quiet path) broken by peaks over the
    ceiling at every position in the 16-sample control period, single-sample
    spikes and short bursts: the output follows the reference within float32
    rounding, so neither a peak slipping through the quiet path (it would be
    hard-clipped instead of gain-reduced) nor a stale detector goes unseen."""
    rng = np.random.default_rng(11)
    n = SR // 2
    x = rng.standard_normal((2, n)) * 10 ** (-30 / 20)
    at = 2000
    for k in range(16):
        at += 700 + k
        x[k % 2, at] = 0.95 * (-1) ** k                       # spike, one channel
        if k % 4 == 0:
            t = np.arange(240) / SR
            x[:, at + 300: at + 540] += 0.9 * np.sin(2 * np.pi * 1000 * t)
    ceiling = -6.0
    configure(eng, limiter_on=1, ceiling=ceiling, settle_on=0)
    lat = eng.latency_samples
    y = np.concatenate([eng.process(x[:, i:i + block].T.astype(np.float32)).T
                        for i in range(0, n, block)], axis=1).astype(np.float64)
    from engine.limiter import limiter_latency
    pre = lat - limiter_latency(SR)          # DRIFT (off) delays before the limiter
    from engine.limiter import CLAMP_MARGIN
    ref = _limiter_reference(x.astype(np.float32).astype(np.float64),
                             10 ** (ceiling / 20) * CLAMP_MARGIN)
    got = y[:, pre:]
    assert np.max(np.abs(got - ref[:, :n - pre])) < 2e-6
    assert np.max(np.abs(y)) > 0.45                       # peaks did reach the limiter


def test_limiter_ceiling_drop_after_quiet_stretch():
    """The limiter stage alone, 16-sample segments: a burst at -8 dBFS under a
    0 dB ceiling ends exactly where the ceiling steps to -12 dB. The next
    segment is quiet, but the window behind it still holds the burst, now over
    the ceiling: the quiet path must not be taken (it would leave the gain at
    1 through the release that follows)."""
    from numba import njit

    from engine.limiter import (
        CLAMP_MARGIN,
        CONTROL_BLOCK,
        limiter_alloc,
        limiter_control,
        limiter_process,
        limiter_reset,
    )
    from engine.params import DEFAULTS, PID

    @njit
    def run_stage(st, p, x, at, ceiling_db):
        for pos in range(0, x.shape[1], CONTROL_BLOCK):
            if pos == at:
                p[PID.ceiling] = ceiling_db
            limiter_control(st, p, 48000.0)
            limiter_process(st, p, x, pos, CONTROL_BLOCK, 0)

    rng = np.random.default_rng(5)
    n, at = 16 * 800, 16 * 200
    x = rng.standard_normal((2, n)) * 10 ** (-30 / 20)
    x[:, at - 400:at] = 0.4 * np.sin(2 * np.pi * 1000 * np.arange(400) / SR)
    st = limiter_alloc(SR, 2, 64)
    limiter_reset(st)
    p = DEFAULTS.copy()
    p[PID.limiter_on], p[PID.ceiling] = 1.0, 0.0
    y = x.copy()
    run_stage(st, p, y, at, -12.0)
    c0, c1 = CLAMP_MARGIN, 10 ** (-12 / 20) * CLAMP_MARGIN
    c = np.full(n, c1)
    c[:at] = c0
    c[at:at + 16] = c0 + (c1 - c0) * np.arange(1, 17) / 16
    ref = _limiter_reference(x, c)
    assert np.max(np.abs(y - ref)) < 1e-9
    # the release after the step does reduce the quiet noise that follows
    assert np.max(np.abs(ref[:, at + 100:at + 400])) < 0.9 * np.max(np.abs(x[:, at + 76:at + 376]))


def test_limiter_latency_constant(eng):
    configure(eng, limiter_on=1)
    on = eng.latency_samples
    configure(eng, limiter_on=0)
    assert eng.latency_samples == on


def _aligned_dry(eng, x):
    lat = eng.latency_samples
    d = np.zeros_like(x)
    d[lat:] = x[: len(x) - lat]
    return d.astype(np.float32)


@pytest.mark.parametrize("lookahead", [0.0, 3.0])
def test_mix_zero_is_delayed_dry_bit_exact(eng, lookahead):
    """Below the ceiling (the limiter is on, last, and leaves it alone)."""
    rng = np.random.default_rng(2)
    x = stereo(np.clip(rng.standard_normal(SR // 4) * 0.3, -0.9, 0.9)).astype(np.float32)
    configure(eng, mix=0, threshold=-40, ratio=10, gate_on=1, limiter_on=1, drift_on=1,
              lookahead=lookahead)
    y = eng.process(x)
    assert np.array_equal(y, _aligned_dry(eng, x))
    configure(eng, mix=0, output_gain=-6, threshold=-40, ratio=10, lookahead=lookahead)
    y = eng.process(x)
    ref = (_aligned_dry(eng, x).astype(np.float64) * 10 ** (-6 / 20)).astype(np.float32)
    assert np.max(np.abs(y - ref)) <= 1e-7


def _square_stereo(n, level=1.0):
    t = np.arange(n) / SR
    return stereo(level * np.sign(np.sin(2 * np.pi * 110 * t))).astype(np.float32)


@pytest.mark.parametrize("mix", [100.0, 50.0, 0.0])
def test_ceiling_holds_at_the_output_from_the_first_sample(mix):
    """The limiter is last: with limiter_on no output sample exceeds the ceiling,
    whatever mix and output gain do, from the very first sample after
    construction and after reset (full-scale square, clipped noise, +24 dB in
    and out)."""
    rng = np.random.default_rng(8)
    noise = stereo(np.clip(rng.standard_normal(SR // 2) * 0.7, -1, 1)).astype(np.float32)
    ceiling = 10 ** (-1 / 20)
    for x in (_square_stereo(SR // 2), noise):
        e = Engine(SR, 2, 0, 256)
        configure(e, input_gain=24, output_gain=24, mix=mix, ceiling=-1, limiter_on=1)
        for _ in range(2):
            y = e.process(x)
            assert np.max(np.abs(y)) <= ceiling, 20 * np.log10(np.max(np.abs(y)))
            assert np.max(np.abs(y[:64])) <= ceiling
            e.reset()


def test_monitoring_is_not_limited():
    """listen and bypass are monitoring (dsp.md): bypass is the aligned dry signal
    even above the ceiling, and delta is what the limiter-on output differs by."""
    x = _square_stereo(SR // 4, 0.99)
    e = Engine(SR, 2, 0, 256)
    configure(e, bypass=1, ceiling=-12, limiter_on=1)
    assert np.array_equal(e.process(x), _aligned_dry(e, x))
    e = Engine(SR, 2, 0, 256)
    configure(e, listen="delta", ceiling=-12, limiter_on=1, drift_on=0, settle_on=0)
    y = e.process(x)
    # the limited output (about -12 dBFS) minus the dry (-0.1 dBFS): about -0.1 - 12 dB deep
    lat = e.latency_samples
    assert np.max(np.abs(y[lat + SR // 20:])) > 0.6


def test_bypass_bit_exact_and_click_free(eng):
    rng = np.random.default_rng(4)
    x = stereo(rng.standard_normal(SR // 4) * 0.3).astype(np.float32)
    configure(eng, bypass=1, threshold=-40, ratio=10, gate_on=1, drift_on=1, limiter_on=1,
              output_gain=6, input_gain=6)
    assert np.array_equal(eng.process(x), _aligned_dry(eng, x))
    # engaged while running: the crossfade is over within 10 ms, then bit-exact dry
    s = tone(-3, 0.6, freq=300.0)
    configure(eng, threshold=-40, ratio=10, knee=0, output_gain=6)
    a = eng.process(stereo(s[: SR // 3]).astype(np.float32))
    eng.set("bypass", 1)
    b = eng.process(stereo(s[SR // 3:]).astype(np.float32))
    y = np.concatenate([a, b])[:, 0]
    d = _aligned_dry(eng, stereo(s))[:, 0]
    k = SR // 3 + int(0.010 * SR)
    assert np.array_equal(y[k:], d[k:])
    assert np.max(np.abs(np.diff(y[SR // 3 - 100: k + 100]))) <= 2.0 * np.max(np.abs(np.diff(s)))


def test_delta_is_processed_minus_dry(eng):
    rng = np.random.default_rng(5)
    x = stereo(rng.standard_normal(SR // 4) * 0.3).astype(np.float32)
    configure(eng, threshold=-30, ratio=4)
    wet = eng.process(x).astype(np.float64)
    configure(eng, threshold=-30, ratio=4, listen="delta")
    delta = eng.process(x).astype(np.float64)
    dry = _aligned_dry(eng, x).astype(np.float64)
    assert np.max(np.abs(delta - (wet - dry))) <= 1e-6


def test_latency_change_crossfades_dry(eng):
    s = tone(-6, 0.5, freq=440.0)
    configure(eng, mix=50, threshold=0, ratio=1)
    a = eng.process(stereo(s[: SR // 4]).astype(np.float32))
    eng.set("lookahead", 6.0)
    b = eng.process(stereo(s[SR // 4:]).astype(np.float32))
    y = np.concatenate([a, b])[:, 0].astype(np.float64)
    assert np.max(np.abs(np.diff(y))) <= 1.2 * np.max(np.abs(np.diff(s)))
    # afterwards wet and dry are aligned again: mix 50 % of a pass-through is the dry signal
    d = _aligned_dry(eng, stereo(s))[:, 0].astype(np.float64)
    assert np.max(np.abs(y[-SR // 10:] - d[-SR // 10:])) <= 1e-6


def test_non_finite_input_never_poisons_state(eng):
    """NaN/Inf samples are taken as silence: the output stays finite, and
    from the next block on it is bit-identical to a run that saw zeros."""
    settings = dict(gate_on=1, limiter_on=1, drift_on=1, detector="rms", topology="feedback")
    n = 4096
    bad = np.zeros((n, 2), np.float32)
    bad[::3] = np.nan
    bad[1::3] = np.inf
    bad[2::5] = -np.inf
    good = stereo(tone(-12, 0.2)).astype(np.float32)
    configure(eng, **settings)
    eng.process(good)
    y_bad = eng.process(bad)
    y = eng.process(good)
    configure(eng, **settings)
    eng.process(good)
    eng.process(np.zeros_like(bad))
    ref = eng.process(good)
    assert np.all(np.isfinite(y_bad))
    assert np.array_equal(y, ref)


def test_huge_and_subnormal_input(eng):
    configure(eng, gate_on=1, limiter_on=1, drift_on=1, ceiling=-1)
    n = 4096
    x = np.zeros((n, 2), np.float32)
    x[::7] = 3e38
    x[1::7] = -3e38
    x[4::7] = 1e-40          # float32 subnormal
    x[5::7] = -1e-44
    y = eng.process(x)
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) <= np.float32(10 ** (-1 / 20))
    y = eng.process(stereo(tone(-12, 0.2)).astype(np.float32))
    assert np.all(np.isfinite(y))
    nz = np.abs(y[y != 0])
    assert nz.size == 0 or nz.min() >= np.finfo(np.float32).tiny


def test_denormal_tail_leaves_no_subnormals(eng):
    configure(eng, gate_on=0, drift_on=1, limiter_on=1, smooth=50, detector="rms")
    x = np.concatenate([tone(-6, 0.2), np.zeros(SR // 2)])
    x[len(x) // 2:] += 1e-39
    y = eng.process(stereo(x).astype(np.float32))
    nz = np.abs(y[y != 0])
    assert nz.size == 0 or nz.min() >= np.finfo(np.float32).tiny


@pytest.fixture(scope="module")
def eng_blocks():
    return Engine(SR, 2, 0, 4096)


def test_block_size_independence(eng_blocks):
    e = eng_blocks
    rng = np.random.default_rng(9)
    n = int(0.25 * SR)
    x = rng.standard_normal((n, 2)) * np.repeat(rng.uniform(0.01, 1.0, (25, 2)), n // 25, axis=0)
    x = x.astype(np.float32)
    settings = dict(gate_on=1, gate_threshold=-30, threshold=-30, ratio=5, threshold2=-10,
                    ratio2=100, knee=6, lookahead=2.0, limiter_on=1, ceiling=-3,
                    sc_hpf=80, mix=80, drift_on=1, auto_makeup=1, link=60, smooth=5)
    outs = []
    for block in (4096, 512, 64, 7, 1):
        configure(e, **settings)
        y = np.empty((n, 2), np.float32)
        for s in range(0, n, block):
            y[s: s + block] = e.process(x[s: s + block])
        outs.append(y)
    for y in outs[1:]:
        assert np.array_equal(y, outs[0])


def test_curve_puts_the_ceiling_after_the_output_gain():
    """The transfer curve follows the chain's order: output gain, then the ceiling."""
    e = Engine(SR, 2, 0, 4096)
    v = dict(output_gain=12, ceiling=-6, limiter_on=1, drift_on=0, settle_on=0)
    configure(e, **v)
    y = run(e, stereo(tone(-10, 0.5)))
    measured = peak_db(y[int(0.3 * SR):, 0])
    assert abs(measured - (-6)) <= 0.2
    assert abs(float(chain_curve_db([-10.0], v)[0]) - measured) <= 0.2


def test_limiter_quiet_path_is_the_general_path():
    """Twin test: the limiter stage alone on quiet noise with bursts over the
    ceiling, once as the chain runs it (quiet segments skip the detector) and
    once with C_ONES cleared before every segment, which claims the box may hold
    values under 1, so every segment runs the per-sample detector. Bit-identical,
    and the quiet path must have been taken."""
    from numba import njit

    from engine.limiter import (
        C_ONES,
        C_STALE,
        CONTROL_BLOCK,
        limiter_alloc,
        limiter_control,
        limiter_process,
        limiter_reset,
    )
    from engine.params import DEFAULTS, PID

    @njit
    def run_stage(st, p, x, general):
        quiet = 0
        for pos in range(0, x.shape[1], CONTROL_BLOCK):
            limiter_control(st, p, 48000.0)
            if general:
                st.coef[C_ONES] = 0.0
            limiter_process(st, p, x, pos, CONTROL_BLOCK, 0)
            quiet += 1 if st.coef[C_STALE] != 0.0 else 0     # set by the quiet path only
        return quiet

    rng = np.random.default_rng(11)
    n = 16 * 3000
    x = rng.standard_normal((2, n)) * 10 ** (-30 / 20)
    for at in range(4000, n - 2000, 9000):
        x[:, at:at + 1500] *= 10 ** (33 / 20)           # bursts well over the 0 dB ceiling
    p = DEFAULTS.copy()
    p[PID.limiter_on], p[PID.ceiling] = 1.0, -1.0
    ys, quiet = [], []
    for general in (False, True):
        st = limiter_alloc(SR, 2, 64)
        limiter_reset(st)
        y = x.copy()
        quiet.append(run_stage(st, p, y, general))
        ys.append(y)
    assert quiet[0] > 100 and quiet[1] == 0
    assert np.max(np.abs(ys[0])) <= 10 ** (-1 / 20) and np.max(np.abs(x)) > 1.0   # it did limit
    assert np.array_equal(ys[0], ys[1])
