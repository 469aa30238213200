#!/usr/bin/env python3
"""Soak the live JACK path: random automation for a given time, then the verdict.

Starts a private `jackd -d dummy` (unless --server NAME names a running one),
runs a LiveSession on it with a native player looping generated programme
material (the demo phrase, noise bursts, silence) into its inputs, and moves
random parameters (every parameter, every few milliseconds) from a Python
thread, the way a GUI and a MIDI controller would. Reports callbacks against
the expected number of periods, xruns, max callback load, and any non-finite
or over-ceiling output the engine saw.

    python scripts/soak.py                 # 10 minutes
    python scripts/soak.py --minutes 1 --blocksize 64
"""
import argparse
import math
import os
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from app.hosts import jack as J  # noqa: E402
from app.session.live import LiveSession  # noqa: E402
from engine.params import PARAMS  # noqa: E402

# Values that move the output past the ceiling by design (post-limiter gain,
# dry mix, bypass, listen) stay fixed, so "over the ceiling" means a real bug.
FIXED = {"limiter_on": 1, "mix": 100, "output_gain": 0, "bypass": 0, "listen": "out", "ceiling": -1.0}


def programme(sr: int) -> np.ndarray:
    """The demo phrase, then a clipped full-scale noise burst, then silence."""
    from app.session.demo import generate
    x = np.asarray(generate(sr), np.float32)
    if x.ndim == 1:
        x = np.stack([x, x], axis=1)
    rng = np.random.default_rng(0)
    burst = (0.9 * rng.standard_normal((sr // 2, 2))).clip(-1, 1).astype(np.float32)
    return np.concatenate([x[:, :2], burst, np.zeros((sr // 2, 2), np.float32)])


def automate(session, stop: threading.Event, rate_hz: float, seed: int, counter: list):
    rng = np.random.default_rng(seed)
    moving = [p for p in PARAMS if p.id not in FIXED]
    while not stop.is_set():
        p = moving[int(rng.integers(0, len(moving)))]
        if p.kind == "bool":
            v = float(rng.integers(0, 2))
        elif p.kind == "enum":
            v = float(rng.integers(0, len(p.choices)))
        else:
            v = p.from_norm(rng.random())
        session.set(p.id, v)
        counter[0] += 1
        stop.wait(1.0 / rate_hz)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--blocksize", type=int, default=64, help="JACK period of the private server")
    ap.add_argument("--samplerate", type=int, default=48000)
    ap.add_argument("--rate", type=float, default=200.0, help="parameter changes per second")
    ap.add_argument("--server", help="use this running JACK server instead of a private one")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    server = None
    if args.server:
        os.environ["JACK_DEFAULT_SERVER"] = args.server
    else:
        server = J.PrivateJackServer(args.samplerate, args.blocksize).start()
    session = player = None
    stop = threading.Event()
    changes = [0]
    try:
        session = LiveSession(backend="jack", client_name="uplift-soak", no_connect=True,
                              midi=False).start()
        session.update(FIXED)
        sr = int(session.samplerate)
        player = J.NativePlayer(programme(sr), name="uplift-soak-player")
        player.start([f"{session.client_name}:in_1", f"{session.client_name}:in_2"])
        worker = threading.Thread(target=automate, args=(session, stop, args.rate, args.seed, changes),
                                  daemon=True)
        time.sleep(1.0)                       # warm-up; steady state is measured after it
        s0 = session.stats()
        t0 = time.monotonic()
        worker.start()
        duration = args.minutes * 60.0
        next_print = 0.0
        worst_peak = -math.inf
        nonfinite = 0
        while True:
            el = time.monotonic() - t0
            if el >= duration or not session.running:
                break
            m = session.meters()
            peak = max(m["out_peak_db"])
            if not all(math.isfinite(v) for v in m["out_rms_db"] + m["out_peak_db"]):
                nonfinite += 1
            worst_peak = max(worst_peak, peak)
            nonfinite = max(nonfinite, int(m.get("nonfinite_out", 0)))
            if el >= next_print:
                s = session.stats()
                print(f"\r{el:7.0f} s  callbacks {s['callbacks'] - s0['callbacks']:9d}  xruns "
                      f"{s['xruns'] - s0['xruns']:3d}  load {s['load']*100:5.1f}%  max "
                      f"{s['load_max']*100:5.1f}%  changes {changes[0]:7d}  peak {peak:6.1f} dBFS",
                      end="", flush=True)
                next_print += 5.0
            time.sleep(0.02)
        stop.set()
        el = time.monotonic() - t0
        s1 = session.stats()
        print()
        if not session.running:
            print(f"soak: the session stopped: {session.error}", file=sys.stderr)
            return 1
        expected = el * sr / s1["blocksize"]
        cb = s1["callbacks"] - s0["callbacks"]
        xr = s1["xruns"] - s0["xruns"]
        print(f"soak: {el / 60:.1f} min at {sr} Hz, period {s1['blocksize']}: "
              f"{cb} callbacks ({cb / expected * 100:.2f} % of {expected:.0f} expected periods), "
              f"{xr} xruns, max callback load {s1['load_max'] * 100:.1f} %, "
              f"mean load {s1['load_avg'] * 100:.2f} %, {changes[0]} parameter changes, "
              f"non-finite output {nonfinite}, highest output peak {worst_peak:.2f} dBFS "
              f"(ceiling {FIXED['ceiling']} dBFS)")
        ok = xr == 0 and nonfinite == 0 and worst_peak <= FIXED["ceiling"] + 1e-3
        return 0 if ok else 1
    finally:
        stop.set()
        if player is not None:
            player.close()
        if session is not None:
            session.stop()
        if server is not None:
            server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
