"""The JACK backend on PipeWire's JACK (Debian's pipewire, pipewire-jack).

A private PipeWire instance is started in its own runtime folder, and the live
JACK checks run again in a child pytest whose JACK library is PipeWire's (as
`pw-jack` arranges): audio through the engine between native clients,
published port latency (unconnected and after a lookahead change), and
`uplift run` headless. The checks whose harness clients run Python process
callbacks are jackd's alone: closing such a client (jack_deactivate) under
PipeWire 0.3.65 hung in 2 of 3 runs here while its callback waited for the
GIL; Uplift's own clients are native and close cleanly. So are the checks that
kill and restart the server.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from jackserver import PipeWireServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECKS = ["test_native_player_feeds_the_engine", "test_port_latency_is_published_to_jack",
          "test_run_headless_jack"]


@pytest.mark.skipif(not PipeWireServer.available(),
                    reason="PipeWire's JACK is not installed (make test installs it)")
def test_live_checks_pass_on_pipewire(tmp_path):
    pw = PipeWireServer(str(tmp_path / "runtime")).start()
    try:
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            os.path.join(ROOT, "tests", "test_live_jack.py"),
                            "-k", " or ".join(CHECKS)],
                           cwd=ROOT, env=pw.env(), capture_output=True, text=True, timeout=300)
    finally:
        pw.stop()
    tail = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr[-2000:]
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert f"{len(CHECKS)} passed" in tail, tail
