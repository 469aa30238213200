#!/usr/bin/env python3
"""CPU seconds from a command's start to its first processed block (product.md, "Start-up").

Each path is started as a new process, the way a user starts it, and measured
in CPU seconds of that process (user + system; a private jackd it starts is not
counted: it is the audio server, not Uplift):

- render:   `uplift render` of a 3 s stereo file, the whole process (its first
            block is processed within it; the rest adds milliseconds);
- run:      `uplift run --headless --demo` to the first callback the engine ran
            (a private JACK dummy server and the native demo player);
- gui:      the window (Qt offscreen) on the same demo session, to the first
            callback after the window is shown.

`--cold` first empties the build cache (a private NUMBA_CACHE_DIR), so the
first figure includes building the engine for this machine; the rest are warm.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FIRST_BLOCK = """
    import os, resource, sys, time
    def cpu():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime
    {body}
    deadline = time.monotonic() + 300
    while session.meters().get("callbacks", 0) < 1:
        if time.monotonic() > deadline:
            sys.exit("no callback within 300 s")
        time.sleep(0.002)
    print(f"{{cpu():.2f}}")
    os._exit(0)     # the first block is what is measured; skip the orderly teardown
"""

RUN = """
    import argparse
    from app.session.run import open_session
    session = open_session(argparse.Namespace(demo=True, backend=None, blocksize=64, headless=True))
"""

GUI = """
    import argparse
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from ui.app import _qapp, build_window
    from app.session.run import open_session
    app = _qapp()
    session = open_session(argparse.Namespace(demo=True, backend=None, blocksize=64))
    win = build_window(session, argparse.Namespace(), note=None, owns_session=True)
    win.show()
    app.processEvents()
"""


def _child_cpu(cmd, env) -> float:
    before = os.times()
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    after = os.times()
    if r.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed: {r.stderr.strip()[-500:]}")
    return (after.children_user - before.children_user) + (after.children_system
                                                           - before.children_system)


def _snippet(body: str, env) -> float:
    code = textwrap.dedent(FIRST_BLOCK).format(body=textwrap.dedent(body).strip())
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=900)
    if r.returncode != 0:
        raise SystemExit(f"failed: {r.stderr.strip()[-800:]}")
    return float(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cold", action="store_true", help="start from an empty build cache")
    ap.add_argument("--repeat", type=int, default=3, help="warm runs per path")
    args = ap.parse_args(argv)
    env = dict(os.environ)
    import numpy as np
    import soundfile as sf
    with tempfile.TemporaryDirectory() as tmp:
        if args.cold:
            env["NUMBA_CACHE_DIR"] = os.path.join(tmp, "cache")
        src = os.path.join(tmp, "in.wav")
        rng = np.random.default_rng(0)
        sf.write(src, (0.1 * rng.standard_normal((3 * 48000, 2))).astype(np.float32), 48000)

        def render():
            out = os.path.join(tmp, "out.wav")
            if os.path.exists(out):
                os.unlink(out)
            return _child_cpu([sys.executable, "-m", "app", "render", src, out], env)

        paths = {"render": render, "run": lambda: _snippet(RUN, env),
                 "gui": lambda: _snippet(GUI, env)}
        if args.cold:
            print(f"cold (empty cache), render, first build included: {render():.1f} CPU-s")
        for name, fn in paths.items():
            t = sorted(fn() for _ in range(args.repeat))
            print(f"warm {name:7s} to the first processed block: {t[len(t) // 2]:.2f} CPU-s "
                  f"(min {t[0]:.2f}, max {t[-1]:.2f}, {len(t)} runs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
