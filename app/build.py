"""`python -m app.build`: build everything a session runs, for this machine, now
(`make run` and `make test` do): the engine (engine/build.py) and the native
audio callbacks of the JACK and PortAudio hosts. Later starts load it."""
from __future__ import annotations

import time

from engine import build as engine_build
from engine.prepare import build_all as build_engine


def natives() -> tuple:
    """The hosts' Native callbacks (compiled into the same cache as the engine)."""
    from app.hosts import jack as jack_host
    from app.hosts import portaudio as pa_host
    return (jack_host.jack_process, jack_host.player_process, jack_host.xrun_cb,
            jack_host.shutdown_cb, jack_host.quiet_cb, jack_host.latency_cb, pa_host.pa_callback)


def build_all(report=None) -> None:
    """The engine and the host callbacks, with `report(done, expected)` progress."""
    with engine_build.building(report):
        build_engine(report, natives())


if __name__ == "__main__":
    build_all()
    print(f"audio engine ready ({time.process_time():.1f} CPU-s) in {engine_build.CACHE_DIR}")
