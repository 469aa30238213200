"""MidiInput: a python-rtmidi input feeding a MidiController.

On the JACK (or ALSA) API, by port name or as a virtual port others connect
to; a reader thread polls rtmidi's queue (no Python ever runs in JACK's process
thread) and watches the port list, reconnecting when a device goes away and
comes back. On JACK a small watch client notices a server that goes away.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

from app.control.midi.controller import MidiController
from app.control.midi.ports import (
    MidiError,
    _api,
    _api_label,
    _close,
    _open_midi_in,
    _rtmidi,
    _split_spec,
    match_port,
)

log = logging.getLogger("uplift.midi")


class MidiInput:
    """One rtmidi MIDI input feeding a MidiController from a reader thread.

    port=None opens a virtual input `<client_name>:<port_name>` for other
    programs (or the user's patchbay) to connect to; port="name" connects to
    that source, waits for it if it is not there yet, and reconnects when it
    disappears and comes back (the port list is polled every `poll_interval`
    seconds). On JACK, a server that goes away is noticed (a small watch
    client's shutdown callback) and the input is reopened when it returns.
    `status` is a one-line description for the GUI/CLI.

    Messages are polled from rtmidi's queue on our own thread: with an rtmidi
    callback, Python would run (and take the GIL) inside JACK's process thread.
    """

    def __init__(self, controller: MidiController, port: str | None = None, api="jack",
                 client_name: str = "uplift-midi", port_name: str = "in",
                 poll_interval: float = 0.5, read_interval: float = 0.002):
        self.controller = controller
        self.wanted = port
        self.api = _api(api)
        self.client_name = client_name
        self.port_name = port_name
        self.poll_interval = poll_interval
        self.read_interval = read_interval
        self.connected_to: str | None = None
        self.status = "stopped"
        self.events = 0
        self.reconnects = 0
        self._mi = None
        self._watch_client = None
        self._server_gone = threading.Event()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def connected(self) -> bool:
        return self._mi is not None and (self.wanted is None or self.connected_to is not None)

    def start(self) -> MidiInput:
        """Open the input (MidiError with one clear line if the API is not
        available) and start the reader thread."""
        if self._thread is not None:
            return self
        self._open()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="uplift-midi-in", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        t, self._thread = self._thread, None
        if t is not None:
            t.join(5)
        self._close_all()
        self.status = "stopped"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _open(self) -> None:
        self._server_gone.clear()
        if self.api == _rtmidi().API_UNIX_JACK:
            self._watch_client = _jack_watch_client(f"{self.client_name}-watch",
                                                    self._server_gone.set)
        try:
            self._mi = _open_midi_in(self.api, self.client_name)
            if self.wanted is None:
                self._mi.open_virtual_port(self.port_name)
                self.status = f"listening on {self.client_name}:{self.port_name}"
            else:
                self._connect(self._mi.get_ports())
        except MidiError:
            self._close_all()
            raise
        except Exception as e:   # rtmidi raises its own and system errors: one MidiError
            self._close_all()
            raise MidiError(f"cannot open MIDI input: {e}") from None

    def _close_all(self) -> None:
        mi, self._mi = self._mi, None
        if mi is not None:
            _close(mi)
        wc, self._watch_client = self._watch_client, None
        if wc is not None:
            _close_bounded(wc)
        self.connected_to = None

    def _connect(self, ports: list[str]) -> bool:
        name = match_port(self.wanted, ports)
        if name is None:
            self.connected_to = None
            self.status = f"waiting for MIDI input {self.wanted!r}"
            return False
        mi = self._mi
        if mi.is_port_open():
            mi.close_port()
        mi.open_port(ports.index(name), self.port_name)
        self.controller.reset_takeover()
        self.connected_to = name
        self.status = f"connected to {name}"
        return True

    def _run(self) -> None:
        next_poll = time.monotonic() + self.poll_interval
        retry = self.poll_interval
        while not self._stop.is_set():
            try:
                if self._server_gone.is_set() or self._mi is None:
                    self._reopen_later(retry)
                    retry = min(retry * 2, 5.0)
                    continue
                retry = self.poll_interval
                got = self._drain()
                now = time.monotonic()
                if self.wanted is not None and now >= next_poll:
                    next_poll = now + self.poll_interval
                    self._watch()
                if not got:
                    self._stop.wait(self.read_interval)
            except Exception as e:       # never let the reader die
                self.status = f"MIDI input error: {e}"
                log.warning("MIDI input: %s", e)
                self._stop.wait(self.poll_interval)

    def _reopen_later(self, delay: float) -> None:
        if self._mi is not None or self._watch_client is not None:
            self._close_all()
            self.status = f"{_api_label(self.api)} server gone; waiting for it to come back"
            log.warning("MIDI input: %s", self.status)
        if self._stop.wait(delay):
            return
        try:
            self._open()
            self.reconnects += 1
        except MidiError:
            self._close_all()
            self.status = f"{_api_label(self.api)} server gone; waiting for it to come back"

    def _drain(self) -> int:
        mi = self._mi
        n = 0
        while mi is not None and n < 4096:
            msg = mi.get_message()
            if not msg:
                break
            n += 1
            self.events += 1
            self.controller.feed_event(msg[0])
        return n

    def _watch(self) -> None:
        ports = list(self._mi.get_ports())
        if self.connected_to is not None and self.connected_to not in ports:
            # The device went away: close our port, wait for it to come back.
            self.status = f"MIDI input {self.connected_to!r} disappeared; waiting"
            self.connected_to = None
            self._mi.close_port()
        if self.connected_to is None and self._connect(ports):
            self.reconnects += 1


CLOSE_TIMEOUT_S = 2.0


def _close_bounded(client) -> None:
    """Close a JACK-Client client without letting a stuck close hang the caller:
    libjack's jack_client_close has been seen to block for good (JACK2 1.9.21,
    a never-activated client closed after other clients of the process came and
    went), so it runs in a daemon thread that is waited for CLOSE_TIMEOUT_S."""
    def close():
        with contextlib.suppress(Exception):
            client.close()
    t = threading.Thread(target=close, name="uplift-jack-close", daemon=True)
    t.start()
    t.join(CLOSE_TIMEOUT_S)
    if t.is_alive():
        log.warning("JACK did not close the MIDI watch client within %.0f s; left behind",
                    CLOSE_TIMEOUT_S)


def _jack_watch_client(name: str, on_gone: Callable[[], object]):
    """A port-less, never-activated JACK client whose only job is the server's
    shutdown callback. None if the JACK-Client module is missing; MidiError
    if there is no server."""
    try:
        import jack
    except Exception:                # pragma: no cover - a dependency
        return None
    try:
        c = jack.Client(name, no_start_server=True)
    except jack.JackError as e:
        raise MidiError(f"JACK MIDI is not available: is the JACK server running? ({e})") from None
    c.set_shutdown_callback(lambda status, reason: on_gone())
    return c


def open_input(controller: MidiController, spec: str | None, **kw) -> MidiInput:
    """`--midi-in` helper: spec "NAME", "jack:NAME", "alsa:NAME", or "jack:" /
    None for a virtual JACK input. Starts and returns the MidiInput."""
    api, name = _split_spec(spec)
    return MidiInput(controller, port=name, api=api, **kw).start()
