"""MidiPoller: the native JACK client's midi_in into a MidiController.

Drains any callable returning a list of raw MIDI events (bytes), e.g.
LiveSession.read_midi() for the native JACK client's CLIENT:midi_in port, on
its own thread, and feeds them.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from app.control.midi.controller import MidiController


class MidiPoller:
    """Drains `source()` (a callable returning a list of raw MIDI events as
    bytes, e.g. LiveSession.read_midi) every `interval` seconds on its own
    thread and feeds each event to the controller. A source that raises
    (session stopped, server gone) is retried with back-off; never crashes."""

    def __init__(self, controller: MidiController, source: Callable[[], list],
                 interval: float = 0.005, name: str = "uplift-midi-poll"):
        self.controller = controller
        self.source = source
        self.interval = interval
        self.name = name
        self.events = 0
        self.errors = 0
        self.last_error: str | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def poll_once(self) -> int:
        """Drain the source once; returns the number of events fed."""
        events = self.source()
        n = 0
        for ev in events or ():
            n += 1
            self.controller.feed_event(ev)
        self.events += n
        return n

    def start(self) -> MidiPoller:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        t, self._thread = self._thread, None
        if t is not None:
            t.join(5)

    def _run(self) -> None:
        backoff = self.interval
        while not self._stop.is_set():
            try:
                self.poll_once()
                backoff = self.interval
            except Exception as e:   # never let the poller thread die
                self.errors += 1
                self.last_error = str(e)
                backoff = min(max(backoff * 2, self.interval), 1.0)
            self._stop.wait(backoff)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
