"""`uplift bench` / scripts/bench.py: engine throughput and latency figures.

Throughput is measured with the block loop in native code (`chain.process_buffer`),
i.e. what an audio callback costs, not Python call overhead; the Python API's
per-call cost is printed separately. Each figure is the best (and the median) of
several runs, and the configurations are measured round-robin so that all of
them see the same moments of a host whose speed swings (other processes and
other guests only ever make a run slower).
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


def engine_run(values: dict, block: int, seconds: float = 0.5):
    """A function that runs the chain once over `seconds` of stereo 48 kHz noise,
    `block` frames per call (the block loop in native code)."""
    eng = Engine(SR, 2, max_block=max(block, 64))
    eng.update(values)
    eng.reset()
    x = _noise(seconds)
    y = np.zeros_like(x)
    chain.process_buffer(eng.state, x[:, : block * 4], y[:, : block * 4], block)  # warm
    return lambda: chain.process_buffer(eng.state, x, y, block)


def interleaved_xrt(runs: dict, seconds: float, repeats: int) -> dict:
    """name -> (best, median) × realtime of each run function, measured round-robin:
    run k of every function falls in the same few seconds, so the figures see the
    same host. This machine class's speed swings by tens of percent over minutes
    (other guests on the host), and figures measured one after the other would not
    be comparable."""
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t0)
    return {name: (seconds / min(t), seconds / float(np.median(t))) for name, t in times.items()}


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


def pedalboard_run(block: int = 64, seconds: float = 0.5):
    """A function that runs pedalboard's Compressor (JUCE, C++) once over the same
    signal in `block`-frame calls, or None if pedalboard is not installed."""
    try:
        import pedalboard
    except ImportError:
        return None
    comp = pedalboard.Compressor(threshold_db=-18, ratio=3, attack_ms=10, release_ms=120)
    x = _noise(seconds).astype(np.float32)

    def run():
        comp.reset()
        for i in range(0, x.shape[1], block):
            comp.process(x[:, i:i + block], SR, reset=False)
    return run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="uplift bench", description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=0.5, help="audio per run")
    ap.add_argument("--runs", type=int, default=20, help="runs per figure")
    args = ap.parse_args(argv)
    print(f"Uplift engine benchmark: stereo, {SR} Hz noise, {args.runs} runs of {args.seconds:g} s "
          "each; best (median) x realtime")
    runs = {(name, block): engine_run(values, block, args.seconds)
            for block in (32, 64, 256) for name, values in CONFIGS.items()}
    pb = pedalboard_run(64, args.seconds)
    if pb is not None:
        runs[("pedalboard Compressor (JUCE, C++)", 64)] = pb
    xrt = interleaved_xrt(runs, args.seconds, args.runs)
    for (name, block), (best, med) in xrt.items():
        print(f"  {name:36s} block {block:4d}: {best:6.0f} x ({med:.0f} x)")
    if pb is None:
        print("  pedalboard Compressor (JUCE)        : not installed (pip install pedalboard)")
    else:
        full = xrt[(next(iter(CONFIGS)), 32)][1]
        juce = xrt[("pedalboard Compressor (JUCE, C++)", 64)][1]
        print(f"  full chain at 32 frames / JUCE at 64, medians of the same rounds: {full / juce:.2f}")
    print(f"  Python API Engine.process_into, 64 frames: {python_call_us():.1f} us per call")
    print("Latency (default settings, lookahead 0):")
    for sr in (44100, 48000, 96000):
        lat = int(chain.total_latency(float(sr), 0.0))
        print(f"  {sr:6d} Hz: {lat:4d} samples = {lat / sr * 1000:.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
