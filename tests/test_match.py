"""Level match against dsp.md ("Level match"), with pyloudnorm as the loudness reference."""
from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest
from helpers import SR, configure
from material import _pink

from app.presets import factory_presets, load_preset
from engine import Engine

BLOCK = 512


@pytest.fixture(scope="module")
def eng():
    return Engine(SR, 2, 0, BLOCK)


def pink(seconds, rms_db, seed=3):
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    return np.stack([_pink(n, rng), _pink(n, rng)], axis=1) * 10 ** (rms_db / 20)


def process(eng, x, meter=None):
    """Block by block; with `meter`, also that meter after every block."""
    out, track = [], []
    x = x.astype(np.float32)
    for i in range(0, len(x), BLOCK):
        out.append(eng.process(x[i:i + BLOCK]))
        if meter:
            track.append(eng.meters()[meter])
    y = np.concatenate(out).astype(np.float64)
    return (y, np.array(track)) if meter else y


def lufs(x):
    return pyloudnorm.Meter(SR).integrated_loudness(x)


def test_engine_loudness_is_pyloudnorm(eng):
    """The engine's K-weighted short-term loudness of a steady signal is
    BS.1770's, as pyloudnorm measures it, at the input and after processing."""
    configure(eng, match=1, drift_on=1, amount=60, threshold=-30, ratio=4)
    x = pink(8, -26) * np.array([1.0, 0.5])
    y = process(eng, x)
    m = eng.meters()
    assert abs(m["match_in_lufs"] - lufs(x[-3 * SR:])) <= 0.1
    # the processed path is measured before the match gain: the output less that gain
    pre = y[-3 * SR:] / 10 ** (m["match_db"] / 20)
    assert abs(m["match_out_lufs"] - lufs(pre)) <= 0.2


@pytest.mark.parametrize("name", sorted(factory_presets()))
def test_every_preset_is_matched_within_1_lu_on_pink_noise(eng, name):
    values = load_preset(name)
    x = pink(14, -24)
    tail = slice(-6 * SR, None)
    diff = {}
    for match in (0, 1):
        configure(eng, **dict(values, match=match))
        y = process(eng, x)
        diff[match] = lufs(y[tail]) - lufs(x[tail])
    assert abs(diff[1]) <= 1.0, (name, diff)
    # the correction shown is what the preset adds
    assert abs(eng.meters()["match_db"] + diff[0]) <= 1.0


def test_match_changes_loudness_when_the_chain_does(eng):
    """The presets test above could pass with no match at all if the presets did
    not change loudness: here the chain adds 9 dB and match takes it back."""
    x = pink(12, -30)
    configure(eng, drift_on=0, settle_on=0, output_gain=9, match=0)
    plain = process(eng, x)
    configure(eng, drift_on=0, settle_on=0, output_gain=9, match=1)
    y, track = process(eng, x, "match_db")
    tail = slice(-5 * SR, None)
    assert lufs(plain[tail]) - lufs(x[tail]) == pytest.approx(9.0, abs=0.05)
    assert abs(lufs(y[tail]) - lufs(x[tail])) <= 0.1
    assert track[-1] == pytest.approx(-9.0, abs=0.05)


def test_switching_is_slow_and_click_free_and_off_is_exact(eng):
    x = pink(12, -30)
    configure(eng, drift_on=0, settle_on=0, output_gain=9, match=0)
    ref = process(eng, x)
    configure(eng, drift_on=0, settle_on=0, output_gain=9, match=1)
    parts, track = [], []
    for k, i in enumerate(range(0, len(x), BLOCK)):
        if k == 6 * SR // BLOCK:
            eng.set("match", 0)
        parts.append(eng.process(x[i:i + BLOCK].astype(np.float32)))
        track.append(eng.meters()["match_db"])
    y = np.concatenate(parts).astype(np.float64)
    track = np.array(track)
    per_block = np.abs(np.diff(track))
    # the gain glides at 20 dB/s: 0.21 dB per 10.7 ms block
    assert per_block.max() <= 0.22
    assert track[int(5.9 * SR / BLOCK)] == pytest.approx(-9.0, abs=0.1)
    # off: back to 0 dB, and from then on the output is the unmatched output, bit for bit
    assert track[-1] == 0.0
    back = int(9 * SR)
    assert np.array_equal(y[back:], ref[back:])
    # on: the first 0.4 s hold the gain while the loudness is measured
    assert np.all(track[: int(0.35 * SR / BLOCK)] == 0.0)


def test_range_pauses_and_the_ceiling(eng):
    """±18 dB at most; a pause (digital silence) does not pull the gain; and
    the ceiling still holds with the gain up."""
    quiet = pink(10, -20)
    configure(eng, drift_on=0, settle_on=0, output_gain=-24, match=1, limiter_on=1, ceiling=-1)
    _, track = process(eng, quiet, "match_db")
    assert track[-1] == pytest.approx(18.0, abs=1e-9)
    x = np.concatenate([pink(6, -30), np.zeros((3 * SR, 2))])
    configure(eng, drift_on=0, settle_on=0, output_gain=6, match=1)
    _, track = process(eng, x, "match_db")
    at_pause = track[int(6 * SR / BLOCK)]
    assert at_pause == pytest.approx(-6.0, abs=0.2)
    assert abs(track[-1] - at_pause) <= 0.05
    loud = pink(6, -8)
    configure(eng, drift_on=0, settle_on=0, output_gain=-12, match=1, limiter_on=1, ceiling=-1)
    y = process(eng, loud)
    assert np.max(np.abs(y)) <= 10 ** (-1 / 20)


def test_render_leaves_match_off_unless_asked(tmp_path):
    """A preset file that holds match (hand-written: saved presets leave it out)
    renders unmatched; `--set match=1` renders matched."""
    import json

    import soundfile as sf

    from app.cli import main
    src = tmp_path / "in.wav"
    x = pink(4, -30)
    sf.write(src, x, SR, subtype="FLOAT")
    preset = tmp_path / "loud.json"
    preset.write_text(json.dumps({"format": "uplift-preset", "version": 1,
                                  "values": {"drift_on": False, "settle_on": False,
                                             "output_gain": 9, "match": True}}))
    tail = slice(-SR, None)
    for extra, expect in (([], 9.0), (["--set", "match=1"], 0.0)):
        out = tmp_path / f"out{len(extra)}.wav"
        assert main(["render", str(src), str(out), "--preset", str(preset), *extra]) == 0
        y, _ = sf.read(out)
        assert lufs(y[tail]) - lufs(x[tail]) == pytest.approx(expect, abs=0.2)
