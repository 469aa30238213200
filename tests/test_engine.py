"""Engine API: parameter errors, latency report, meters, and the static
curve of engine/curve.py against the running engine."""
from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import SR, configure, peak_db, run, stereo, tone

from engine import Engine, chain
from engine.curve import chain_curve_db
from engine.limiter import limiter_latency
from engine.params import PARAMS, param


@pytest.fixture(scope="module")
def eng():
    return Engine(SR, 2, 0, 4096)


def test_unknown_id_is_key_error(eng):
    with pytest.raises(KeyError, match="no_such_param"):
        eng.set("no_such_param", 1.0)
    with pytest.raises(KeyError):
        eng.get("no_such_param")


@pytest.mark.parametrize("pid,value", [("threshold", 5.0), ("ratio", 0.5), ("attack", 1000.0),
                                       ("ceiling", -30.0), ("mix", 101.0)])
def test_out_of_range_names_id_value_and_range(eng, pid, value):
    before = eng.get(pid)
    with pytest.raises(ValueError) as e:
        eng.set(pid, value)
    msg = str(e.value)
    assert pid in msg and f"{value:g}" in msg and ".." in msg
    assert eng.get(pid) == before


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_refused(eng, value):
    with pytest.raises(ValueError, match="threshold"):
        eng.set("threshold", value)


def test_enum_and_bool_values(eng):
    assert eng.set("detector", "rms") == 1.0
    assert eng.set("limiter_on", "off") == 0.0
    with pytest.raises(ValueError, match="topology"):
        eng.set("topology", "sideways")
    with pytest.raises(ValueError, match="bypass"):
        eng.set("bypass", 0.5)
    eng.set("detector", "peak")
    eng.set("limiter_on", 1)


def test_latency_report(eng):
    configure(eng, lookahead=0)
    base = eng.latency_samples
    assert base == chain.total_latency(SR, 0.0, param("drift_lookahead").default)
    assert base >= limiter_latency(SR) == round(0.5e-3 * SR)
    configure(eng, lookahead=4.0)
    assert eng.latency_samples == base + round(4e-3 * SR)
    eng.process(np.zeros((64, 2), np.float32))
    assert eng.meters()["latency_samples"] == base + round(4e-3 * SR)
    configure(eng, lookahead=0)


def test_latency_budget_at_48k():
    # DRIFT's share is its own; the limiter keeps within its 0.5 ms budget
    assert limiter_latency(48000) <= 24
    defaults = {p.id: p.default for p in PARAMS}
    assert chain.total_latency(48000.0, defaults["lookahead"], defaults["drift_lookahead"]) <= 72  # ≤ 1.5 ms


@pytest.mark.parametrize("values", [
    dict(threshold=-30, ratio=4, knee=6, makeup=3),
    dict(threshold=-35, ratio=2, threshold2=-15, ratio2=100, knee=4, auto_makeup=1),
    dict(gate_on=1, gate_threshold=-45, gate_ratio=3, gate_range=20, threshold=-20, ratio=3,
         input_gain=6),
    dict(threshold=-30, ratio=3, makeup=20, limiter_on=1, ceiling=-3),
    dict(threshold=-30, ratio=3, mix=50, output_gain=-4),
])
def test_chain_curve_matches_engine(eng, values):
    levels = [-60.0, -40.0, -25.0, -12.0, -3.0]
    v = dict(values, drift_on=0)
    v.setdefault("limiter_on", 0)
    expect = chain_curve_db(levels, v)
    for lv, ex in zip(levels, expect, strict=True):
        configure(eng, attack=1, release=30, gate_attack=1, gate_release=20, gate_hold=0, **v)
        y = run(eng, stereo(tone(lv, 0.35)))
        got = peak_db(y[int(0.25 * SR): int(0.33 * SR), 0])
        assert abs(got - ex) <= 0.3, (lv, got, ex)


def test_meters_snapshot(eng):
    configure(eng, threshold=-16, ratio=4, knee=0, gate_on=1, gate_threshold=-10, gate_ratio=2,
              gate_range=6, gate_release=20, release=20)
    run(eng, stereo(tone(-14, 0.3)))
    m = eng.meters()
    assert abs(m["in_peak_db"][0] - (-14)) <= 0.1
    assert abs(m["gate_gr_db"] - 4.0) <= 0.1          # (2 − 1)·(−10 − (−14))
    assert abs(m["detector_db"] - (-18)) <= 0.1       # SETTLE reads the gated signal
    assert m["settle_gr_db"] == pytest.approx(0.0, abs=0.05)


def test_engine_construction_errors():
    with pytest.raises(ValueError, match="samplerate"):
        Engine(8000, 2)
    with pytest.raises(ValueError, match="channels"):
        Engine(48000, 3)


def test_integer_samples_are_scaled_to_full_scale():
    """int16/int32 input (as read from PCM files) is scaled by its full scale, not
    read as floats (32767 would be +90 dBFS); unsigned samples are refused."""
    rng = np.random.default_rng(3)
    f = np.clip(rng.standard_normal((4800, 2)) * 0.2, -1, 0.999).astype(np.float32)
    outs = []
    for x in (f, np.round(f * 32768).astype(np.int16), np.round(f * 2.0 ** 31).astype(np.int32)):
        e = Engine(48000, 2, 0, 256)
        e.set("bypass", 1)
        outs.append(e.process(x))
    assert np.max(np.abs(outs[1] - outs[0])) <= 1 / 32768
    assert np.max(np.abs(outs[2] - outs[0])) <= 1e-6
    with pytest.raises(ValueError, match="unsigned"):
        Engine(48000, 2, 0, 256).process(np.zeros((16, 2), np.uint16))
