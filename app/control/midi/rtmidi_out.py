"""MidiOutput: a python-rtmidi output for feedback.

A virtual port, or a named destination it connects to when it appears.
"""
from __future__ import annotations

import logging
import threading
import time

from app.control.midi.ports import (
    MidiError,
    _api,
    _api_label,
    _close,
    _rtmidi,
    _split_spec,
    match_port,
)

log = logging.getLogger("uplift.midi")


class MidiOutput:
    """Feedback through one rtmidi output: send(msg) from any thread.

    port=None opens a virtual output `<client_name>:<port_name>` to patch to a
    controller; port="name" sends to that destination, connecting when it
    appears (looked for at most once a second, on send) and again after it
    went away. A send that cannot be delivered is dropped and counted."""

    RETRY_S = 1.0

    def __init__(self, port: str | None = None, api="jack", client_name: str = "uplift-feedback",
                 port_name: str = "feedback"):
        self.api = _api(api)
        self.wanted = port
        self.client_name = client_name
        self.port_name = port_name
        self.connected_to: str | None = None
        self.dropped = 0
        self._lock = threading.Lock()
        self._next_try = 0.0
        rtmidi = _rtmidi()
        if self.api not in rtmidi.get_compiled_api():
            raise MidiError(f"{_api_label(self.api)} MIDI is not supported by this python-rtmidi build")
        try:
            self._mo = rtmidi.MidiOut(self.api, client_name)
        except rtmidi.RtMidiError as e:
            raise MidiError(f"{_api_label(self.api)} MIDI output is not available ({e})") from None
        if port is None:
            self._mo.open_virtual_port(port_name)
            self.status = f"sending on {client_name}:{port_name}"
        else:
            self.status = f"waiting for MIDI output {port!r}"
            self._try_connect()

    def _try_connect(self) -> bool:
        self._next_try = time.monotonic() + self.RETRY_S
        ports = list(self._mo.get_ports())
        if self.connected_to is not None and self.connected_to in ports:
            return True
        name = match_port(self.wanted, ports)
        if self._mo.is_port_open():
            self._mo.close_port()
        self.connected_to = None
        if name is None:
            self.status = f"waiting for MIDI output {self.wanted!r}"
            return False
        self._mo.open_port(ports.index(name), self.port_name)
        self.connected_to = name
        self.status = f"connected to {name}"
        return True

    def send(self, msg: bytes) -> None:
        with self._lock:
            if self._mo is None:
                return
            try:
                if self.wanted is not None and self.connected_to is None and (
                        time.monotonic() < self._next_try or not self._try_connect()):
                    self.dropped += 1
                    return
                self._mo.send_message(list(msg))
            except Exception as e:   # a vanished port: dropped, counted, retried
                self.dropped += 1
                self.connected_to = None if self.wanted is not None else self.connected_to
                log.debug("MIDI feedback not sent: %s", e)

    def close(self) -> None:
        with self._lock:
            mo, self._mo = self._mo, None
        if mo is not None:
            _close(mo)

    stop = close


def open_output(spec: str | None, **kw) -> MidiOutput:
    """`--midi-out` helper: spec as for open_input ("jack:" for a virtual output)."""
    api, name = _split_spec(spec)
    return MidiOutput(port=name, api=api, **kw)
