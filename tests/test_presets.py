"""Presets and settings: factory presets, user preset files, refusal of bad files."""
from __future__ import annotations

import json
import math
import os
import stat

import pytest

from app import presets as P
from app import settings as S
from engine.params import BY_ID, PARAMS

REQUIRED = ["Vocal tracking", "Vocal breath and consonants", "Drum room", "Piano sustain",
            "Hi-hat air", "Bus glue", "Bus detail", "Sub-bass evening", "De-esser"]


@pytest.fixture(autouse=True)
def config_dir(tmp_path, monkeypatch):
    d = tmp_path / "config"
    monkeypatch.setenv("UPLIFT_CONFIG_DIR", str(d))
    return d


# --- settings ----------------------------------------------------------------------

def test_config_dir_from_env_and_platformdirs(config_dir, monkeypatch):
    assert S.config_dir() == config_dir
    assert not config_dir.exists()                 # reading never creates it
    assert S.load_settings() == {}
    monkeypatch.delenv("UPLIFT_CONFIG_DIR")
    import platformdirs
    assert str(S.config_dir()) == platformdirs.user_config_dir("uplift", appauthor=False)


def test_settings_atomic_write_and_merge(config_dir):
    S.save_settings({"device": "hw:2", "window": [1, 2]})
    S.update_settings(midi=[{"param": "amount", "channel": 1, "cc": 7, "resolution": 7}])
    data = json.loads((config_dir / "settings.json").read_text())
    assert data["device"] == "hw:2" and data["midi"][0]["cc"] == 7
    assert sorted(p.name for p in config_dir.iterdir()) == [S.LOCK_FILE, "settings.json"]
    mode = stat.S_IMODE((config_dir / "settings.json").stat().st_mode)
    assert mode & 0o600 == 0o600
    with pytest.raises(ValueError):
        S.save_settings({"x": float("nan")})       # never writes non-JSON
    assert json.loads((config_dir / "settings.json").read_text()) == data


def test_two_processes_updating_settings_lose_nothing(config_dir):
    """Two real processes, each setting 150 keys of its own by read-modify-write
    at the same time: every key of both is in the file afterwards."""
    import subprocess
    import sys
    code = ("import sys\nfrom app import settings as S\n"
            "for i in range(150):\n    S.update_settings(**{f'{sys.argv[1]}{i}': i})\n")
    env = dict(os.environ, UPLIFT_CONFIG_DIR=str(config_dir))
    procs = [subprocess.Popen([sys.executable, "-c", code, tag], env=env) for tag in "ab"]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    data = S.load_settings()
    assert sorted(data) == sorted(f"{t}{i}" for t in "ab" for i in range(150))


def test_failed_write_leaves_old_file(config_dir, monkeypatch):
    S.save_settings({"a": 1})
    before = (config_dir / "settings.json").read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(S.SettingsError) as e:
        S.save_settings({"a": 2})
    assert "settings.json" in str(e.value) and "No space" in str(e.value)
    assert (config_dir / "settings.json").read_bytes() == before
    assert sorted(p.name for p in config_dir.iterdir()) == [S.LOCK_FILE, "settings.json"]  # no temp


@pytest.mark.parametrize("text,needle", [
    ("", "empty"), ('{"a": ', "truncated"), ("[1, 2]", "object"), (b"\xff\xfe\x00", "UTF-8"),
])
def test_corrupt_settings_named(config_dir, text, needle):
    config_dir.mkdir(parents=True)
    path = config_dir / "settings.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(S.SettingsError) as e:
        S.load_settings()
    assert str(path) in str(e.value) and needle in str(e.value)
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    with pytest.raises(S.SettingsError):
        S.update_settings(midi=[])                 # a hand-edited file is never clobbered
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


# --- factory presets -----------------------------------------------------------

def test_factory_presets_cover_the_jobs_and_validate():
    fp = P.factory_presets()
    for name in REQUIRED:
        assert name in fp
    assert P.DEFAULT_PRESET == "Vocal tracking"
    assert [n for n, kind in P.list_presets() if kind == "factory"] == list(fp)
    for name, values in fp.items():
        for k, v in values.items():
            p = BY_ID[k]                            # only known ids
            assert p.validate(v) is not None
            if p.kind == "enum":
                assert v in p.choices, (name, k)    # enums as their words
            if p.kind == "bool":
                assert isinstance(v, bool), (name, k)
        full = P.load_preset(name)
        assert set(full) == {p.id for p in PARAMS}
        for p in PARAMS:
            assert p.validate(full[p.id]) == full[p.id] and math.isfinite(full[p.id])
        assert full["bypass"] == 0.0 and full["listen"] == 0.0
        assert full["limiter_on"] == 1.0             # every preset protects the output
    fp["Drum room"]["amount"] = 0                    # callers get copies
    assert P.factory_presets()["Drum room"]["amount"] == 70.0


def test_factory_presets_do_their_jobs():
    v = {n: P.load_preset(n) for n in REQUIRED}
    # upward-first presets lift; the bus-glue preset is downward only
    for n in ("Vocal breath and consonants", "Drum room", "Piano sustain", "Hi-hat air",
              "Bus detail"):
        assert v[n]["drift_on"] == 1.0 and v[n]["amount"] >= 35, n
    assert v["Bus glue"]["drift_on"] == 0.0 and v["Bus glue"]["ratio"] <= 2.5
    assert v["Bus glue"]["attack"] >= 10 and v["Bus glue"]["sc_hpf"] > 20
    assert v["Piano sustain"]["drift_release"] >= 400                  # slow release
    assert v["Vocal breath and consonants"]["amount"] > v["Vocal tracking"]["amount"]
    assert v["Sub-bass evening"]["sc_hpf"] > 20
    assert v["Sub-bass evening"]["detector"] == BY_ID["detector"].choices.index("rms")
    assert v["Sub-bass evening"]["rms_window"] >= 25                   # longer than a 40 Hz cycle
    # keyed by the sibilance band, a de-esser only
    assert v["De-esser"]["sc_hpf"] >= 4000 and v["De-esser"]["drift_on"] == 0.0


def test_default_vocal_tracking_latency_within_1ms():
    vt = P.load_preset(P.DEFAULT_PRESET)
    assert vt["lookahead"] == 0.0
    latency = P.preset_latency_samples(vt, 48000)
    assert latency <= 0.001 * 48000, f"vocal tracking latency {latency} samples > 1.0 ms"


# --- user presets ----------------------------------------------------------------

def test_save_load_round_trip_and_file_format(config_dir):
    values = P.load_preset("Piano sustain")
    values["amount"] = 47.25
    values["detector"] = "peak"                         # words are fine too
    values["bypass"] = 1.0                              # monitoring: not saved
    path = P.save_user_preset("My piano", values)
    assert path == config_dir / "presets" / "My piano.json"
    doc = json.loads(path.read_text())
    assert doc["format"] == "uplift-preset" and doc["version"] == 1
    assert doc["name"] == "My piano"
    assert doc["values"]["detector"] == "peak" and doc["values"]["topology"] == "feedback"
    assert doc["values"]["gate_on"] is False and doc["values"]["settle_on"] is True
    assert "bypass" not in doc["values"] and "listen" not in doc["values"]
    loaded = P.load_preset("My piano")
    expect = dict(values, detector=0.0, bypass=0.0)
    assert loaded == expect
    assert ("My piano", "user") in P.list_presets()
    assert P.load_preset("my-piano") == loaded          # loose lookup for the CLI
    assert P.load_preset(str(path)) == loaded           # or a path
    assert sorted(p.name for p in path.parent.iterdir()) == ["My piano.json"]
    # partial values: the rest at defaults
    P.save_user_preset("Tiny", {"amount": 10})
    t = P.load_preset("Tiny")
    assert t["amount"] == 10.0 and t["threshold"] == BY_ID["threshold"].default
    # overwrite, delete
    P.save_user_preset("Tiny", {"amount": 20})
    assert P.load_preset("Tiny")["amount"] == 20.0
    P.delete_user_preset("Tiny")
    assert ("Tiny", "user") not in P.list_presets()
    with pytest.raises(P.PresetError):
        P.load_preset("Tiny")
    with pytest.raises(P.PresetError):
        P.delete_user_preset("Tiny")


def test_save_refuses_bad_names_and_values(config_dir):
    for bad in ("", "  ", "../evil", "a/b", ".hidden", "x" * 101, "nul\x00"):
        with pytest.raises(P.PresetError):
            P.save_user_preset(bad, {})
    with pytest.raises(P.PresetError, match="factory"):
        P.save_user_preset("vocal tracking", {})
    with pytest.raises(P.PresetError, match="factory"):
        P.delete_user_preset("Bus glue")
    with pytest.raises(P.PresetError, match="no_such"):
        P.save_user_preset("x", {"no_such": 1})
    with pytest.raises(P.PresetError, match="threshold"):
        P.save_user_preset("x", {"threshold": 5})
    with pytest.raises(P.PresetError, match="amount"):
        P.save_user_preset("x", {"amount": float("inf")})
    assert not (config_dir / "presets" / "x.json").exists()


def test_bools_accept_what_parameters_md_allows(config_dir):
    d = config_dir / "presets"
    d.mkdir(parents=True)
    for i, v in enumerate([True, False, 0, 1, "on", "off", "true", "false"]):
        (d / f"b{i}.json").write_text(json.dumps(
            {"format": "uplift-preset", "version": 1, "name": f"b{i}", "values": {"gate_on": v}}))
        want = 1.0 if v in (True, 1, "on", "true") else 0.0
        assert P.load_preset(f"b{i}")["gate_on"] == want


def _preset_file(config_dir, name, content):
    d = config_dir / "presets"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{name}.json"
    if isinstance(content, (dict, list)):
        content = json.dumps(content)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _doc(values, **kw):
    d = {"format": "uplift-preset", "version": 1, "name": "bad", "values": values}
    d.update(kw)
    return d


GOOD = json.dumps(_doc({"amount": 40, "detector": "rms", "gate_on": True}), indent=2)

BAD_FILES = [
    ("not json", "this is not json", ["not valid JSON"]),
    ("truncated", GOOD[: len(GOOD) // 2], ["truncated"]),
    ("empty", "", ["empty"]),
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00", ["UTF-8"]),
    ("top-level list", [1, 2], ["object"]),
    ("wrong format", _doc({}, format="something-else"), ["'format'"]),
    ("no version", {"format": "uplift-preset", "values": {}}, ["'version'"]),
    ("newer version", _doc({}, version=2), ["'version'", "newer"]),
    ("version as text", _doc({}, version="1"), ["'version'"]),
    ("no values", {"format": "uplift-preset", "version": 1}, ["'values'"]),
    ("values a list", _doc([1, 2]), ["'values'"]),
    ("name a number", _doc({}, name=5), ["'name'"]),
    ("unknown id", _doc({"amount": 40, "warmth": 3}), ["values.warmth", "unknown"]),
    ("out of range", _doc({"threshold": 12}), ["values.threshold", "12", "-60"]),
    ("below range", _doc({"ratio": 0.5}), ["values.ratio", "0.5"]),
    ("NaN", '{"format": "uplift-preset", "version": 1, "values": {"amount": NaN}}',
     ["values.amount", "finite"]),
    ("Infinity", '{"format": "uplift-preset", "version": 1, "values": {"makeup": -Infinity}}',
     ["values.makeup", "finite"]),
    ("overflow", '{"format": "uplift-preset", "version": 1, "values": {"knee": 1e999}}',
     ["values.knee", "finite"]),
    ("number as text", _doc({"threshold": "-20"}), ["values.threshold", "number"]),
    ("number as bool", _doc({"mix": True}), ["values.mix", "number"]),
    ("number as null", _doc({"mix": None}), ["values.mix", "null"]),
    ("number as list", _doc({"mix": [50]}), ["values.mix"]),
    ("enum bad word", _doc({"detector": "loud"}), ["values.detector", "peak", "rms"]),
    ("enum as index", _doc({"topology": 1}), ["values.topology"]),
    ("bool out of range", _doc({"gate_on": 2}), ["values.gate_on"]),
    ("bool bad word", _doc({"bypass": "maybe"}), ["values.bypass"]),
    ("bool as object", _doc({"limiter_on": {}}), ["values.limiter_on"]),
    ("duplicate key", '{"format": "uplift-preset", "version": 1, "values": {"mix": 50, "mix": 80}}',
     ["'mix'", "twice"]),
    ("huge integer", '{"format": "uplift-preset", "version": 1, "values": {"mix": 1%s}}' % ("0" * 5000),
     ["digits"]),
    ("over 1 MB", '{"format": "uplift-preset", "version": 1, "values": {}, "notes": "%s"}'
     % ("x" * (1 << 20)), ["too large"]),
]


@pytest.mark.parametrize("label,content,needles", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_preset_refused_naming_file_and_field_and_unchanged(config_dir, label, content,
                                                                 needles):
    path = _preset_file(config_dir, "hand edited", content)
    os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    listing_before = sorted(p.name for p in config_dir.rglob("*"))
    assert ("hand edited", "user") in P.list_presets()       # listed, refused on load
    with pytest.raises(P.PresetError) as e:
        P.load_preset("hand edited")
    msg = str(e.value)
    assert str(path) in msg, msg
    for n in needles:
        assert n in msg, (n, msg)
    assert "\n" not in msg and "Traceback" not in msg
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in config_dir.rglob("*")) == listing_before
    assert isinstance(e.value, ValueError)                  # CLI one-line errors catch it


def test_unknown_and_ambiguous_names(config_dir):
    with pytest.raises(P.PresetError, match="no preset named"):
        P.load_preset("nope")
    _preset_file(config_dir, "Same Name", _doc({}))
    _preset_file(config_dir, "same-name", _doc({}))
    assert P.load_preset("Same Name")["amount"] == 30.0     # exact match wins
    with pytest.raises(P.PresetError, match="ambiguous"):
        P.load_preset("SAME NAME")
    # hidden / temporary files are not presets
    _preset_file(config_dir, ".x.tmp", "junk")
    assert all(not n.startswith(".") for n, _ in P.list_presets())


def test_loaded_preset_drives_a_validated_engine_path():
    """load_preset's result is what Engine.update takes (validated by the same table)."""
    from engine.params import param
    for name, _ in P.list_presets():
        values = P.load_preset(name)
        checked = {k: param(k).validate(v) for k, v in values.items()}
        assert checked == values


def test_factory_presets_are_data_holding_only_their_differences():
    """app/presets/factory/*.json: the user-preset format, read by the same
    validator, each value different from the table's default, and why."""
    import json

    from engine.params import BY_ID
    files = sorted(P.FACTORY_DIR.glob("*.json"))
    assert len(files) == len(P.factory_presets()) >= 8
    for f in files:
        doc = json.loads(f.read_text())
        full = P.parse_preset(doc, str(f))
        assert isinstance(doc.get("about"), str) and len(doc["about"]) > 40, f
        for k in doc["values"]:
            assert full[k] != BY_ID[k].default, f"{f.name}: {k} is at its default"
