"""Uplift's DSP engine and realtime core (no Qt, no I/O)."""
import hashlib
import os


def _numba_cache_dir() -> None:
    """Key Numba's on-disk cache to the engine's source.

    Numba invalidates a cached function only when its own file changes, but
    the chain kernels inline the stages from other files: an edited stage
    would silently keep running its old compiled code inside the chain. One
    cache directory per hash of all engine sources makes any edit a clean
    recompile. A user's NUMBA_CACHE_DIR is respected.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    import numba.core.config as config
    here = os.path.dirname(os.path.abspath(__file__))
    h = hashlib.sha256()
    for name in sorted(os.listdir(here)):
        if name.endswith(".py"):
            with open(os.path.join(here, name), "rb") as f:
                h.update(name.encode() + b"\0" + f.read())
    root = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                        "uplift", "numba")
    config.CACHE_DIR = os.path.join(root, h.hexdigest()[:16])
    if not os.path.isdir(config.CACHE_DIR) and os.path.isdir(root):
        import shutil
        import time
        for old in os.listdir(root):      # caches of sources edited away more than a day ago
            path = os.path.join(root, old)
            if time.time() - os.path.getmtime(path) > 86400:
                shutil.rmtree(path, ignore_errors=True)


_numba_cache_dir()

from .engine import Engine  # noqa: E402
from .params import PARAMS, param  # noqa: E402

__all__ = ["Engine", "PARAMS", "param"]
