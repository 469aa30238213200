#!/usr/bin/env python3
"""Why Uplift's audio callback is native: the same JACK stream, two Python threads busy.

    .venv/bin/python scripts/xrun_compare.py [--seconds 20] [--python-seconds 20] [--threads 2]

Runs (1) Uplift's LiveSession, whose JACK process callback is a Numba @cfunc,
and (2) a plain Python-callback JACK client (jack-client) that calls the same
compiled engine on each block, each while N Python threads spin on pure-Python
work. Prints callbacks received vs expected and the xrun count for both,
measured in steady state (after a warm-up). Uses the running JACK server
(JACK_DEFAULT_SERVER), or starts a private `jackd -d dummy` if none is running.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402


def _spin(stop: threading.Event):
    x = 0
    while not stop.is_set():
        x += sum(i * i for i in range(2000)) & 0xFF   # pure Python, holds the GIL


def _jiffies(pid=None) -> int:
    """CPU time (clock ticks) of the whole machine (pid None: busy, all CPUs) or of one pid."""
    try:
        if pid is None:
            v = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
            return sum(v) - v[3] - v[4]          # all but idle and iowait
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])           # utime + stime
    except (OSError, IndexError, ValueError):
        return 0


def _jackd_pids() -> list[int]:
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if Path(f"/proc/{d}/comm").read_text().strip() == "jackd":
                    pids.append(int(d))
            except OSError:
                pass
    return pids


class CpuOthers:
    """Cores used by *other* processes (not this one, not jackd) during a window: the
    contention on a shared machine that no scheduling inside this process can avoid."""

    def start(self):
        self.t = time.monotonic()
        self.ours = [os.getpid()] + _jackd_pids()
        self.a = _jiffies() - sum(_jiffies(p) for p in self.ours)
        return self

    def cores(self) -> float:
        b = _jiffies() - sum(_jiffies(p) for p in self.ours)
        hz = os.sysconf("SC_CLK_TCK")
        return max(0.0, (b - self.a) / hz / max(1e-6, time.monotonic() - self.t))


class Spinners:
    def __init__(self, n: int = 2):
        self.n = n
        self.stop = threading.Event()
        self.threads = []

    def __enter__(self):
        for k in range(self.n):
            t = threading.Thread(target=_spin, args=(self.stop,), name=f"spinner-{k}", daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(5)


def measure_native(seconds: float = 20.0, warmup: float = 1.0, threads: int = 2,
                   client_name: str = "uplift-xrun") -> dict:
    """Uplift's native callback, steady state, with `threads` busy Python threads."""
    from app.session.live import LiveSession
    s = LiveSession(backend="jack", client_name=client_name)
    s.start()
    try:
        with Spinners(threads):
            time.sleep(warmup)
            a = s.stats()
            t0 = time.monotonic()
            cpu = CpuOthers().start()
            time.sleep(seconds)
            b = s.stats()
            others = cpu.cores()
            dt = time.monotonic() - t0
        return {
            "kind": "native @cfunc", "seconds": dt, "samplerate": b["samplerate"],
            "blocksize": b["blocksize"], "callbacks": b["callbacks"] - a["callbacks"],
            "expected": dt * b["samplerate"] / b["blocksize"], "xruns": b["xruns"] - a["xruns"],
            "load": b["load"], "load_max": b["load_max"], "load_avg": b["load_avg"],
            "running": b["running"], "others_cores": others,
        }
    finally:
        s.stop()


def measure_python(seconds: float = 20.0, warmup: float = 1.0, threads: int = 2,
                   client_name: str = "py-callback", close: bool = True) -> dict:
    """A jack-client stream whose process callback is Python (a plain NumPy gain per
    block: the cheapest possible Python callback, so what it loses is the GIL's doing,
    not its work), with `threads` busy Python threads."""
    import jack

    client = jack.Client(client_name, no_start_server=True)
    sr, bs = client.samplerate, client.blocksize
    ins = [client.inports.register(f"in_{k + 1}") for k in range(2)]
    outs = [client.outports.register(f"out_{k + 1}") for k in range(2)]
    count = [0]
    xruns = [0]

    @client.set_process_callback
    def process(frames):
        count[0] += 1
        for k in range(2):
            np.multiply(ins[k].get_array(), 0.5, out=outs[k].get_array())

    @client.set_xrun_callback
    def xrun(delay):
        xruns[0] += 1

    client.activate()
    try:
        cap = client.get_ports(is_physical=True, is_output=True, is_audio=True)
        play = client.get_ports(is_physical=True, is_input=True, is_audio=True)
        for p, i in zip(cap, ins, strict=False):
            client.connect(p, i)
        for o, p in zip(outs, play, strict=False):
            client.connect(o, p)
        with Spinners(threads):
            time.sleep(warmup)
            c0, x0 = count[0], xruns[0]
            t0 = time.monotonic()
            cpu = CpuOthers().start()
            time.sleep(seconds)
            c1, x1 = count[0], xruns[0]
            others = cpu.cores()
            dt = time.monotonic() - t0
        return {"kind": "Python callback", "seconds": dt, "samplerate": sr, "blocksize": bs,
                "callbacks": c1 - c0, "expected": dt * sr / bs, "xruns": x1 - x0,
                "others_cores": others}
    finally:
        if close:
            _close_releasing_gil(client)


def _close_releasing_gil(client):
    """Deactivate and close a jack-client Client through ctypes, which releases the GIL
    for the call: jack_deactivate waits for the process thread, and a Python process
    callback waiting for the GIL would otherwise deadlock against it."""
    from app.hosts import jack as J
    ffi = __import__("jack")._ffi
    ptr = int(ffi.cast("uintptr_t", client._ptr)) if client._ptr else 0
    if ptr:
        client._ptr = ffi.NULL
        J.jack_deactivate(ptr)
        J.jack_client_close(ptr)


def python_subprocess(seconds: float, threads: int = 2, samplerate: int = 48000,
                      blocksize: int = 64, timeout: float = 120) -> dict:
    """measure_python() in a fresh process (its own GIL, its own spinners) on its own
    private dummy server with the same settings, so a wedged Python-callback client can
    never hang the caller or its server."""
    import json
    import subprocess
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACK_")}
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "--only", "python", "--json",
                        "--seconds", str(seconds), "--threads", str(threads),
                        "--samplerate", str(samplerate), "--blocksize", str(blocksize)],
                       env=env, capture_output=True, text=True, timeout=timeout)
    for ln in r.stdout.splitlines():
        if ln.startswith("{"):
            return json.loads(ln)
    raise RuntimeError(f"python measurement failed: {(r.stderr or r.stdout).strip()[-300:]}")


def line(r: dict) -> str:
    lost = 1.0 - r["callbacks"] / r["expected"] if r["expected"] else 0.0
    extra = ""
    if "load_avg" in r:
        extra = f", load avg {100 * r['load_avg']:.1f}% max {100 * r['load_max']:.1f}%"
    return (f"{r['kind']:16s} {r['seconds']:5.1f} s: callbacks {r['callbacks']:6d} / expected "
            f"{r['expected']:8.0f} ({100 * lost:5.1f}% missed), xruns {r['xruns']:5d}{extra}"
            f"  [other processes used {r.get('others_cores', 0):.2f} cores]")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--python-seconds", type=float, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", choices=("native", "python"), default=None)
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--samplerate", type=int, default=48000, help=argparse.SUPPRESS)
    ap.add_argument("--blocksize", type=int, default=64, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.only == "python" and a.json:
        # On its own private dummy server: a Python-callback client under GIL pressure can
        # wedge jackd (jack_deactivate blocks, SIGTERM is ignored), so it gets a server of
        # its own, which is killed afterwards.
        import json

        from app.hosts import jack as J
        server = J.PrivateJackServer(a.samplerate, a.blocksize).start()
        try:
            r = measure_python(a.seconds, threads=a.threads, close=False)
            print(json.dumps(r), flush=True)
        finally:
            server.stop()
        os._exit(0)     # without jack_deactivate/close: see above
    from app.hosts import jack as J
    server = None
    if not J.server_running():
        server = J.PrivateJackServer(48000, 64).start()
        print(f"(started a private jackd -d dummy -r 48000 -p 64: {server.name})")
    try:
        print(f"{a.threads} Python threads spinning on pure-Python work during each measurement")
        if a.only in (None, "native"):
            print(line(measure_native(a.seconds, threads=a.threads)), flush=True)
        if a.only in (None, "python"):
            print(line(python_subprocess(a.python_seconds or a.seconds, a.threads)) +
                  "  (own private dummy server, same settings)", flush=True)
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
