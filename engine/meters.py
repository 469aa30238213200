"""Meter snapshot layout: what leaves the audio thread (product.md, "Meters").

The audio thread writes one float64 vector under a sequence lock at the end of
every block (engine/rt.py); readers (UI timer, headless printer, tests) copy it
out and never make the audio thread wait. Offsets are module constants so
Numba code indexes them at compile time.
"""
from __future__ import annotations

import numpy as np

MAX_CHANNELS = 2
NUM_BANDS = 40

#: (key, length) in snapshot order. Levels in dBFS, gain reductions in dB
#: (positive = reduction), heat 0..1, load 0..1. drift_level_db: DRIFT's band
#: levels as its noise guard reads them; drift_floor_db: the learned floors
#: (-240 before anything was heard); drift_guarded: bands the guard holds down.
FIELDS: tuple[tuple[str, int], ...] = (
    ("in_peak_db", MAX_CHANNELS),
    ("in_rms_db", MAX_CHANNELS),
    ("out_peak_db", MAX_CHANNELS),
    ("out_rms_db", MAX_CHANNELS),
    ("settle_gr_db", 1),
    ("gate_gr_db", 1),
    ("drift_lift_db", NUM_BANDS),
    ("drift_heat", NUM_BANDS),
    ("drift_level_db", NUM_BANDS),
    ("drift_floor_db", NUM_BANDS),
    ("drift_guarded", 1),
    ("detector_db", 1),
    ("match_db", 1),
    ("match_in_lufs", 1),
    ("match_out_lufs", 1),
    ("latency_samples", 1),
    ("samples", 1),
    ("callbacks", 1),
    ("xruns", 1),
    ("load", 1),
    ("load_max", 1),
)

OFFSET: dict[str, int] = {}
_o = 0
for _k, _n in FIELDS:
    OFFSET[_k] = _o
    _o += _n
SIZE = _o

# Compile-time offsets for Numba code.
IN_PEAK = OFFSET["in_peak_db"]
IN_RMS = OFFSET["in_rms_db"]
OUT_PEAK = OFFSET["out_peak_db"]
OUT_RMS = OFFSET["out_rms_db"]
SETTLE_GR = OFFSET["settle_gr_db"]
GATE_GR = OFFSET["gate_gr_db"]
DRIFT_LIFT = OFFSET["drift_lift_db"]
DRIFT_HEAT = OFFSET["drift_heat"]
DRIFT_LEVEL = OFFSET["drift_level_db"]
DRIFT_FLOOR = OFFSET["drift_floor_db"]
DRIFT_GUARDED = OFFSET["drift_guarded"]
DETECTOR = OFFSET["detector_db"]
MATCH = OFFSET["match_db"]
MATCH_IN_LUFS = OFFSET["match_in_lufs"]
MATCH_OUT_LUFS = OFFSET["match_out_lufs"]
LATENCY = OFFSET["latency_samples"]
SAMPLES = OFFSET["samples"]
CALLBACKS = OFFSET["callbacks"]
XRUNS = OFFSET["xruns"]
LOAD = OFFSET["load"]
LOAD_MAX = OFFSET["load_max"]

_SCALAR = {k for k, n in FIELDS if n == 1}
_INT = {"latency_samples", "samples", "callbacks", "xruns", "drift_guarded"}


def alloc():
    """(seq, data): the seqlock word and the snapshot vector."""
    return np.zeros(1, np.int64), np.full(SIZE, -240.0)


def to_dict(snapshot: np.ndarray, channels: int) -> dict:
    """A snapshot vector as the dict `Engine.meters()` returns."""
    out = {}
    for key, n in FIELDS:
        v = snapshot[OFFSET[key]: OFFSET[key] + n]
        if key in _SCALAR:
            out[key] = int(v[0]) if key in _INT else float(v[0])
        elif n == MAX_CHANNELS:
            out[key] = [float(a) for a in v[:channels]]
        else:
            out[key] = [float(a) for a in v]
    return out
