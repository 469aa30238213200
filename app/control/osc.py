"""OSC control (product.md, "OSC"), with python-osc over UDP.

    /uplift/param/<id> <value>      set a parameter (validated like --set; a bad
                                    message is answered on /uplift/error, never applied)
    /uplift/get/<id>                answered with /uplift/param/<id> <value>
    /uplift/preset <name>           load a factory or user preset
    /uplift/meters/subscribe [hz]   /uplift/meters at hz (default 10, 1 .. 60) to the sender:
                                    in_peak_db, out_peak_db, settle_gr_db, gate_gr_db,
                                    drift_lift_db (largest band), latency_samples
    /uplift/meters/unsubscribe

Replies (values, meters and /uplift/error) go back to the sender's address and
port, from the server's own socket, as liblo-based tools expect. A packet that
is not OSC is dropped by python-osc's parser without harm. By default the
server listens on 127.0.0.1 only: OSC has no authentication, so opening it to
the network (--osc-host 0.0.0.0) lets anyone who can reach the port drive the
processor.
"""
from __future__ import annotations

import threading
import time

from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_server import BlockingOSCUDPServer

from engine.params import param

PREFIX = "/uplift"
DEFAULT_METER_HZ = 10.0
METER_HZ_RANGE = (1.0, 60.0)


class OscError(RuntimeError):
    """The OSC port could not be opened (one line for the user)."""


def _message(address: str, *args) -> bytes:
    b = OscMessageBuilder(address=address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


class OscServer:
    """OSC control of a session (anything with set/get/update/meters), or of
    whichever session `session()` returns when given a callable (the window
    replaces its session when the device changes)."""

    def __init__(self, session, port: int, host: str = "127.0.0.1"):
        self._session = session if callable(session) else (lambda: session)
        d = Dispatcher()
        d.set_default_handler(self._handle, needs_reply_address=True)
        try:
            self._server = BlockingOSCUDPServer((host, int(port)), d)
        except OSError as e:
            raise OscError(f"cannot listen for OSC on {host}:{port}: {e.strerror or e}") from None
        self.address = self._server.server_address
        self._subscribers: dict[tuple, list[float]] = {}     # address -> [interval, next time]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                          name="uplift-osc", daemon=True),
                         threading.Thread(target=self._meter_loop, name="uplift-osc-meters",
                                          daemon=True)]

    def start(self) -> OscServer:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        for t in self._threads:
            t.join(timeout=2)

    # --- requests ----------------------------------------------------------------
    def _send(self, to, address: str, *args) -> None:
        try:
            self._server.socket.sendto(_message(address, *args), to)
        except OSError:
            with self._lock:
                self._subscribers.pop(to, None)

    def _error(self, to, text: str) -> None:
        self._send(to, f"{PREFIX}/error", text)

    def _handle(self, client, address: str, *args) -> None:
        try:
            if address.startswith(f"{PREFIX}/param/"):
                self._set(client, address[len(PREFIX) + 7:], args)
            elif address.startswith(f"{PREFIX}/get/"):
                p = param(address[len(PREFIX) + 5:])
                self._send(client, f"{PREFIX}/param/{p.id}", float(self._session().get(p.id)))
            elif address == f"{PREFIX}/preset":
                self._preset(client, args)
            elif address == f"{PREFIX}/meters/subscribe":
                self._subscribe(client, args)
            elif address == f"{PREFIX}/meters/unsubscribe":
                with self._lock:
                    self._subscribers.pop(client, None)
            else:
                self._error(client, f"unknown address {address}")
        except (KeyError, ValueError, TypeError) as e:
            text = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
            self._error(client, f"{address}: {text.splitlines()[0] if text else type(e).__name__}")

    def _set(self, client, id_: str, args) -> None:
        if len(args) != 1:
            raise ValueError(f"expected one value, got {len(args)}")
        p = param(id_)
        value = args[0]
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"{p.id}: {value!r} is not a number or word")
        self._session().set(p.id, p.validate(value))

    def _preset(self, client, args) -> None:
        if len(args) != 1 or not isinstance(args[0], str):
            raise ValueError("expected one preset name")
        from app.presets import load_preset
        self._session().update(load_preset(args[0]))

    def _subscribe(self, client, args) -> None:
        hz = float(args[0]) if args else DEFAULT_METER_HZ
        if not METER_HZ_RANGE[0] <= hz <= METER_HZ_RANGE[1]:
            raise ValueError(f"meter rate {hz:g} Hz is out of range "
                             f"({METER_HZ_RANGE[0]:g} .. {METER_HZ_RANGE[1]:g})")
        with self._lock:
            self._subscribers[client] = [1.0 / hz, time.monotonic()]

    # --- meters ------------------------------------------------------------------
    def _meter_loop(self) -> None:
        while not self._stop.wait(0.005):
            now = time.monotonic()
            with self._lock:
                due = [a for a, (interval, t) in self._subscribers.items() if t <= now]
                for a in due:
                    self._subscribers[a][1] += self._subscribers[a][0]
                    if self._subscribers[a][1] < now:        # fell behind: no burst to catch up
                        self._subscribers[a][1] = now + self._subscribers[a][0]
            if due:
                m = self._session().meters()
                if not m:           # no engine (a session between servers)
                    continue
                args = (max(m["in_peak_db"]), max(m["out_peak_db"]), float(m["settle_gr_db"]),
                        float(m["gate_gr_db"]), max(m["drift_lift_db"]),
                        float(m["latency_samples"]))
                for a in due:
                    self._send(a, f"{PREFIX}/meters", *[float(v) for v in args])
