"""The JACK backend on PipeWire's JACK (Debian's pipewire, pipewire-jack).

A private PipeWire instance is started in its own runtime folder, and the live
JACK checks run again in a child pytest whose JACK library is PipeWire's (as
`pw-jack` arranges): ports and exact gain and latency through the engine, a
parameter within one block, published port latency, MIDI in and the MIDI
budget. The checks that kill and restart the server are jackd's alone.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from jackserver import PipeWireServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECKS = ["test_ports_gain_and_latency_exact", "test_parameter_reaches_audio_within_one_block",
          "test_port_latency_is_published_to_jack", "test_midi_in_reaches_read_midi",
          "test_midi_flood_work_per_cycle_is_bounded", "test_run_headless_jack"]


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
