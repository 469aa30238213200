"""`uplift bench` / `make bench`: engine cost per frame against JUCE's, and latency.

What each figure compares:

- *native loop*: ns per stereo frame (48 kHz noise) with the whole buffer handed
  to native code in one call, which cuts it into blocks itself: Uplift's engine
  entry (the function the audio callbacks run, 64-frame blocks) against
  pedalboard's JUCE Compressor, Limiter and Compressor+Limiter each given the
  whole buffer in one `process` call. Uplift is measured as the full chain and
  as each stage alone (the others switched off; "base" is every stage off:
  input sanitising, gains, meters and the dry path). "gaps": the same noise
  with every other half second 60 dB down, below the gate's threshold, so its
  gain moves (the default input is above it: the gate stays open).
- *per call*: µs for one call of one frame from Python: Engine.process_into
  against pedalboard's `process`, i.e. each API's fixed overhead.

All configurations are measured round-robin, `--runs` rounds, so every figure
sees the same moments of a host whose speed swings by tens of percent over
minutes; each figure is the median over rounds (best in brackets).
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
from engine.params import PARAMS

SR = 48000
BLOCK = 64
OFF = {"gate_on": 0, "drift_on": 0, "settle_on": 0, "limiter_on": 0}
CONFIGS = {
    "full chain (DRIFT+SETTLE+limiter)": {},
    "full chain + gate": {"gate_on": 1},
    "base (every stage off)": OFF,
    "GATE alone": {**OFF, "gate_on": 1},
    "GATE alone, gaps": {**OFF, "gate_on": 1},
    "DRIFT alone": {**OFF, "drift_on": 1},
    "DRIFT alone, noise guard off": {**OFF, "drift_on": 1, "drift_guard": 0},
    "DRIFT alone, lifting quiet noise": {**OFF, "drift_on": 1, "drift_guard": 0},
    "SETTLE alone": {**OFF, "settle_on": 1},
    "SETTLE alone, style opto": {**OFF, "settle_on": 1, "style": "opto"},
    "SETTLE alone, style fet": {**OFF, "settle_on": 1, "style": "fet"},
    "SETTLE alone, style varimu": {**OFF, "settle_on": 1, "style": "varimu"},
    "full chain + level match": {"match": 1},
    "limiter alone": {**OFF, "limiter_on": 1},
}
JUCE_FULL = "JUCE Compressor+Limiter"


def _noise(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(1)
    return (0.1 * rng.standard_normal((int(seconds * SR), 2))).astype(np.float32)


def _gaps(x: np.ndarray) -> np.ndarray:
    y = x.copy()
    half = SR // 2
    for i in range(half, y.shape[0], 2 * half):
        y[i:i + half] *= 1e-3
    return y


def engine_run(values: dict, x: np.ndarray):
    """A function that runs the engine entry once over x (frames, 2), in one call."""
    eng = Engine(SR, 2, max_block=BLOCK)
    eng.update(values)
    eng.reset()
    y = np.zeros_like(x)
    return lambda: eng.process_into(x, y)


def pedalboard_runs(x: np.ndarray) -> dict:
    """JUCE's Compressor, Limiter and both in series, each over x in one call
    (the same settings as Uplift's defaults where they exist); {} without pedalboard."""
    try:
        import pedalboard
    except ImportError:
        return {}
    xt = np.ascontiguousarray(x.T)

    def comp():
        return pedalboard.Compressor(threshold_db=-18, ratio=3, attack_ms=10, release_ms=120)

    def lim():
        return pedalboard.Limiter(threshold_db=-0.3, release_ms=100)

    boards = {"JUCE Compressor": pedalboard.Pedalboard([comp()]),
              "JUCE Limiter": pedalboard.Pedalboard([lim()]),
              JUCE_FULL: pedalboard.Pedalboard([comp(), lim()])}
    return {name: (lambda b=b: b.process(xt, SR)) for name, b in boards.items()}


def round_robin(runs: dict, rounds: int) -> dict:
    """name -> list of seconds per run; run k of every function falls in round k."""
    times = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            t0 = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t0)
    return times


def per_call_runs(calls: int = 2000) -> dict:
    """One-frame calls from Python: Engine.process_into, and pedalboard's process."""
    eng = Engine(SR, 2, max_block=BLOCK)
    x = np.zeros((1, 2), np.float32)
    y = np.zeros((1, 2), np.float32)

    def uplift():
        for _ in range(calls):
            eng.process_into(x, y)
    runs = {"Uplift Engine.process_into": uplift}
    try:
        import pedalboard
    except ImportError:
        return runs
    board = pedalboard.Pedalboard([pedalboard.Compressor()])
    xt = np.zeros((2, 1), np.float32)

    def juce():
        for _ in range(calls):
            board.process(xt, SR, reset=False)
    runs["pedalboard process"] = juce
    return runs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="uplift bench", description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.0, help="audio per run")
    ap.add_argument("--runs", type=int, default=15, help="rounds")
    args = ap.parse_args(argv)
    x = _noise(args.seconds)
    frames = x.shape[0]
    gaps = _gaps(x)
    quiet = x * np.float32(0.01)                # −60 dBFS: DRIFT lifts every band
    runs = {name: engine_run(values, gaps if "gaps" in name else quiet if "quiet" in name else x)
            for name, values in CONFIGS.items()}
    juce = pedalboard_runs(x)
    runs.update(juce)
    calls = 2000
    call_runs = per_call_runs(calls)
    for run in list(runs.values()) + list(call_runs.values()):
        run()                                   # warm: nothing is compiled inside the rounds
    times = round_robin({**runs, **call_runs}, args.runs)
    print(f"Uplift engine benchmark: stereo {SR} Hz noise, {args.seconds:g} s per run, "
          f"{args.runs} rounds round-robin; median (best)")
    print(f"Native loop, ns per stereo frame (Uplift: engine entry, {BLOCK}-frame blocks; "
          f"JUCE via pedalboard: one call over the whole buffer):")
    ns = {}
    for name in runs:
        t = np.array(times[name]) / frames * 1e9
        ns[name] = float(np.median(t))
        print(f"  {name:36s} {ns[name]:7.1f}  ({t.min():.1f})")
    base = ns["base (every stage off)"]
    print(f"  DRIFT alone over the base: {ns['DRIFT alone'] - base:.1f} on −20 dBFS noise (the "
          f"guard holds it: nothing lifted), {ns['DRIFT alone, lifting quiet noise'] - base:.1f} "
          f"lifting every band of −60 dBFS noise")
    if juce:
        full = ns[next(iter(CONFIGS))]
        print(f"  full chain / {JUCE_FULL}: {full / ns[JUCE_FULL]:.2f} x the cost per frame "
              f"(JUCE Compressor alone: {full / ns['JUCE Compressor']:.2f} x)")
    else:
        print("  pedalboard not installed: no JUCE figures (pip install pedalboard)")
    print("Per call from Python, one frame, µs:")
    for name in call_runs:
        t = np.array(times[name]) / calls * 1e6
        print(f"  {name:36s} {np.median(t):7.2f}  ({t.min():.2f})")
    print("Latency (default settings):")
    for sr in (44100, 48000, 96000):
        d = {p.id: p.default for p in PARAMS}
        lat = int(chain.total_latency(float(sr), d["lookahead"], d["drift_lookahead"]))
        print(f"  {sr:6d} Hz: {lat:4d} samples = {lat / sr * 1000:.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
