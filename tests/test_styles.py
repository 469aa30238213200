"""SETTLE styles against dsp.md ("SETTLE styles"): opto, fet and varimu, each by
what a test can measure; clean is test_settle.py's (and stays bit-identical)."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import SR, configure, stereo, tone

from engine import Engine
from engine.curve import chain_curve_db, settle_curve_db

HOP = 64


@pytest.fixture(scope="module")
def eng():
    return Engine(SR, 2, 0, 512)


def run(eng, x, block=512):
    x = np.asarray(x, np.float32)
    return np.concatenate([eng.process(x[i:i + block]) for i in range(0, len(x), block)]).astype(float)


def gr_track(eng, x):
    """SETTLE's gain reduction meter every HOP samples."""
    x = np.asarray(x, np.float32)
    out = []
    for i in range(0, len(x), HOP):
        eng.process(x[i:i + HOP])
        out.append(eng.meters()["settle_gr_db"])
    return np.array(out)


def level_for_gr(values, gr_db):
    """The input level at which the style's static curve reduces by gr_db."""
    lo, hi = -60.0, 30.0
    for _ in range(60):
        m = 0.5 * (lo + hi)
        if m - settle_curve_db(np.array([m]), values)[0] < gr_db:
            lo = m
        else:
            hi = m
    return 0.5 * (lo + hi)


def harmonics_db(y, f):
    """(THD, H2, H3) in dB relative to the fundamental (Blackman window)."""
    n = len(y)
    spec = np.abs(np.fft.rfft(y * np.blackman(n))) ** 2

    def power(fr):
        k = int(round(fr * n / SR))
        return spec[max(k - 6, 0):k + 7].sum()

    f1 = power(f)
    hs = [power(h * f) for h in range(2, 11) if h * f < SR / 2]
    return tuple(10 * np.log10(v / f1) for v in (sum(hs), hs[0], hs[1]))


BASE = dict(settle_on=1, threshold=-30, ratio=100, knee=0, attack=5, release=100)


def steady_at_10db(eng, style, freq=1000.0):
    v = dict(BASE, style=style)
    lv = level_for_gr(v, 10.0)
    configure(eng, **v)
    y = run(eng, stereo(tone(lv, 1.6, freq)))[:, 0]
    return y[SR:SR + SR // 2], lv


@pytest.mark.parametrize("style,lo,hi,dominant", [
    ("opto", None, -70.0, None),
    ("fet", -40.0, -26.0, "odd"),
    ("varimu", -50.0, -35.0, "even"),
])
def test_harmonics_at_10db_of_reduction(eng, style, lo, hi, dominant):
    y, lv = steady_at_10db(eng, style)
    assert 20 * np.log10(np.max(np.abs(y))) == pytest.approx(lv - 10.0, abs=0.3)
    thd, h2, h3 = harmonics_db(y, 1000.0)
    assert thd <= hi and (lo is None or thd >= lo), thd
    if dominant == "odd":
        assert h3 > h2 + 20
    elif dominant == "even":
        assert h2 > h3 + 20


@pytest.mark.parametrize("style", ["opto", "fet", "varimu"])
def test_no_harmonics_without_reduction(eng, style):
    configure(eng, **dict(BASE, style=style, threshold=0))
    y = run(eng, stereo(tone(-20, 1.0, 1000.0)))[:, 0]
    assert harmonics_db(y[SR // 2:], 1000.0)[0] <= -80.0


@pytest.mark.parametrize("freq", [12000.0, 11000.0])
def test_fet_does_not_alias(eng, freq):
    """At 10 dB of reduction at 48 kHz: every component but the tone's own under
    −80 dBc (at 11 kHz the 3rd harmonic would fold to 15 kHz; at 12 kHz onto
    the tone itself)."""
    y, _ = steady_at_10db(eng, "fet", freq)
    n = len(y)
    spec = np.abs(np.fft.rfft(y * np.blackman(n))) ** 2
    k = int(round(freq * n / SR))
    ref = spec[k - 6:k + 7].sum()
    spec[k - 8:k + 9] = 0.0
    spec[:8] = 0.0
    worst = max(spec[j - 6:j + 7].sum() for j in range(8, len(spec) - 7, 4))
    assert 10 * np.log10(worst / ref) < -80.0


def _release_ms(eng, style, hold_s):
    v = dict(BASE, style=style, attack=1)
    configure(eng, **v)
    x = np.concatenate([tone(level_for_gr(v, 10.0), hold_s, 1000.0), tone(-40, 6.0, 1000.0)])
    g = gr_track(eng, stereo(x))
    k0 = int(hold_s * SR / HOP)
    g0 = g[k0 - 1]
    assert g0 == pytest.approx(10.0, abs=0.3)
    return np.argmax(g[k0:] <= g0 * (1 - 0.632)) * HOP * 1000.0 / SR


def test_opto_release_depends_on_how_long_it_worked(eng):
    long_ms, short_ms = _release_ms(eng, "opto", 5.0), _release_ms(eng, "opto", 0.05)
    assert long_ms >= 3.0 * short_ms, (long_ms, short_ms)
    # clean does not: the same both times
    assert _release_ms(eng, "clean", 5.0) == pytest.approx(_release_ms(eng, "clean", 0.05), abs=2)


def test_fet_release_is_program_dependent(eng):
    assert _release_ms(eng, "fet", 5.0) >= 1.5 * _release_ms(eng, "fet", 0.05)


def _attack_ms(eng, style, over_db):
    configure(eng, **dict(BASE, style=style, attack=20))
    x = np.concatenate([tone(-40, 0.5, 1000.0), tone(-30 + over_db, 0.5, 1000.0)])
    g = gr_track(eng, stereo(x))
    k0 = int(0.5 * SR / HOP)
    return np.argmax(g[k0:] >= 0.632 * g[-1]) * HOP * 1000.0 / SR


@pytest.mark.parametrize("style", ["opto", "fet"])
def test_attack_is_faster_for_larger_overshoots(eng, style):
    assert _attack_ms(eng, style, 20) <= 0.75 * _attack_ms(eng, style, 5)
    assert _attack_ms(eng, "clean", 20) == pytest.approx(_attack_ms(eng, "clean", 5), abs=1.5)


def test_opto_knee_is_soft_whatever_knee_says():
    v = dict(BASE, knee=0, drift_on=0, limiter_on=0)
    levels = np.array([-36.0, -33.0, -30.0, -27.0])
    clean = levels - settle_curve_db(levels, dict(v, style="clean"))
    opto = levels - settle_curve_db(levels, dict(v, style="opto"))
    assert clean[1] == 0.0 and opto[1] > 0.05          # 3 dB under T: inside a 10 dB knee
    assert opto[0] == 0.0                               # under T − 5: untouched
    assert opto[2] == pytest.approx(5.0 / 4.0, abs=1e-9)   # (W/2)²/(2W) at T, W = 10


@pytest.mark.parametrize("ratio", [2.0, 4.0, 10.0, 100.0])
def test_varimu_ratio_rises_with_level(eng, ratio):
    v = dict(BASE, style="varimu", ratio=ratio, drift_on=0, limiter_on=0)

    def slope(e):
        a = settle_curve_db(np.array([-30 + e - 0.05, -30 + e + 0.05]), v)
        return (a[1] - a[0]) / 0.1

    assert slope(3) >= 0.6
    inv = 0.0 if ratio >= 100 else 1.0 / ratio
    assert abs(slope(20) - inv) <= (0.2 * inv if inv else 0.02)
    # the engine follows its curve: a steady sine at T + 20
    configure(eng, **v)
    y = run(eng, stereo(tone(-10, 1.0, 1000.0)))[:, 0]
    out = 20 * np.log10(np.max(np.abs(y[SR // 2:])))
    assert out == pytest.approx(settle_curve_db(np.array([-10.0]), v)[0], abs=0.1)


def test_varimu_release_is_slower_and_smooth(eng):
    assert _release_ms(eng, "varimu", 2.0) >= 1.6 * _release_ms(eng, "clean", 2.0)


def test_the_curve_in_the_window_is_each_styles():
    v = dict(BASE, knee=0, drift_on=0, limiter_on=0)
    lv = np.array([-33.0, -27.0, -10.0])
    curves = {s: chain_curve_db(lv, dict(v, style=s)) for s in ("clean", "opto", "fet", "varimu")}
    assert np.array_equal(curves["clean"], curves["fet"])
    assert curves["opto"][0] < curves["clean"][0]         # the soft knee
    assert curves["varimu"][1] > curves["clean"][1] + 1.0  # gentler just over the threshold


def test_switching_style_is_click_free(eng):
    """Every style in turn, 150 ms each, on a compressed 220 Hz sine: no step
    larger than the sine's own (plus what its gain ramps add)."""
    s = stereo(tone(-14, 1.5, 220.0))
    configure(eng, **dict(BASE, attack=5, release=80))
    parts = []
    styles = ["opto", "fet", "varimu", "clean", "fet", "opto", "varimu", "clean"]
    block = int(0.15 * SR) // 512 * 512
    for k, i in enumerate(range(0, len(s), block)):
        if 1 <= k <= len(styles):
            eng.set("style", styles[k - 1])
        parts.append(run(eng, s[i:i + block]))
    y = np.concatenate(parts)[:, 0]
    natural = np.max(np.abs(np.diff(s[:, 0])))
    start = int(0.1 * SR)
    assert np.max(np.abs(np.diff(y[start:]))) <= 1.2 * natural
