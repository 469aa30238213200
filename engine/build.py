"""Where the compiled engine lives, and its one-time build (product.md, "Start-up").

The engine is machine code built by Numba from this package's sources (and the
native host callbacks in app/hosts/jack.py and app/hosts/portaudio.py). It is
built once per *source version* and kept in a folder named by a hash of

- the content of every source file that is compiled (engine/*.py and the
  native hosts), so an edited stage can never run as stale code: an edit is a
  new folder and a clean build;
- the Numba and llvmlite versions and the CPU (name and features), so code
  built for one machine or compiler is never loaded by another.

The folder does not depend on where the sources are: every clone and install of
the same sources shares one build (Numba's own locators key the cache by the
checkout's path). Numba's per-function index still checks each file's content
hash, as a second guard.

`python -m engine` builds everything a session will need, printing
progress; `make run` and `make test` run it once as part of setup.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time

import llvmlite
import numba
from numba.core import caching

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NATIVE_HOSTS = ("app/hosts/cycle.py", "app/hosts/jack.py", "app/hosts/portaudio.py")


def compiled_files(root: str = ROOT) -> tuple[str, ...]:
    """The files Numba compiles with cache=True in the tree at `root`: their content keys the build."""
    engine = os.path.join(root, "engine")
    return tuple(sorted(os.path.join(engine, n) for n in os.listdir(engine) if n.endswith(".py"))) + \
        tuple(os.path.join(root, p) for p in NATIVE_HOSTS)


COMPILED_FILES = compiled_files()
DONE_MARK = "complete"          # written when a build finished: later starts are not "first"
STALE_AFTER_S = 86400.0         # builds of sources edited away are removed after a day


def _cpu() -> str:
    import llvmlite.binding as ll
    return ll.get_host_cpu_name() + ll.get_host_cpu_features().flatten()


def build_key(root: str = ROOT) -> str:
    """Hash of the compiled sources' content (not their place), the Numba and
    llvmlite versions and the CPU."""
    h = hashlib.sha256()
    h.update(f"numba {numba.__version__} llvmlite {llvmlite.__version__} "
             f"py {sys.version_info[:2]} cpu {_cpu()}".encode())
    for path in compiled_files(root):
        if os.path.exists(path):
            with open(path, "rb") as f:
                h.update(os.path.relpath(path, root).encode() + b"\0" + f.read())
    return h.hexdigest()[:20]


def cache_root() -> str:
    """The user's NUMBA_CACHE_DIR if set, else ~/.cache/uplift (XDG_CACHE_HOME respected)."""
    env = os.environ.get("NUMBA_CACHE_DIR")
    if env:
        return os.path.join(env, "uplift")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "uplift", "engine")


CACHE_DIR = os.path.join(cache_root(), build_key())


class _SourceVersionLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
    """Numba cache locator for Uplift's compiled files: CACHE_DIR/<folder name>."""

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = os.path.join(CACHE_DIR, os.path.basename(os.path.dirname(py_file)))

    def get_cache_path(self):
        return self._cache_path

    @classmethod
    def from_function(cls, py_func, py_file):
        if os.path.abspath(py_file) not in COMPILED_FILES:
            return None
        return super().from_function(py_func, py_file)


def install_locator() -> None:
    if _SourceVersionLocator not in caching.CacheImpl._locator_classes:
        caching.CacheImpl._locator_classes.insert(0, _SourceVersionLocator)
    _remove_old_builds()


def _remove_old_builds() -> None:
    root = cache_root()
    if os.path.isdir(CACHE_DIR) or not os.path.isdir(root):
        return
    for old in os.listdir(root):
        path = os.path.join(root, old)
        try:
            if time.time() - os.path.getmtime(path) > STALE_AFTER_S:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


def is_built() -> bool:
    return os.path.exists(os.path.join(CACHE_DIR, DONE_MARK))


def mark_built() -> None:
    try:
        os.makedirs(CACHE_DIR, exist_ok=True)
        with open(os.path.join(CACHE_DIR, DONE_MARK), "w") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    except OSError:
        pass     # a read-only cache only means the next start builds again


#: Roughly how many functions a full build compiles (for the progress figure only).
EXPECTED_COMPILES = 100


class Progress(numba.core.event.Listener):
    """Counts Numba compilations and reports them to `report(done, expected)`."""

    def __init__(self, report):
        self.report = report
        self.done = 0

    def on_start(self, event):
        pass

    def on_end(self, event):
        self.done += 1
        self.report(self.done, EXPECTED_COMPILES)


def terminal_progress(stream=sys.stderr):
    """A report function that keeps one terminal line up to date (or prints
    a few lines when the stream is not a terminal)."""
    tty = stream.isatty()
    t0 = time.monotonic()
    last = [-1]

    def report(done, expected):
        pct = min(99, int(100 * done / expected))
        if tty:
            stream.write(f"\r  {pct:3d} %  ({time.monotonic() - t0:4.0f} s)")
            stream.flush()
        elif pct // 25 != last[0]:
            last[0] = pct // 25
            stream.write(f"  {pct} %\n")
            stream.flush()
    return report


BUILD_MESSAGE = ("building the audio engine for this machine, once "
                 "(about half a minute; later starts take a second)")


def building(report=None):
    """Context manager around code that may compile: on a first build, says so
    (terminal line, or `report(done, expected)` for a GUI splash), shows progress
    and marks the build complete at the end."""
    return _Building(report)


class _Building:
    depth = 0       # nested uses (an import inside build_all) report once, at the outermost

    def __init__(self, report):
        self.first = not is_built() and _Building.depth == 0
        self.report = report
        self.listener = None

    def __enter__(self):
        _Building.depth += 1
        if self.first:
            if self.report is None:
                sys.stderr.write(BUILD_MESSAGE + "\n")
                sys.stderr.flush()
                self.report = terminal_progress()
            self.listener = Progress(self.report)
            numba.core.event.register("numba:compile", self.listener)
        return self

    def __exit__(self, exc_type, exc, tb):
        _Building.depth -= 1
        if self.listener is not None:
            numba.core.event.unregister("numba:compile", self.listener)
            if self.report is not None and exc_type is None:
                self.report(EXPECTED_COMPILES, EXPECTED_COMPILES)
            if sys.stderr.isatty():
                sys.stderr.write("\n")
        if exc_type is None and _Building.depth == 0:
            mark_built()
        return False


class Native:
    """A Numba function built with cache=True the first time it is needed, inside
    building(), not when its module is imported: importing never compiles, and
    whoever needs the engine first (an Engine, a live session, the GUI behind its
    splash) decides how a first build is reported.

    kind "cfunc": a C callback (`.address`); kind "njit": a jitted function with
    an explicit signature (`.get()` to call it)."""

    def __init__(self, kind, py_func, sig, options):
        self.kind, self.py_func, self.sig, self.options = kind, py_func, sig, options
        self._compiled = None

    def compile(self, cache: bool = True):
        deco = numba.cfunc if self.kind == "cfunc" else numba.njit
        return deco(self.sig, cache=cache, **self.options)(self.py_func)

    def get(self):
        if self._compiled is None:
            with building():
                self._compiled = self.compile()
        return self._compiled

    @property
    def address(self) -> int:
        return self.get().address


def native_cfunc(sig, **options):
    """Decorator: a @cfunc(sig, cache=True, **options) built on first use (Native)."""
    return lambda f: Native("cfunc", f, sig, options)


def native_njit(sig, **options):
    """Decorator: an @njit(sig, cache=True, **options) built on first use (Native)."""
    return lambda f: Native("njit", f, sig, options)
