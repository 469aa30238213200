"""Listen against dsp.md ("Listen"): out, delta, drift, settle, key; aligned, click-free."""
from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import SR, configure, stereo, tone

from engine import Engine


@pytest.fixture(scope="module")
def eng():
    return Engine(SR, 2, 0, 256)


def run(eng, x, block=256):
    """(frames, 2) float64 through the engine block by block; the raw output."""
    x = x.astype(np.float32)
    return np.concatenate([eng.process(x[i:i + block]) for i in range(0, len(x), block)]).astype(
        np.float64)


def aligned(eng, x):
    lat = eng.latency_samples
    d = np.zeros_like(x, dtype=np.float64)
    d[lat:] = x[: len(x) - lat].astype(np.float32)
    return d


def program(seconds=1.0, seed=1):
    """Speech-like: noise bursts at −20 dBFS over −55 dBFS noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    env = np.repeat(np.where(rng.random(n // 2400 + 1) < 0.5, 0.1, 0.002), 2400)[:n]
    return stereo(env * rng.standard_normal(n), env * rng.standard_normal(n))


@pytest.mark.parametrize("lookahead", [0.0, 4.0])
def test_drift_is_what_drift_adds(eng, lookahead):
    """SETTLE set to reduce nothing, limiter off: the output is DRIFT's, delayed,
    so what DRIFT adds is exactly delta; the lookahead checks the alignment."""
    x = program()
    # the guard off: the gaps' noise is what DRIFT lifts here
    base = dict(drift_on=1, amount=80, drift_guard=0, settle_on=1, threshold=0, ratio=1,
                lookahead=lookahead)
    configure(eng, listen="delta", **base)
    delta = run(eng, x)
    configure(eng, listen="drift", **base)
    drift = run(eng, x)
    # DRIFT does lift here: the 50 ms gaps' noise (0.002 RMS, half the time)
    # rises while its release lets it, so what DRIFT adds is at least a quarter
    # of that noise; at rest it adds exactly nothing (tests/test_drift_path.py)
    assert np.sqrt(np.mean(np.square(drift))) > 0.25 * 0.002 * np.sqrt(0.5)
    assert np.max(np.abs(drift - delta)) <= 1e-6


@pytest.mark.parametrize("lookahead", [0.0, 3.0])
def test_settle_is_what_settle_removes_before_makeup(eng, lookahead):
    x = program(seed=2)
    base = dict(threshold=-30, ratio=4, attack=1, release=50, makeup=6, lookahead=lookahead)
    configure(eng, listen="out", **base)
    out = run(eng, x)
    configure(eng, listen="settle", **base)
    removed = run(eng, x)
    expect = aligned(eng, x) - out * 10 ** (-6 / 20)
    assert np.max(np.abs(removed)) > 0.01
    assert np.max(np.abs(removed - expect)) <= 1e-6


def test_key_is_the_detector_input_aligned(eng):
    """With no sidechain filter the key is the input, delayed exactly by the
    reported latency; with sc_hpf at 1 kHz a 100 Hz tone is gone from it and a
    5 kHz tone is not."""
    x = program(seed=3)
    configure(eng, listen="key", lookahead=2.0)
    assert np.max(np.abs(run(eng, x) - aligned(eng, x))) <= 1e-7
    lo, hi = tone(-20, 0.5, 100.0), tone(-20, 0.5, 5000.0)
    configure(eng, listen="key", sc_hpf=1000)
    y_lo = run(eng, stereo(lo))[SR // 4:, 0]
    configure(eng, listen="key", sc_hpf=1000)
    y_hi = run(eng, stereo(hi))[SR // 4:, 0]
    assert 20 * np.log10(np.max(np.abs(y_lo)) / 0.1) < -30
    assert abs(20 * np.log10(np.max(np.abs(y_hi)) / 0.1)) < 0.5


def test_switching_is_click_free_and_out_comes_back_exact(eng):
    """Through every choice while a sine plays: no step larger than the signals'
    own (each is a delayed, scaled sine here); back on out, once the lines have
    emptied, the output is bit-identical to never having listened."""
    s = stereo(tone(-12, 3.0, 220.0))
    base = dict(drift_on=0, threshold=-30, ratio=4, makeup=3, lookahead=1)
    configure(eng, listen="out", **base)
    ref = run(eng, s)
    configure(eng, listen="out", **base)
    parts = []
    choices = ["delta", "drift", "settle", "key", "out"]
    block = 2400
    for k, i in enumerate(range(0, len(s), block)):
        if 1 <= k <= len(choices):
            eng.set("listen", choices[k - 1])
        parts.append(eng.process(s[i:i + block].astype(np.float32)))
    y = np.concatenate(parts).astype(np.float64)[:, 0]
    natural = np.max(np.abs(np.diff(s[:, 0])))
    start = eng.latency_samples + 100
    assert np.max(np.abs(np.diff(y[start:]))) <= 1.5 * natural
    settled = (len(choices) + 1) * block + 4096
    assert np.array_equal(y[settled:], ref[settled:, 0])


def test_old_delta_loads_as_listen(tmp_path):
    from app.presets import load_preset
    for old, new in ((True, 1.0), (False, 0.0)):
        path = tmp_path / f"old{int(old)}.json"
        path.write_text(json.dumps({"format": "uplift-preset", "version": 1,
                                    "values": {"delta": old, "amount": 40}}))
        v = load_preset(str(path))
        assert v["listen"] == new and v["amount"] == 40 and "delta" not in v
