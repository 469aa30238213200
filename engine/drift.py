"""DRIFT: 40-band ERB upward compressor (dsp.md, "DRIFT").

PLACEHOLDER — pass-through with the final stage API; replaced by the real stage.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

NUM_BANDS = 40


class DriftState(NamedTuple):
    lift_db: np.ndarray        # [NUM_BANDS] current lift per band (dB)
    heat: np.ndarray           # [NUM_BANDS] thermal memory 0..1


def drift_alloc(samplerate: float, channels: int, max_block: int) -> DriftState:
    return DriftState(lift_db=np.zeros(NUM_BANDS), heat=np.zeros(NUM_BANDS))


@njit(cache=True)
def drift_latency(samplerate):
    """Samples of delay the filterbank adds (fixed per sample rate)."""
    return 0


@njit(cache=True)
def drift_reset(st):
    st.lift_db[:] = 0.0
    st.heat[:] = 0.0


@njit(cache=True)
def drift_control(st, p, samplerate):
    pass


@njit(cache=True)
def drift_process(st, p, x, start, count, phase):
    pass
