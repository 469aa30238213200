"""Static input -> output curve of the whole chain for a steady sine.

The GUI plots it (with the live detector dot) and the tests hold the engine
to it. It calls the same gain computers the audio thread runs
(`gate_gr_db`, `settle_gr_db`, `settle_segments` and the auto-makeup rule
from engine/gate.py and engine/settle.py), so the curve and the engine
cannot drift apart.

Levels are sine peak levels in dBFS, the quantity both SETTLE detectors read
for a steady sine. Per stage:

    L1 = L + input_gain
    L2 = L1 − GATE_GR(L1)                       (gate_on)
    L3 = L2 + DRIFT_LIFT(L2)                    (drift_on; band nearest 1 kHz, see drift_lift_db)
    L4 = L3 − SETTLE_GR(L3) + makeup (+ auto)    (settle_on)
    L5 = min(L4, ceiling)                       (limiter_on)
    out = mix of L5 with the aligned dry L (in phase, so amplitudes add), + output_gain
          (bypass: out = L)
"""
from __future__ import annotations

import numpy as np
from numba import njit

from . import drift_bank
from .drift import drift_gain_params, drift_static_lift
from .gate import gate_gr_db
from .params import DEFAULTS, INDEX, LISTEN_CHOICES, NUM_PARAMS, PID, param
from .settle import settle_auto_makeup_db, settle_segments, settle_style_gr_db

#: DRIFT's reference band for the curve: the band nearest 1 kHz (the reference
#: frequency of drift_threshold), with its tilt.
DRIFT_REF_BAND = int(np.argmin(np.abs(drift_bank.band_centres() - 1000.0)))
DRIFT_REF_TILT = float(drift_bank.tilt(drift_bank.band_centres()[DRIFT_REF_BAND]))


@njit(cache=True)
def _drift_curve(levels, p, tilt, out):
    a, slope, thr, max_lift = drift_gain_params(p)
    t = thr + 4.0 * a * tilt
    for i in range(levels.shape[0]):
        out[i] = drift_static_lift(levels[i], t, slope, max_lift)


def drift_lift_db(level_db: np.ndarray, p: np.ndarray) -> np.ndarray:
    """DRIFT's steady-state lift (dB) for a steady sine at level_db (peak dBFS) at
    the band nearest 1 kHz (tilt included): the engine's own gain computer
    (engine/drift.py drift_static_lift). 0 when drift_on is off."""
    lv = np.atleast_1d(np.asarray(level_db, dtype=np.float64))
    out = np.zeros_like(lv)
    if p[PID.drift_on] >= 0.5:
        _drift_curve(lv.ravel(), np.asarray(p, dtype=np.float64), DRIFT_REF_TILT, out.ravel())
    return out


def param_vector(values: dict | None = None) -> np.ndarray:
    """The engine's parameter vector from {id: value} (validated; the rest default)."""
    p = DEFAULTS.copy()
    for k, v in (values or {}).items():
        p[INDEX[param(k).id]] = param(k).validate(v)
    return p


@njit(cache=True)
def _gate_curve(levels, p, out):
    for i in range(levels.shape[0]):
        out[i] = levels[i] - gate_gr_db(levels[i], p[PID.gate_threshold], p[PID.gate_ratio],
                                       p[PID.gate_range])


@njit(cache=True)
def _settle_makeup_db(p):
    mk = p[PID.makeup]
    if p[PID.auto_makeup] >= 0.5:
        mk += settle_auto_makeup_db(p)
    return mk


@njit(cache=True)
def _settle_curve(levels, p, out):
    t_lo, k_lo, t_hi, k_hi = settle_segments(p[PID.threshold], p[PID.ratio],
                                             p[PID.threshold2], p[PID.ratio2])
    mk = _settle_makeup_db(p)
    style = int(p[PID.style])
    for i in range(levels.shape[0]):
        out[i] = levels[i] - settle_style_gr_db(levels[i], t_lo, k_lo, t_hi, k_hi, p[PID.knee],
                                                style) + mk


def settle_curve_db(levels_db, values: dict | None = None) -> np.ndarray:
    """SETTLE alone (static curve plus makeup) for detector levels in dBFS."""
    lv = np.asarray(levels_db, dtype=np.float64)
    out = np.empty_like(lv)
    _settle_curve(lv.ravel(), param_vector(values), out.ravel())
    return out


def chain_curve_db(levels_db, values: dict | None = None) -> np.ndarray:
    """Output peak level (dBFS) of a steady sine through the whole chain, for
    input peak levels `levels_db`, with parameters `values` {id: value}."""
    p = param_vector(values)
    assert p.shape[0] == NUM_PARAMS
    lv_in = np.atleast_1d(np.asarray(levels_db, dtype=np.float64))
    if p[PID.bypass] >= 0.5:
        return lv_in.copy()
    lv = lv_in + p[PID.input_gain]
    tmp = np.empty_like(lv)
    if p[PID.gate_on] >= 0.5:
        _gate_curve(lv, p, tmp)
        lv = tmp.copy()
    lv_drift_in = lv
    if p[PID.drift_on] >= 0.5:
        lv = lv + drift_lift_db(lv, p)
    lv_settle_in = lv
    removed = np.zeros_like(lv)
    if p[PID.settle_on] >= 0.5:
        _settle_curve(lv, p, tmp)
        mk = _settle_makeup_db(p)
        removed = 10.0 ** (lv / 20.0) - 10.0 ** ((tmp - mk) / 20.0)
        lv = tmp.copy()
    # mix, output gain, then the ceiling limiter (last); listen is taken after it
    m = p[PID.mix] * 0.01
    wet = 10.0 ** (lv / 20.0)
    dry = 10.0 ** (lv_in / 20.0)
    g_out = 10.0 ** (p[PID.output_gain] / 20.0)
    amp = ((1.0 - m) * dry + m * wet) * g_out
    if p[PID.limiter_on] >= 0.5:
        amp = np.minimum(amp, 10.0 ** (p[PID.ceiling] / 20.0))
    listen = LISTEN_CHOICES[int(p[PID.listen])]
    if listen == "delta":
        amp = np.abs(amp - dry * g_out)
    elif listen == "drift":
        amp = np.abs(10.0 ** (lv_settle_in / 20.0) - 10.0 ** (lv_drift_in / 20.0))
    elif listen == "settle":
        amp = np.abs(removed)
    elif listen == "key":     # the internal key: DRIFT's output (sidechain filters left out)
        amp = 10.0 ** (lv_settle_in / 20.0)
    with np.errstate(divide="ignore"):
        out = 20.0 * np.log10(np.maximum(amp, 1e-300))
    return out
