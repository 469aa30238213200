"""The user's config directory and settings file, written atomically.

Everything Uplift keeps between runs lives under one directory:

    <config>/settings.json      MIDI mappings ("midi"), devices, window state, ...
    <config>/presets/*.json     user presets (app/presets.py)

`<config>` is platformdirs' user_config_dir("uplift") (~/.config/uplift on
Linux) unless the environment variable UPLIFT_CONFIG_DIR names another
directory, so tests and CI never touch a real home.

Writes are atomic: a temporary file in the same directory is written, fsynced
and renamed over the target with os.replace, so a crash or a full disk leaves
either the old file or the new one, never half of one. Reads never write.
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
from contextlib import contextmanager, suppress
from pathlib import Path

from filelock import FileLock

ENV_VAR = "UPLIFT_CONFIG_DIR"
APP_NAME = "uplift"
SETTINGS_FILE = "settings.json"
PRESETS_DIR = "presets"

LOCK_FILE = ".settings.lock"
MAX_JSON_BYTES = 1 << 20     # settings and presets are a few kB; anything this big is not ours

# Serialises read-modify-write of settings.json: within this process (the MIDI
# thread saves mappings while the GUI thread may save its own keys) and across
# processes (a GUI and a headless instance), with a lock file beside it.
_thread_lock = threading.RLock()


_file_locks: dict[str, FileLock] = {}     # one per path: a FileLock is reentrant per instance


@contextmanager
def _settings_lock():
    with _thread_lock:
        path = str(config_dir(create=True) / LOCK_FILE)
        with _file_locks.setdefault(path, FileLock(path)):
            yield


class SettingsError(Exception):
    """A settings or preset file that cannot be read or written; the message
    names the file (and the field, where there is one)."""


def config_dir(create: bool = False) -> Path:
    """The user config directory; created (with parents) only if `create`."""
    env = os.environ.get(ENV_VAR)
    if env:
        path = Path(env).expanduser()
    else:
        import platformdirs
        path = Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise SettingsError(f"{path}: cannot create the config directory: "
                                f"{e.strerror or e}") from None
    return path


def settings_path() -> Path:
    return config_dir() / SETTINGS_FILE


def presets_dir(create: bool = False) -> Path:
    path = config_dir(create=create) / PRESETS_DIR
    if create:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise SettingsError(f"{path}: cannot create the presets directory: "
                                f"{e.strerror or e}") from None
    return path


# --- atomic writes ---

def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write `data` to `path` atomically (temp file in the same dir, fsync, os.replace)."""
    path = Path(path)
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise SettingsError(f"{path}: cannot write: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            # Keep the permissions an existing file had; new files get 0644 (minus umask).
            mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask()
            os.chmod(tmp, mode)
        except OSError:
            pass
        os.replace(tmp, path)
    except BaseException as e:
        with suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise SettingsError(f"{path}: cannot write: {e.strerror or e}") from None
        raise
    _fsync_dir(directory)


def atomic_write_json(path: Path | str, obj) -> None:
    text = json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    # Read it from /proc where possible: os.umask() briefly changes a process-wide setting.
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


# --- reads ---

def _unique_keys(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise ValueError(f"the key {k!r} appears twice")
        obj[k] = v
    return obj


def read_json(path: Path | str):
    """Parse a JSON file; any problem raises SettingsError naming the file: a
    file over MAX_JSON_BYTES, a key given twice in one object (which JSON
    parsers silently resolve to the last), an integer too long to convert.
    NaN/Infinity literals are parsed as floats so that field validation can
    name the field that holds them."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES and path.is_file():
            raise SettingsError(f"{path}: {size:,} bytes is too large for a settings or preset "
                                f"file (at most {MAX_JSON_BYTES:,})")
        data = path.read_bytes()
    except FileNotFoundError:
        raise SettingsError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SettingsError(f"{path}: is a directory, not a file") from None
    except OSError as e:
        raise SettingsError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SettingsError(f"{path}: not UTF-8 text (byte {e.start})") from None
    if not text.strip():
        raise SettingsError(f"{path}: the file is empty")
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as e:
        truncated = e.pos >= len(text.rstrip()) or e.msg.startswith("Unterminated string")
        hint = " (the file looks truncated)" if truncated else ""
        raise SettingsError(f"{path}: not valid JSON at line {e.lineno} column {e.colno}: "
                            f"{e.msg}{hint}") from None
    except RecursionError:
        raise SettingsError(f"{path}: not valid JSON (nested too deeply)") from None
    except ValueError as e:      # a duplicate key, or an integer of thousands of digits
        raise SettingsError(f"{path}: {str(e).splitlines()[0]}") from None


def load_settings() -> dict:
    """The settings dict; {} if there is no settings file yet.
    A corrupt file raises SettingsError (it is left as it is)."""
    path = settings_path()
    # no lock: writes replace the file atomically, so a read sees one whole version
    if not path.exists():
        return {}
    obj = read_json(path)
    if not isinstance(obj, dict):
        raise SettingsError(f"{path}: expected a JSON object at the top level, "
                            f"got {type(obj).__name__}")
    return obj


def save_settings(settings: dict) -> None:
    """Replace the whole settings file (atomically)."""
    if not isinstance(settings, dict):
        raise TypeError("settings must be a dict")
    with _settings_lock():
        config_dir(create=True)
        atomic_write_json(settings_path(), settings)


def get_setting(key: str, default=None):
    return load_settings().get(key, default)


def update_settings(**changes) -> dict:
    """Read-modify-write: set the given top-level keys, keep all the others.
    If the existing file is corrupt this raises SettingsError and writes
    nothing, so a user's hand-edited file is never clobbered."""
    with _settings_lock():
        settings = load_settings()
        settings.update(changes)
        save_settings(settings)
        return settings
