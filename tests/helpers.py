"""Helpers the DSP test files share: settings, signals, alignment, measures."""
from __future__ import annotations

import numpy as np

from engine import Engine
from engine.params import PARAMS

SR = 48000


def configure(eng: Engine, **values) -> None:
    """Every parameter to its default, DRIFT and limiter off, then `values`; reset."""
    base = {p.id: p.default for p in PARAMS}
    base.update(drift_on=0, limiter_on=0)
    base.update(values)
    for k, v in base.items():
        eng.set(k, v)
    eng.reset()


def tone(level_db, seconds, freq=1000.0, sr=SR, phase=0.0):
    t = np.arange(int(round(seconds * sr))) / sr
    return 10 ** (level_db / 20) * np.sin(2 * np.pi * freq * t + phase)


def stereo(x, y=None):
    return np.stack([x, x if y is None else y], axis=1)


def run(eng: Engine, x) -> np.ndarray:
    """Process (frames, channels) float64 and return the output aligned to the
    input (the reported latency removed; the tail is zero-padded)."""
    x = np.asarray(x, dtype=np.float32)
    y = eng.process(x).astype(np.float64)
    lat = eng.latency_samples
    out = np.zeros_like(y)
    out[: len(y) - lat] = y[lat:]
    return out


def peak_db(x):
    return 20 * np.log10(np.max(np.abs(x)) + 1e-30)


def gain_track_db(x, y, floor=0.3):
    """(sample index, applied gain in dB) wherever |x| is above floor·max|x|."""
    x = np.asarray(x, dtype=np.float32).astype(np.float64)
    idx = np.nonzero(np.abs(x) > max(floor * np.abs(x).max(), 1e-9))[0]
    return idx, 20 * np.log10(np.abs(y[idx]) / np.abs(x[idx]))


def time_to_cover(idx, g_db, t0, g_from, g_to, frac=0.632, sr=SR):
    """Seconds after sample t0 until the gain has covered `frac` of g_from -> g_to."""
    goal = g_from + frac * (g_to - g_from)
    sel = idx >= t0
    i, g = idx[sel], g_db[sel]
    crossed = (g <= goal) if g_to < g_from else (g >= goal)
    k = np.argmax(crossed)
    assert crossed[k], "never covered"
    # linear interpolation between the last sample before and the first after
    if k > 0:
        t1, t2, a, b = i[k - 1], i[k], g[k - 1], g[k]
        tc = t1 + (goal - a) / (b - a) * (t2 - t1) if b != a else t2
    else:
        tc = i[k]
    return (tc - t0) / sr
