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

Factory presets are JSON files in app/presets/factory/ holding only their
differences from the defaults (and why, in "about").

`bypass`, `listen` and `match` are monitoring switches and `ab` picks the
window's A or B setting; none is part of a sound: user
presets are saved without them (a file that has them is still accepted), and
factory presets leave them off. Callers that want to keep the current
monitoring state across a preset change drop SESSION_ONLY from the result.
"""
from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from engine.params import BY_ID, PARAMS, Param, migrate, param

from ..settings import SettingsError, atomic_write_json, presets_dir, read_json

FORMAT = "uplift-preset"
VERSION = 1
SESSION_ONLY = ("bypass", "listen", "match", "ab")

DEFAULT_PRESET = "Vocal tracking"


class PresetError(ValueError):
    """A preset that cannot be found, loaded or saved; the message names the
    file (or preset) and the field."""


# --- factory presets -------------------------------------------------------
# One JSON file each in app/presets/factory/, the same format as a user preset
# (read by the same validator), holding only what differs from the table's
# defaults, with an "about" field saying why; the file names give the order.

FACTORY_DIR = Path(__file__).resolve().parent / "factory"


def _load_factory() -> dict[str, dict]:
    """name -> the file's values (file form: enums as words, bools true/false).
    A factory file that does not validate is a bug: said with its path."""
    out = {}
    for path in sorted(FACTORY_DIR.glob("*.json")):
        obj = read_json(path)
        parse_preset(obj, str(path))          # raises PresetError naming file and field
        out[obj["name"]] = dict(obj["values"])
    return out


def factory_presets() -> dict[str, dict]:
    """name -> {param_id: value} for the ids each preset sets (enums as words,
    bools as true/false); copies."""
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
    try:
        raw = migrate(raw)
    except ValueError as e:
        raise PresetError(f"{where}: field 'values.delta': {e}") from None
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
    return int(chain.total_latency(float(samplerate), float(full["lookahead"]),
                                   float(full["drift_lookahead"])))


_FACTORY = _load_factory()
