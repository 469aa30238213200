"""Factory and user presets (product.md, "Presets").

A preset is a dict {param_id: value} over the one parameter table
(engine/params.py). Factory presets live here, in code; user presets are JSON
files in <config>/presets/<name>.json (app/settings.py), written atomically:

    {"format": "uplift-preset", "version": 1, "name": "My vocal",
     "values": {"amount": 45.0, "detector": "rms", "gate_on": false, ...}}

Enums are written as their words and bools as true/false; reading also
accepts what parameters.md allows for bools (0/1, "on"/"off", "true"/"false").
A file that is not valid JSON, truncated, of the wrong shape, or holds an
unknown id, a value of the wrong type, out of range or not finite is refused
with a PresetError whose message names the file and the field. Loading never
writes anything.

`load_preset` returns the complete set of engine values (every id; floats,
enums as their index, bools 0.0/1.0 — the same form as Engine.values()), with
ids the preset does not mention at their defaults.

`bypass` and `delta` are monitoring switches, not part of a sound: user
presets are saved without them (a file that has them is still accepted), and
factory presets leave them off. Callers that want to keep the current
monitoring state across a preset change drop SESSION_ONLY from the result.
"""
from __future__ import annotations

import math
import os
import re
from pathlib import Path

from engine.params import BY_ID, PARAMS, Param, param

from .settings import SettingsError, atomic_write_json, presets_dir, read_json
import contextlib

FORMAT = "uplift-preset"
VERSION = 1
SESSION_ONLY = ("bypass", "delta")

DEFAULT_PRESET = "Vocal tracking"


class PresetError(ValueError):
    """A preset that cannot be found, loaded or saved; the message names the
    file (or preset) and the field."""


# --- factory presets -------------------------------------------------------
#
# Values are in the table's units; enums as words, bools as True/False. Every
# preset states the whole chain it relies on, so the result does not depend
# on defaults changing later. Reasoning, per job (background/000, 002, 003):
#
# Every preset that lifts keeps DRIFT's noise guard at 6 dB: the room between
# phrases stays where it was (measured on real material: tests/preset_figures.py,
# the README's table), and makeup stays small enough that it does not lift the
# room either (at most +2 dB in the gaps of the speech take).
#
# Vocal tracking: the singer hears this live, so latency first: lookahead 0
#   (DRIFT's filterbank and the limiter's fixed lookahead are all there is).
#   Moderate DRIFT brings breath and diction forward; SETTLE at 3:1 with a
#   fast-ish attack holds phrase peaks, a second segment above -8 dBFS adds up
#   to 3+3 = 6:1 for shouted notes, sidechain HPF at 100 Hz keeps plosives
#   from pumping, 1 dB of makeup, limiter at -1 dBFS protects ears and the
#   recorder.
# Vocal breath and consonants: the mixing version; more AMOUNT, a higher
#   DRIFT threshold so "h", "f" and breaths 18 dB under the syllable rise,
#   fast DRIFT attack so the lift gets out of the way when the syllable comes,
#   gentle RMS-detected SETTLE after it, 2 ms lookahead (not for tracking).
# Drum room: heavy per-band lift under a -35 dBFS threshold with a fast (50 ms)
#   release and little memory, so the lift is back within the room's first
#   100 ms after each hit and pulls the room up between hits; the guard keeps
#   the hiss under it where it was (no pumping). SETTLE at 4:1 with a 15 ms
#   attack lets the transients through and controls the hits; HPF keeps the
#   kick out of it.
# Piano sustain: lift the decaying tail: a -32 dBFS threshold the tails fall
#   under seconds after the attack, slow release and high memory so the lift
#   holds through long notes; soft feedback SETTLE with a wide knee and RMS
#   detection so the attacks are smoothed, not squashed.
# Hi-hat air: per-band upward on 8-12 kHz (the seed's recipe): the focus range
#   7.5-13 kHz lifts only the air bands, a -30 dBFS threshold lifts the ghost
#   strokes and decays and not the accents; no gate and no SETTLE, so nothing
#   below 6 kHz changes.
# Bus glue: the classic bus compressor, downward only: 2:1, 30 ms attack,
#   200 ms release, soft knee, 90 Hz sidechain HPF so the kick does not pump
#   the mix; a couple of dB of makeup.
# Bus detail: per-band upward at a low threshold, capped at 9 dB, so the mix
#   gains detail not depth; only a touch of wide-knee SETTLE on top.
# Sub-bass evening: DRIFT focused below 160 Hz brings quiet notes up a little,
#   then RMS SETTLE at 4:1 from -20 dBFS with a 50 ms window (longer than a
#   40 Hz cycle, so the detector does not ripple and distort) and slow
#   30/250 ms timing evens the level; 2 dB of makeup keeps the sub's level;
#   sc_hpf at 30 Hz removes infrasonic rumble from the detector.

_FACTORY: dict[str, dict] = {
    "Vocal tracking": dict(
        input_gain=0.0, output_gain=0.0, mix=100.0,
        gate_on=False,
        drift_on=True, amount=30.0, drift_threshold=-42.0, drift_max_lift=12.0,
        drift_attack=1.0, drift_release=120.0, drift_memory=40.0,
        drift_low=20.0, drift_high=20000.0, drift_guard=6.0,
        settle_on=True, threshold=-20.0, ratio=3.0, threshold2=-8.0, ratio2=3.0, knee=6.0,
        attack=5.0, release=100.0, smooth=0.0, detector="peak", rms_window=10.0,
        topology="feedforward", link=100.0, lookahead=0.0, sc_hpf=100.0,
        sidechain="internal", makeup=1.0, auto_makeup=False,
        limiter_on=True, ceiling=-1.0,
    ),
    "Vocal breath and consonants": dict(
        input_gain=0.0, output_gain=0.0, mix=100.0,
        gate_on=False,
        drift_on=True, amount=60.0, drift_threshold=-34.0, drift_max_lift=18.0,
        drift_attack=0.5, drift_release=80.0, drift_memory=30.0,
        drift_low=20.0, drift_high=20000.0, drift_guard=6.0,
        settle_on=True, threshold=-18.0, ratio=2.5, threshold2=0.0, ratio2=1.0, knee=8.0,
        attack=8.0, release=120.0, smooth=0.0, detector="rms", rms_window=10.0,
        topology="feedforward", link=100.0, lookahead=2.0, sc_hpf=120.0,
        sidechain="internal", makeup=1.0, auto_makeup=False,
        limiter_on=True, ceiling=-1.0,
    ),
    "Drum room": dict(
        input_gain=0.0, output_gain=0.0, mix=100.0,
        gate_on=False,
        drift_on=True, amount=70.0, drift_threshold=-35.0, drift_max_lift=20.0,
        drift_attack=2.0, drift_release=50.0, drift_memory=10.0,
        drift_low=20.0, drift_high=20000.0, drift_guard=6.0,
        settle_on=True, threshold=-16.0, ratio=4.0, threshold2=0.0, ratio2=1.0, knee=4.0,
        attack=15.0, release=80.0, smooth=0.0, detector="peak", rms_window=10.0,
        topology="feedforward", link=100.0, lookahead=0.0, sc_hpf=80.0,
        sidechain="internal", makeup=0.0, auto_makeup=False,
        limiter_on=True, ceiling=-0.3,
    ),
    "Piano sustain": dict(
        input_gain=0.0, output_gain=0.0, mix=100.0,
        gate_on=False,
        drift_on=True, amount=60.0, drift_threshold=-32.0, drift_max_lift=15.0,
        drift_attack=5.0, drift_release=600.0, drift_memory=70.0,
        drift_low=20.0, drift_high=20000.0, drift_guard=6.0,
        settle_on=True, threshold=-14.0, ratio=2.0, threshold2=0.0, ratio2=1.0, knee=10.0,
        attack=30.0, release=300.0, smooth=5.0, detector="rms", rms_window=30.0,
        topology="feedback", link=100.0, lookahead=0.0, sc_hpf=20.0,
        sidechain="internal", makeup=1.0, auto_makeup=False,
        limiter_on=True, ceiling=-0.3,
    ),
    "Hi-hat air": dict(
        input_gain=0.0, output_gain=0.0, mix=100.0,
        gate_on=False,
        drift_on=True, amount=80.0, drift_threshold=-30.0, drift_max_lift=12.0,
        drift_attack=0.3, drift_release=60.0, drift_memory=20.0,
        drift_low=7500.0, drift_high=13000.0, drift_guard=6.0,
        settle_on=False, threshold=-12.0, ratio=2.0, threshold2=0.0, ratio2=1.0, knee=6.0,
        attack=2.0, release=60.0, smooth=0.0, detector="peak", rms_window=10.0,
        topology="feedforward", link=100.0, lookahead=0.0, sc_hpf=200.0,
        sidechain="internal", makeup=0.0, auto_makeup=False,
        limiter_on=True, ceiling=-0.3,
    ),
    "Bus glue": dict(
        input_gain=0.0, output_gain=0.0, mix=100.0,
        gate_on=False,
        drift_on=False, amount=0.0,
        settle_on=True, threshold=-20.0, ratio=2.0, threshold2=0.0, ratio2=1.0, knee=6.0,
        attack=30.0, release=200.0, smooth=0.0, detector="peak", rms_window=10.0,
        topology="feedforward", link=100.0, lookahead=0.0, sc_hpf=90.0,
        sidechain="internal", makeup=1.5, auto_makeup=False,
        limiter_on=True, ceiling=-0.3,
    ),
    "Bus detail": dict(
        input_gain=0.0, output_gain=0.0, mix=100.0,
        gate_on=False,
        drift_on=True, amount=35.0, drift_threshold=-38.0, drift_max_lift=9.0,
        drift_attack=3.0, drift_release=200.0, drift_memory=60.0,
        drift_low=20.0, drift_high=20000.0, drift_guard=6.0,
        settle_on=True, threshold=-10.0, ratio=1.5, threshold2=0.0, ratio2=1.0, knee=12.0,
        attack=30.0, release=250.0, smooth=0.0, detector="rms", rms_window=20.0,
        topology="feedforward", link=100.0, lookahead=0.0, sc_hpf=60.0,
        sidechain="internal", makeup=0.0, auto_makeup=False,
        limiter_on=True, ceiling=-0.3,
    ),
    "Sub-bass evening": dict(
        input_gain=0.0, output_gain=0.0, mix=100.0,
        gate_on=False,
        drift_on=True, amount=25.0, drift_threshold=-40.0, drift_max_lift=8.0,
        drift_attack=10.0, drift_release=300.0, drift_memory=50.0,
        drift_low=20.0, drift_high=160.0, drift_guard=6.0,
        settle_on=True, threshold=-20.0, ratio=4.0, threshold2=0.0, ratio2=1.0, knee=6.0,
        attack=30.0, release=250.0, smooth=10.0, detector="rms", rms_window=50.0,
        topology="feedforward", link=100.0, lookahead=0.0, sc_hpf=30.0,
        sidechain="internal", makeup=2.0, auto_makeup=False,
        limiter_on=True, ceiling=-0.3,
    ),
}


def factory_presets() -> dict[str, dict]:
    """name -> {param_id: value} (enums as words, bools as True/False); copies."""
    return {name: dict(values) for name, values in _FACTORY.items()}


# --- names and files -------------------------------------------------------

_MAX_NAME = 100
_BAD_NAME = re.compile(r"[/\\\x00-\x1f\x7f:*?\"<>|]")


def _key(name: str) -> str:
    """Loose form for lookups: case, spaces, '-' and '_' do not matter."""
    return re.sub(r"[\s_\-]+", " ", name.strip().casefold())


def check_name(name) -> str:
    """A user preset name, or PresetError saying why it cannot be one."""
    if not isinstance(name, str):
        raise PresetError(f"preset name must be text, got {type(name).__name__}")
    n = name.strip()
    if not n:
        raise PresetError("preset name is empty")
    if len(n) > _MAX_NAME:
        raise PresetError(f"preset name is longer than {_MAX_NAME} characters")
    if n.startswith(".") or _BAD_NAME.search(n):
        raise PresetError(f"preset name {name!r} may not start with '.' or contain "
                          "/ \\ : * ? \" < > | or control characters")
    return n


def user_preset_path(name: str) -> Path:
    return presets_dir() / f"{check_name(name)}.json"


def _user_files() -> dict[str, Path]:
    d = presets_dir()
    try:
        entries = list(d.iterdir())
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise PresetError(f"{d}: cannot list presets: {e.strerror or e}") from None
    out = {}
    for p in entries:
        if p.suffix == ".json" and not p.name.startswith(".") and p.is_file():
            out[p.stem] = p
    return out


def list_presets() -> list[tuple[str, str]]:
    """[(name, "factory"|"user")]: factory presets in their order, then user
    presets sorted by name. A corrupt user file is listed (and refused on load)."""
    out = [(name, "factory") for name in _FACTORY]
    factory_keys = {_key(n) for n in _FACTORY}
    users = sorted(_user_files(), key=lambda n: (n.casefold(), n))
    out += [(n, "user") for n in users if _key(n) not in factory_keys]
    return out


def find_preset(name: str) -> tuple[str, str, Path | None]:
    """(canonical name, kind, path or None) for a preset name; exact match
    first, then a loose one (case, '-', '_' and spaces ignored)."""
    if not isinstance(name, str) or not name.strip():
        raise PresetError("preset name is empty")
    if name in _FACTORY:
        return name, "factory", None
    users = _user_files()
    if name in users:
        return name, "user", users[name]
    k = _key(name)
    matches = [(n, "factory", None) for n in _FACTORY if _key(n) == k]
    if not matches:
        matches = [(n, "user", p) for n, p in users.items() if _key(n) == k]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise PresetError(f"preset {name!r} is ambiguous: "
                          + ", ".join(repr(m[0]) for m in matches))
    known = ", ".join(n for n, _ in list_presets())
    raise PresetError(f"no preset named {name!r} (presets: {known})")


# --- values ----------------------------------------------------------------

def _check_value(p: Param, raw, where: str) -> float:
    """One value as read from a file: type-checked, then range-checked by the table."""
    if p.kind == "float":
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise PresetError(f"{where}: expected a number ({p.range_text}), "
                              f"got {_json_type(raw)} {raw!r}")
    elif p.kind == "bool":
        if isinstance(raw, bool):
            raw = int(raw)
        elif isinstance(raw, (int, float)):
            if raw not in (0, 1):
                raise PresetError(f"{where}: {raw!r} is out of range (true/false, 0/1, on/off)")
        elif isinstance(raw, str):
            if raw.strip().lower() not in ("0", "1", "on", "off", "true", "false"):
                raise PresetError(f"{where}: {raw!r} is not a valid value "
                                  "(true/false, 0/1, on/off)")
        else:
            raise PresetError(f"{where}: expected true/false, got {_json_type(raw)} {raw!r}")
    else:  # enum
        if not isinstance(raw, str):
            raise PresetError(f"{where}: expected one of {p.range_text}, "
                              f"got {_json_type(raw)} {raw!r}")
    try:
        return p.validate(raw)
    except ValueError as e:
        raise PresetError(f"{where}: {e}") from None


def _json_type(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


def complete(values: dict) -> dict:
    """Validate {id: value} (any form Param.validate takes) and fill every
    missing id with its default; returns engine values (enums as index).
    Unknown id -> KeyError, bad value -> ValueError, both naming the id."""
    out = {p.id: p.default for p in PARAMS}
    for k, v in values.items():
        p = param(k)
        out[p.id] = p.validate(v)
    return out


def to_file_values(values: dict) -> dict:
    """Engine values -> the file form: enums as words, bools as true/false."""
    out = {}
    for p in PARAMS:
        if p.id not in values:
            continue
        v = p.validate(values[p.id])
        if p.kind == "enum":
            out[p.id] = p.choices[int(v)]
        elif p.kind == "bool":
            out[p.id] = bool(v)
        else:
            out[p.id] = int(v) if v == int(v) and abs(v) < 1e15 else v
    return out


def parse_preset(obj, where: str = "preset") -> dict:
    """The complete engine values of a parsed preset document, or PresetError
    naming `where` (the file) and the field."""
    if not isinstance(obj, dict):
        raise PresetError(f"{where}: expected a JSON object at the top level, "
                          f"got {_json_type(obj)}")
    fmt = obj.get("format")
    if fmt != FORMAT:
        raise PresetError(f"{where}: field 'format': expected {FORMAT!r}, got {fmt!r}")
    version = obj.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise PresetError(f"{where}: field 'version': expected an integer, "
                          f"got {_json_type(version)} {version!r}")
    if version > VERSION:
        raise PresetError(f"{where}: field 'version': {version} was written by a newer "
                          f"Uplift (this one reads version {VERSION})")
    if version < 1:
        raise PresetError(f"{where}: field 'version': {version} is not a valid version")
    if "name" in obj and not isinstance(obj["name"], str):
        raise PresetError(f"{where}: field 'name': expected a string, "
                          f"got {_json_type(obj['name'])}")
    if "values" not in obj:
        raise PresetError(f"{where}: field 'values' is missing")
    raw = obj["values"]
    if not isinstance(raw, dict):
        raise PresetError(f"{where}: field 'values': expected an object {{id: value}}, "
                          f"got {_json_type(raw)}")
    out = {p.id: p.default for p in PARAMS}
    for k, v in raw.items():
        p = BY_ID.get(k)
        if p is None:
            raise PresetError(f"{where}: field 'values.{k}': unknown parameter id {k!r} "
                              "(see `uplift params`)")
        out[p.id] = _check_value(p, v, f"{where}: field 'values.{k}'")
    return out


def load_preset_file(path: Path | str) -> dict:
    """Complete engine values from a preset file anywhere on disk."""
    path = Path(path)
    try:
        obj = read_json(path)
    except SettingsError as e:
        raise PresetError(str(e)) from None
    return parse_preset(obj, str(path))


def load_preset(name: str) -> dict:
    """Complete engine values for a factory or user preset (or a path to a
    .json preset file); ids the preset does not set take their defaults."""
    if isinstance(name, (str, os.PathLike)) and str(name).endswith(".json") \
            and ("/" in str(name) or os.sep in str(name) or Path(name).is_file()):
        return load_preset_file(name)
    canonical, kind, path = find_preset(name)
    if kind == "factory":
        try:
            return complete(_FACTORY[canonical])
        except (KeyError, ValueError) as e:   # a broken factory table is a bug; say which
            raise PresetError(f"factory preset {canonical!r}: {e}") from None
    return load_preset_file(path)


def preset_document(name: str, values: dict) -> dict:
    """The JSON document for a user preset (validated; SESSION_ONLY left out)."""
    try:
        full = complete(values)
    except KeyError as e:
        raise PresetError(f"preset {name!r}: {e.args[0]}") from None
    except ValueError as e:
        raise PresetError(f"preset {name!r}: {e}") from None
    for k in SESSION_ONLY:
        full.pop(k, None)
    return {"format": FORMAT, "version": VERSION, "name": name,
            "values": to_file_values(full)}


def save_user_preset(name: str, values: dict) -> Path:
    """Write <config>/presets/<name>.json atomically; returns the path.
    `values` may be partial (missing ids are saved at their defaults) and in
    any form the table accepts (engine floats, words, bools)."""
    n = check_name(name)
    if any(_key(f) == _key(n) for f in _FACTORY):
        raise PresetError(f"{n!r} is a factory preset name; choose another name")
    doc = preset_document(n, values)
    d = presets_dir(create=True)
    # One file per loose name: saving "my vocal" over "My Vocal" replaces it.
    for existing, p in _user_files().items():
        if existing != n and _key(existing) == _key(n):
            path = d / f"{n}.json"
            atomic_write_json(path, doc)
            with contextlib.suppress(OSError):
                p.unlink()
            return path
    path = d / f"{n}.json"
    atomic_write_json(path, doc)
    return path


def delete_user_preset(name: str) -> None:
    canonical, kind, path = find_preset(name)
    if kind == "factory":
        raise PresetError(f"{canonical!r} is a factory preset and cannot be deleted")
    try:
        path.unlink()
    except FileNotFoundError:
        raise PresetError(f"no user preset named {name!r}") from None
    except OSError as e:
        raise PresetError(f"{path}: cannot delete: {e.strerror or e}") from None


def preset_latency_samples(values: dict, samplerate: float = 48000.0) -> int:
    """Total algorithmic latency the engine reports for these values."""
    from engine import chain
    full = complete(values)
    return int(chain.total_latency(float(samplerate), float(full["lookahead"])))


def _self_check() -> None:
    for name, values in _FACTORY.items():
        for k, v in values.items():
            p = param(k)
            v = p.validate(v)
            assert math.isfinite(v), (name, k)


_self_check()
