"""Uplift's DSP engine and realtime core (no Qt, no I/O)."""
from . import build

# Before any @njit(cache=True) below is decorated: Numba picks a function's
# cache folder when it is decorated (engine/build.py says where and why).
build.install_locator()

from .engine import Engine  # noqa: E402
from .params import PARAMS, param  # noqa: E402

__all__ = ["Engine", "PARAMS", "param"]
