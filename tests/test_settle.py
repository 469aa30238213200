"""SETTLE against dsp.md: static curve, seed check, time constants, detectors,
topology, link, sidechain, lookahead, makeup, on/off.

DRIFT is switched off and the limiter too unless a test needs it, so the
output is SETTLE's gain times the delayed input. The helpers are in
tests/helpers.py."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import SR, configure, gain_track_db, peak_db, run, stereo, time_to_cover, tone

from engine import Engine
from engine.curve import settle_curve_db


@pytest.fixture(scope="module")
def eng():
    return Engine(SR, 2, 0, 4096)


# --- static curve --------------------------------------------------------------

LEVELS = [-50.0, -35.0, -25.0, -21.0, -18.0, -15.0, -10.0, -5.0, 0.0]


def steady_out_db(eng, level_db, freq=1000.0, seconds=0.35, **values):
    configure(eng, attack=1.0, release=30.0, **values)
    y = run(eng, stereo(tone(level_db, seconds, freq)))
    return peak_db(y[int(0.25 * SR): int(0.33 * SR), 0])


@pytest.mark.parametrize("knee", [0.0, 8.0])
@pytest.mark.parametrize("pairs", [
    dict(threshold=-20, ratio=4, threshold2=0, ratio2=1),          # one segment
    dict(threshold=-30, ratio=2, threshold2=-12, ratio2=4),        # two segments
    dict(threshold=-12, ratio=4, threshold2=-30, ratio2=2),        # same, pairs swapped
    dict(threshold=-30, ratio=3, threshold2=-10, ratio2=100),      # upper segment limits
])
def test_static_curve(eng, pairs, knee):
    values = dict(pairs, knee=knee)
    expect = settle_curve_db(LEVELS, values)
    got = [steady_out_db(eng, lv, **values) for lv in LEVELS]
    assert np.max(np.abs(np.array(got) - expect)) <= 0.25, list(zip(LEVELS, got, expect, strict=True))


def test_curve_formula_independent():
    """The shared gain computer against the formulas of dsp.md, written out here."""
    T, R, W = -20.0, 4.0, 8.0
    x = np.linspace(-40, 0, 81)
    y = np.where(x < T - W / 2, x,
                 np.where(x > T + W / 2, T + (x - T) / R,
                          x + (1 / R - 1) * (x - T + W / 2) ** 2 / (2 * W)))
    assert np.allclose(settle_curve_db(x, dict(threshold=T, ratio=R, knee=W)), y, atol=1e-9)
    # two segments, no knee: slope 1/R_lo between, 1/(R_lo·R_hi) above
    y2 = settle_curve_db([-40, -30, -20, -10, 0], dict(threshold=-30, ratio=2, threshold2=-20,
                                                        ratio2=3, knee=0))
    assert np.allclose(y2, [-40, -30, -25, -25 + 10 / 6, -25 + 20 / 6])
    # ratio 100 = slope exactly 0
    y3 = settle_curve_db([-10, 0], dict(threshold=-20, ratio=100, knee=0))
    assert y3[0] == y3[1] == -20.0


# --- seed check and time constants ----------------------------------------------

def test_seed_check(eng):
    configure(eng, threshold=-20, ratio=4, knee=0, attack=10, release=75, detector="peak")
    x = tone(-10, 1.5, freq=100.0)
    y = run(eng, stereo(x))
    idx, g = gain_track_db(x, y[:, 0], floor=0.2)
    steady = idx > int(1.0 * SR)
    mean_gr = -np.mean(g[steady & (idx < len(x) - 2000)])
    assert abs(mean_gr - 7.5) <= 0.3, mean_gr
    assert abs(eng.meters()["settle_gr_db"] - 7.5) <= 0.3


@pytest.mark.parametrize("attack_ms,release_ms", [(10.0, 100.0), (3.0, 40.0), (30.0, 300.0)])
def test_attack_release_time_constants(eng, attack_ms, release_ms):
    # T −40, R 4: −30 and −10 dBFS are both above the knee; GR 7.5 <-> 22.5 dB
    configure(eng, threshold=-40, ratio=4, knee=0, attack=attack_ms, release=release_ms)
    a, b = 0.5, 0.5 + 4 * attack_ms / 1000 + 0.3
    n1, n2 = int(a * SR), int(b * SR)
    n3 = n2 + int(5 * release_ms / 1000 * SR) + int(0.1 * SR)
    env = np.full(n3, 10 ** (-30 / 20))
    env[n1:n2] = 10 ** (-10 / 20)
    x = env * np.sin(2 * np.pi * 1000 * np.arange(n3) / SR)
    y = run(eng, stereo(x))
    idx, g = gain_track_db(x, y[:, 0], floor=0.0)
    big = np.abs(x[idx]) > 0.3 * env[idx]
    idx, g = idx[big], g[big]
    t_att = time_to_cover(idx, g, n1, -7.5, -22.5)
    t_rel = time_to_cover(idx, g, n2, -22.5, -7.5)
    assert abs(t_att * 1000 / attack_ms - 1) <= 0.15, t_att
    assert abs(t_rel * 1000 / release_ms - 1) <= 0.15, t_rel


def test_smooth_lengthens_both(eng):
    times = []
    for smooth in (0.0, 20.0):
        configure(eng, threshold=-40, ratio=4, knee=0, attack=10, release=60, smooth=smooth)
        n1, n2, n3 = int(0.3 * SR), int(0.6 * SR), int(1.0 * SR)
        env = np.full(n3, 10 ** (-30 / 20))
        env[n1:n2] = 10 ** (-10 / 20)
        x = env * np.sin(2 * np.pi * 1000 * np.arange(n3) / SR)
        y = run(eng, stereo(x))
        idx, g = gain_track_db(x, y[:, 0], floor=0.0)
        big = np.abs(x[idx]) > 0.3 * env[idx]
        times.append((time_to_cover(idx[big], g[big], n1, -7.5, -22.5),
                      time_to_cover(idx[big], g[big], n2, -22.5, -7.5)))
    assert times[1][0] > times[0][0] * 1.5 and times[1][1] > times[0][1] * 1.15, times


# --- detectors, topology, link -----------------------------------------------

@pytest.mark.parametrize("level", [-30.0, -12.0, -3.0])
def test_rms_detector_is_sine_calibrated(eng, level):
    configure(eng, detector="rms", rms_window=10, threshold=0, ratio=1)
    run(eng, stereo(tone(level, 0.3)))
    assert abs(eng.meters()["detector_db"] - level) <= 0.25
    configure(eng, detector="peak", threshold=0, ratio=1)
    run(eng, stereo(tone(level, 0.3)))
    assert abs(eng.meters()["detector_db"] - level) <= 0.05


def test_rms_static_curve(eng):
    values = dict(threshold=-24, ratio=3, knee=6, detector="rms", rms_window=5)
    expect = settle_curve_db(LEVELS, values)
    got = [steady_out_db(eng, lv, **values) for lv in LEVELS]
    assert np.max(np.abs(np.array(got) - expect)) <= 0.25


@pytest.mark.parametrize("ratio", [1.5, 4.0, 20.0, 100.0])
def test_feedback_matches_feedforward(eng, ratio):
    lv = [-40.0, -25.0, -15.0, -5.0, 0.0]
    ff = [steady_out_db(eng, v, threshold=-30, ratio=ratio, knee=6) for v in lv]
    fb = [steady_out_db(eng, v, threshold=-30, ratio=ratio, knee=6, topology="feedback")
          for v in lv]
    assert np.max(np.abs(np.array(ff) - np.array(fb))) <= 0.5, (ff, fb)


def test_feedback_detector_reads_output(eng):
    """In feedback the detector integrates the compressed output: with the RMS
    detector the attack differs from feed-forward (it is a different loop)."""
    outs = []
    for topo in ("feedforward", "feedback"):
        configure(eng, threshold=-40, ratio=8, knee=0, attack=5, release=50, detector="rms",
                  rms_window=20, topology=topo)
        x = np.concatenate([tone(-50, 0.2), tone(-6, 0.3)])
        outs.append(run(eng, stereo(x))[:, 0])
    assert np.max(np.abs(outs[0] - outs[1])) > 1e-3


@pytest.mark.parametrize("link,expect_right_gr", [(0.0, 0.0), (50.0, 1.5), (100.0, 10.5)])
def test_link(eng, link, expect_right_gr):
    # left −6 dBFS: GR 0.75·14 = 10.5; right −30 dBFS: own level below T −20
    configure(eng, threshold=-20, ratio=4, knee=0, attack=1, release=30, link=link)
    xl, xr = tone(-6, 0.4), tone(-30, 0.4)
    y = run(eng, stereo(xl, xr))
    s = slice(int(0.3 * SR), int(0.38 * SR))
    gr_left = peak_db(xl[s]) - peak_db(y[s, 0])
    gr_right = peak_db(xr[s]) - peak_db(y[s, 1])
    # link L: the right channel's level is (1 − L)·(−30) + L·(−6) in dB
    assert abs(gr_left - 10.5) <= 0.25
    assert abs(gr_right - expect_right_gr) <= 0.25, gr_right


def test_sc_hpf(eng):
    # 40 Hz at −6 dBFS: full reduction with the filter off, none with a 500 Hz high-pass
    out_off = steady_out_db(eng, -6, freq=40.0, seconds=0.5, threshold=-20, ratio=4, knee=0)
    out_on = steady_out_db(eng, -6, freq=40.0, seconds=0.5, threshold=-20, ratio=4, knee=0,
                           sc_hpf=500)
    assert abs(out_off - (-20 + 14 / 4)) <= 0.5
    assert abs(out_on - (-6)) <= 0.25


def test_sc_hpf_20_is_exactly_off(eng):
    """A DC offset on the key: any high-pass would remove it within ms; at
    20 Hz the detector must still see it."""
    configure(eng, threshold=-20, ratio=4, knee=0, attack=1, release=30, sc_hpf=20)
    x = np.full(int(0.5 * SR), 0.5)
    y = run(eng, stereo(x))
    gr = 20 * np.log10(0.5 / abs(y[int(0.45 * SR), 0]))
    assert abs(gr - 0.75 * (20 * np.log10(0.5) + 20)) <= 0.05


@pytest.mark.parametrize("freq,fc", [(8000.0, 2000.0), (1000.0, 2000.0), (4000.0, 4000.0)])
def test_sc_lpf_is_a_butterworth_low_pass_on_the_key(eng, freq, fc):
    """The detector hears the key through 1/sqrt(1 + (f/fc)^4) (bilinear, so a
    little less high up); 20 kHz is exactly off."""
    rms = dict(threshold=0, ratio=1, detector="rms", rms_window=50)   # reads a sine's peak level
    configure(eng, sc_lpf=fc, **rms)
    run(eng, stereo(tone(-10, 0.6, freq=freq)))
    heard = eng.meters()["detector_db"]
    w, wc = np.tan(np.pi * freq / SR), np.tan(np.pi * fc / SR)      # the bilinear warp
    expect = -10 - 10 * np.log10(1 + (w / wc) ** 4)
    assert abs(heard - expect) <= 0.3, (heard, expect)
    configure(eng, sc_lpf=20000, **rms)
    run(eng, stereo(tone(-10, 0.6, freq=freq)))
    assert abs(eng.meters()["detector_db"] - (-10)) <= 0.1


def test_sc_lpf_20k_is_exactly_off(eng):
    """At 20 kHz the key is not filtered: output identical to the fast path's."""
    x = stereo(tone(-6, 0.3, freq=15000.0))
    configure(eng, threshold=-20, ratio=4, knee=0, sc_lpf=20000)
    a = run(eng, x)
    configure(eng, threshold=-20, ratio=4, knee=0)
    b = run(eng, x)
    assert np.array_equal(a, b)


@pytest.fixture(scope="module")
def eng_sc():
    return Engine(SR, 2, 2, 4096)


def test_external_key(eng_sc):
    e = eng_sc
    main = tone(-30, 0.4)
    key = tone(-6, 0.4, freq=300.0)
    configure(e, threshold=-20, ratio=4, knee=0, attack=1, release=30, sidechain="external")
    y = run(e, np.stack([main, main, key, key], 1))
    s = slice(int(0.3 * SR), int(0.38 * SR))
    assert abs(peak_db(main[s]) - peak_db(y[s, 0]) - 10.5) <= 0.25
    # a silent key: no reduction even for a loud main signal
    configure(e, threshold=-20, ratio=4, knee=0, sidechain="external")
    loud = tone(-3, 0.3)
    y = run(e, np.stack([loud, loud, 0 * loud, 0 * loud], 1))
    assert abs(peak_db(y[int(0.2 * SR): int(0.28 * SR), 0]) - (-3)) <= 0.05


def test_external_key_is_aligned_with_main_path(eng_sc):
    """The external key equal to the main input must act exactly like the
    internal key: it is delayed by DRIFT's latency like the main path."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(int(0.3 * SR)) * np.repeat(rng.uniform(0.01, 0.5, 30), int(0.01 * SR))
    outs = []
    for sc in ("internal", "external"):
        configure(eng_sc, threshold=-30, ratio=6, knee=0, attack=0.05, release=20, sidechain=sc)
        outs.append(run(eng_sc, np.stack([x, x, x, x], 1)))
    assert np.max(np.abs(outs[0] - outs[1])) <= 1e-6


def test_mono_sidechain_feeds_both_channels():
    e = Engine(SR, 2, 1, 1024)
    configure(e, threshold=-20, ratio=4, knee=0, attack=1, release=30, sidechain="external",
              link=0)
    main = tone(-30, 0.4)
    key = tone(-6, 0.4)
    y = run(e, np.stack([main, main, key], 1))
    s = slice(int(0.3 * SR), int(0.38 * SR))
    for ch in range(2):
        assert abs(peak_db(main[s]) - peak_db(y[s, ch]) - 10.5) <= 0.25


# --- lookahead, makeup, on/off ------------------------------------------------

@pytest.mark.parametrize("lookahead", [0.0, 2.5, 10.0])
def test_lookahead_latency_is_measured_delay(eng, lookahead):
    configure(eng, lookahead=lookahead, threshold=0, ratio=1)
    lat = eng.latency_samples
    x = np.zeros((4000, 2))
    x[100] = 0.5
    y = eng.process(x.astype(np.float32))
    assert int(np.argmax(np.abs(y[:, 0]))) - 100 == lat
    assert lat >= int(round(lookahead * SR / 1000))


def test_lookahead_catches_the_transient(eng):
    # an instant step: with 5 ms lookahead and 1 ms attack the gain is down before it arrives
    x = np.concatenate([tone(-40, 0.2), tone(0, 0.1)])
    over = []
    for la in (0.0, 5.0):
        configure(eng, lookahead=la, threshold=-20, ratio=100, knee=0, attack=1, release=50)
        y = run(eng, stereo(x))
        over.append(peak_db(y[int(0.2 * SR): int(0.21 * SR), 0]))
    assert over[1] < over[0] - 6, over


def test_lookahead_change_does_not_click(eng):
    configure(eng, threshold=0, ratio=1)
    x = tone(-6, 0.5, freq=440.0)
    run(eng, stereo(x[: SR // 4]))
    eng.set("lookahead", 7.0)
    y = eng.process(stereo(x[SR // 4:]).astype(np.float32)).astype(np.float64)
    step = np.max(np.abs(np.diff(y[:, 0])))
    assert step <= 1.2 * np.max(np.abs(np.diff(x))), step


def test_auto_makeup(eng):
    for values in (dict(threshold=-30, ratio=4, knee=6), dict(threshold=-24, ratio=2, knee=0,
                                                             threshold2=-20, ratio2=10)):
        out = steady_out_db(eng, -18.0, auto_makeup=1, **values)
        assert abs(out - (-18.0)) <= 0.5, (values, out)


def test_makeup(eng):
    out = steady_out_db(eng, -30.0, threshold=-20, ratio=4, makeup=6)
    assert abs(out - (-24.0)) <= 0.1


def test_settle_off_is_exact_and_fades(eng):
    x = tone(-6, 1.0, freq=220.0)
    configure(eng, settle_on=0, threshold=-30, ratio=8)
    off = run(eng, stereo(x))
    # off: the (delayed) input exactly, here with DRIFT off and the limiter off
    ref = np.float32(x).astype(np.float64)
    n = len(x) - eng.latency_samples
    assert np.max(np.abs(off[:n, 0] - ref[:n])) <= 1e-6
    # switching off while compressing fades the reduction out, no click
    configure(eng, settle_on=1, threshold=-30, ratio=8, knee=0)
    a = eng.process(stereo(x[: SR // 2]).astype(np.float32))
    eng.set("settle_on", 0)
    b = eng.process(stereo(x[SR // 2:]).astype(np.float32))
    y = np.concatenate([a, b])[:, 0].astype(np.float64)
    assert np.max(np.abs(np.diff(y))) <= 1.2 * np.max(np.abs(np.diff(x)))
    tail = y[-SR // 4:]
    lat = eng.latency_samples
    assert np.array_equal(tail, np.float32(x)[-SR // 4 - lat: len(x) - lat].astype(np.float64))


def test_settle_off_stage_is_bit_exact():
    """SETTLE alone, switched off: its output is its delayed input, bit for bit."""
    from numba import njit

    from engine.params import DEFAULTS, PID
    from engine.settle import settle_alloc, settle_control, settle_process, settle_reset

    @njit
    def run_stage(st, p, w):     # kernels are called from compiled code only
        for s in range(0, w.shape[1], 16):
            settle_control(st, p, float(SR))
            settle_process(st, p, w, w, s, 16, 0)

    st = settle_alloc(SR, 2, 64)
    p = DEFAULTS.copy()
    p[PID.settle_on] = 0
    p[PID.lookahead] = 1.0
    settle_reset(st)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 1600))
    w = x.copy()
    run_stage(st, p, w)
    d = 48
    assert np.array_equal(w[:, d:], x[:, :-d])


def test_gr_and_detector_meters(eng):
    configure(eng, threshold=-20, ratio=4, knee=0)
    run(eng, stereo(tone(-8, 0.3)))
    m = eng.meters()
    assert abs(m["settle_gr_db"] - 9.0) <= 0.1
    assert abs(m["detector_db"] - (-8.0)) <= 0.05


def test_linked_peak_fast_path_is_the_general_path(eng):
    """Twin test: the linked peak feed-forward fast path (_compress_linked_peak)
    against the general _compress on the same input. A link of 1 − 1e-9 takes the
    general path and moves the linked level by under 1e-9 of the channels'
    difference, so the two must agree to float32 rounding."""
    rng = np.random.default_rng(3)
    n = SR
    env = np.repeat(10 ** (rng.uniform(-40, -3, n // 480) / 20), 480)
    x = stereo(env * rng.standard_normal(n) * 0.3, 0.5 * env * rng.standard_normal(n) * 0.3)
    settings = dict(threshold=-24, ratio=4, knee=6, attack=2, release=60)
    configure(eng, link=100, **settings)
    fast = run(eng, x)
    gr_fast = eng.meters()["settle_gr_db"]
    configure(eng, link=100 * (1 - 1e-9), **settings)
    general = run(eng, x)
    assert np.max(np.abs(fast)) > 0.05
    assert np.max(np.abs(fast - general)) <= 2e-7
    assert abs(eng.meters()["settle_gr_db"] - gr_fast) <= 1e-5
    # and the fast path is taken: GR differs measurably once the link is really lower
    configure(eng, link=50, **settings)
    assert np.max(np.abs(run(eng, x) - fast)) > 1e-3
