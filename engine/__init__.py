"""Uplift's DSP engine and realtime core (no Qt, no I/O)."""
from .engine import Engine
from .params import PARAMS, param

__all__ = ["Engine", "PARAMS", "param"]
