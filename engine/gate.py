"""GATE: downward expander / gate before DRIFT (dsp.md, "GATE").

PLACEHOLDER — pass-through with the final stage API; replaced by the real stage.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit


class GateState(NamedTuple):
    gr_db: np.ndarray          # [channels] current gain reduction (dB, >= 0)


def gate_alloc(samplerate: float, channels: int, max_block: int) -> GateState:
    return GateState(gr_db=np.zeros(channels))


@njit(cache=True)
def gate_reset(st):
    st.gr_db[:] = 0.0


@njit(cache=True)
def gate_control(st, p, samplerate):
    pass


@njit(cache=True)
def gate_process(st, p, x, key, start, count, phase):
    pass


@njit(cache=True)
def gate_meter_gr_db(st):
    return st.gr_db.max()
