"""Small shared DSP pieces for Numba kernels: conversions and one-pole coefficients.

All functions are allocation-free and safe for the audio thread. `FASTMATH` is
the NaN-safe flag set (dsp.md rule 10); plain fastmath=True would let LLVM
assume no NaNs and make isnan() lie.
"""
from __future__ import annotations

import math

from numba import njit

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}

#: Levels below this are treated as silence by every detector (dBFS).
SILENCE_DB = -240.0
_SILENCE_LIN = 1e-12
LN10_OVER_20 = math.log(10.0) / 20.0
TWENTY_OVER_LN10 = 20.0 / math.log(10.0)


@njit(cache=True, fastmath=FASTMATH, inline="always")
def lin_to_db(x):
    """20·log10(|x|), floored at SILENCE_DB."""
    a = abs(x)
    if a < _SILENCE_LIN:
        return SILENCE_DB
    return TWENTY_OVER_LN10 * math.log(a)


@njit(cache=True, fastmath=FASTMATH, inline="always")
def power_to_db(p):
    """10·log10(p) for a mean square, floored at SILENCE_DB."""
    if p < _SILENCE_LIN * _SILENCE_LIN:
        return SILENCE_DB
    return 0.5 * TWENTY_OVER_LN10 * math.log(p)


@njit(cache=True, fastmath=FASTMATH, inline="always")
def db_to_lin(db):
    """10^(db/20)."""
    return math.exp(LN10_OVER_20 * db)


@njit(cache=True, fastmath=FASTMATH, inline="always")
def onepole_coeff(time_ms, samplerate, step=1.0):
    """Coefficient a of y += a·(x − y) so that y covers 63.2 % of a step after
    `time_ms` when updated every `step` samples: a = 1 − exp(−step / (t·fs)).
    time_ms <= 0 means instant (a = 1)."""
    if time_ms <= 0.0:
        return 1.0
    return 1.0 - math.exp(-step * 1000.0 / (time_ms * samplerate))


@njit(cache=True, inline="always")
def finite_or_zero(x):
    """x if finite else 0 (the engine's guard against non-finite input, rule 8)."""
    if math.isfinite(x):
        return x
    return 0.0
