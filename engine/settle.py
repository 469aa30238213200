"""SETTLE: broadband downward compressor (dsp.md, "SETTLE").

PLACEHOLDER — pass-through with the final stage API; replaced by the real stage.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit


class SettleState(NamedTuple):
    gr_db: np.ndarray          # [channels]
    detector_db: np.ndarray    # [channels]


def settle_alloc(samplerate: float, channels: int, max_block: int) -> SettleState:
    return SettleState(gr_db=np.zeros(channels), detector_db=np.full(channels, -240.0))


@njit(cache=True)
def settle_latency(samplerate, lookahead_ms):
    """Samples the lookahead adds to the main path."""
    return int(math.floor(lookahead_ms * 0.001 * samplerate + 0.5))


@njit(cache=True)
def settle_reset(st):
    st.gr_db[:] = 0.0
    st.detector_db[:] = -240.0


@njit(cache=True)
def settle_control(st, p, samplerate):
    pass


@njit(cache=True)
def settle_process(st, p, x, key, start, count, phase):
    pass


@njit(cache=True)
def settle_meter_gr_db(st):
    return st.gr_db.max()


@njit(cache=True)
def settle_meter_detector_db(st):
    return st.detector_db.max()
