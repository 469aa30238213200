"""`uplift bench` / scripts/bench.py: engine throughput and latency figures.

Throughput is measured with the block loop in native code (`chain.process_buffer`),
i.e. what an audio callback costs, not Python call overhead; the Python API's
per-call cost is printed separately. Each figure is the best of several runs
(other processes on a 2-core machine only ever make a run slower).
"""
from __future__ import annotations

import argparse
import os
import time

# OpenBLAS worker threads (started by the DRIFT bank design's least squares) spin
# for a while after use and compete with the measured thread on a 2-core machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from engine import Engine, chain

SR = 48000

CONFIGS = {
    "full chain (DRIFT+SETTLE+limiter)": {},
    "SETTLE only": {"drift_on": 0, "gate_on": 0, "limiter_on": 0},
}


def _noise(seconds: float, channels: int = 2) -> np.ndarray:
    rng = np.random.default_rng(1)
    return (0.1 * rng.standard_normal((channels, int(seconds * SR)))).astype(np.float64)


def engine_xrt(values: dict, block: int, seconds: float = 0.5, repeats: int = 20):
    """(best, median) × realtime of the chain on stereo 48 kHz noise, `block`
    frames per call, over `repeats` runs of `seconds` of audio each."""
    eng = Engine(SR, 2, max_block=max(block, 64))
    eng.update(values)
    eng.reset()
    x = _noise(seconds)
    y = np.zeros_like(x)
    chain.process_buffer(eng.state, x[:, : block * 4], y[:, : block * 4], block)  # warm
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        chain.process_buffer(eng.state, x, y, block)
        times.append(time.perf_counter() - t0)
    return seconds / min(times), seconds / float(np.median(times))


def python_call_us(block: int = 64, calls: int = 3000) -> float:
    """Microseconds per Engine.process_into call (ctypes into the native entry)."""
    eng = Engine(SR, 2, max_block=block)
    x = np.zeros((block, 2), np.float32)
    y = np.zeros((block, 2), np.float32)
    eng.process_into(x, y)
    t0 = time.perf_counter()
    for _ in range(calls):
        eng.process_into(x, y)
    return (time.perf_counter() - t0) / calls * 1e6


def pedalboard_xrt(block: int = 64, seconds: float = 0.5, repeats: int = 20):
    """pedalboard's Compressor (JUCE, C++) on the same signal, (best, median) ×
    realtime as engine_xrt, or None if not installed."""
    try:
        import pedalboard
    except ImportError:
        return None
    comp = pedalboard.Compressor(threshold_db=-18, ratio=3, attack_ms=10, release_ms=120)
    x = _noise(seconds).astype(np.float32)
    times = []
    for _ in range(repeats):
        comp.reset()
        t0 = time.perf_counter()
        for i in range(0, x.shape[1], block):
            comp.process(x[:, i:i + block], SR, reset=False)
        times.append(time.perf_counter() - t0)
    return seconds / min(times), seconds / float(np.median(times))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="uplift bench", description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=0.5, help="audio per run")
    ap.add_argument("--runs", type=int, default=20, help="runs per figure")
    args = ap.parse_args(argv)
    print(f"Uplift engine benchmark: stereo, {SR} Hz noise, {args.runs} runs of {args.seconds:g} s "
          "each; best (median) x realtime")
    for block in (32, 64, 256):
        for name, values in CONFIGS.items():
            best, med = engine_xrt(values, block, args.seconds, args.runs)
            print(f"  {name:36s} block {block:4d}: {best:6.0f} x ({med:.0f} x)")
    pb = pedalboard_xrt(64, args.seconds, args.runs)
    if pb is None:
        print("  pedalboard Compressor (JUCE)        : not installed (pip install pedalboard)")
    else:
        print(f"  {'pedalboard Compressor (JUCE, C++)':36s} block   64: {pb[0]:6.0f} x ({pb[1]:.0f} x)")
    print(f"  Python API Engine.process_into, 64 frames: {python_call_us():.1f} us per call")
    print("Latency (default settings, lookahead 0):")
    for sr in (44100, 48000, 96000):
        lat = int(chain.total_latency(float(sr), 0.0))
        print(f"  {sr:6d} Hz: {lat:4d} samples = {lat / sr * 1000:.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
