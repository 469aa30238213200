"""Ceiling limiter after makeup (dsp.md, "Output, mix, bypass").

PLACEHOLDER — pass-through with the final stage API; replaced by the real stage.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

LOOKAHEAD_MS = 0.5


class LimiterState(NamedTuple):
    gr_db: np.ndarray


def limiter_alloc(samplerate: float, channels: int, max_block: int) -> LimiterState:
    return LimiterState(gr_db=np.zeros(channels))


@njit(cache=True)
def limiter_latency(samplerate):
    return 0


@njit(cache=True)
def limiter_reset(st):
    st.gr_db[:] = 0.0


@njit(cache=True)
def limiter_control(st, p, samplerate):
    pass


@njit(cache=True)
def limiter_process(st, p, x, start, count, phase):
    pass
