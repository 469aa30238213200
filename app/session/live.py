"""`LiveSession`: Uplift on a live audio stream (product.md, "Python API", "JACK").

The audio callback is native on both backends (dsp.md, realtime rule 1):

* JACK (app/hosts/jack.py): libjack's process callback is a Numba @cfunc; the
  xrun and shutdown notifications are cfuncs too.
* PortAudio (app/hosts/portaudio.py): sounddevice's expert mode with a @cfunc
  PaStreamCallback.

Both reach everything through one pointer: the address table of a `LiveState`
(engine state + host arrays). Everything is allocated and compiled before the
stream starts. Parameters go through `self.engine.set` (engine.live is True
while the stream runs, so the values travel through the lock-free ring the
callback drains); meters come back through the engine's seqlock snapshot, with
the callback count, xruns and load filled in by the callback.

A watchdog thread polls the shutdown flag (raised natively by jack_on_shutdown)
or the PortAudio stream state; when the server goes away the session stops
itself, records `error`, and can be started again later with the same values.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time

import numpy as np

from app.hosts import cycle as C
from app.hosts import jack as J
from engine import Engine
from engine.native import address_table
from engine.params import param
from engine.rt import midi_drain, midi_push

BACKENDS = ("jack", "portaudio")
MIDI_READ_BYTES = 1 << 14
log = logging.getLogger(__name__)


def _is_output(short: str) -> bool:
    """Our port `short` sends (out_N, midi_out) rather than receives."""
    return short.startswith("out") or short == "midi_out"


class LiveError(RuntimeError):
    """A live-audio problem the user can fix; the message is one clear line."""


class LiveSession:
    def __init__(self, backend: str = "jack", device=None, samplerate=None, blocksize: int = 64,
                 channels: int = 2, sidechain: bool = False, client_name: str = "uplift",
                 no_connect: bool = False, engine_values: dict | None = None,
                 max_block: int = 4096, midi: bool = True, reconnect: bool = False):
        if backend not in BACKENDS:
            raise ValueError(f"backend: {backend!r} is not one of {', '.join(BACKENDS)}")
        if channels not in (1, 2):
            raise ValueError(f"channels: {channels} is not supported (1 or 2)")
        if blocksize is not None and not 1 <= int(blocksize) <= 8192:
            raise ValueError(f"blocksize: {blocksize} is out of range (1 .. 8192)")
        if samplerate is not None and not 44100 <= float(samplerate) <= 192000:
            raise ValueError(f"samplerate: {samplerate:g} is out of range (44100 .. 192000 Hz)")
        self.backend = backend
        self.device = device
        self.requested_samplerate = samplerate
        self.requested_blocksize = blocksize
        self.channels = int(channels)
        self.sidechain = bool(sidechain)
        self.client_name = client_name
        self.no_connect = bool(no_connect)
        self.max_block = int(max_block)
        self.midi = bool(midi) and backend == "jack"
        self._values: dict[str, float] = {}
        for k, v in (engine_values or {}).items():
            p = param(k)
            self._values[p.id] = p.validate(v)
        self.engine: Engine | None = None
        self.samplerate: float | None = None
        self.blocksize: int | None = None
        self.error: str | None = None
        self.running = False
        self._lock = threading.RLock()
        self._client: J.JackClient | None = None
        self._announced_latency = 0     # what the JACK ports were told Uplift adds
        self._latency_cell = None       # where the native latency callback reads it
        self._pa = None
        self._host = None
        self._live_state = None
        self._table = None
        self._cfunc = None
        self._io_extra = 0
        self._watchdog: threading.Thread | None = None
        self._stop_evt = threading.Event()
        self._midi_out = np.zeros(MIDI_READ_BYTES, np.uint8)
        self._midi_lens = np.zeros(MIDI_READ_BYTES // 2, np.int64)
        self.port_names: dict[str, str] = {}
        # JACK: after the server goes away, wait for it and come back with the same
        # parameters and connections (product.md, "JACK")
        self.reconnect = bool(reconnect) and backend == "jack"
        self.waiting = False
        self.reconnects = 0
        self._wiring: list[tuple[str, str]] = []   # (our port, other port), kept while running
        # called as fn(id, value) after every set(), whoever made it (GUI, MIDI, OSC,
        # preset): MIDI feedback listens here
        self.listeners: list = []
        self._send_lock = threading.Lock()      # send_midi's callers share one ring producer

    @property
    def sidechain_channels(self) -> int:
        if not self.sidechain:
            return 0
        return 2 if self.backend == "jack" else self.channels

    # --- lifecycle ---------------------------------------------------------------
    def start(self) -> LiveSession:
        with self._lock:
            if self.running:
                return self
            self.error = None
            try:
                if self.backend == "jack":
                    self._start_jack()
                else:
                    self._start_portaudio()
            except Exception:            # whatever failed: nothing half-started is left
                self._teardown(dead=False)
                raise
            self.running = True
            self._stop_evt.clear()
            self._watchdog = threading.Thread(target=self._watch, name="uplift-watchdog",
                                              daemon=True)
            self._watchdog.start()
            return self

    def stop(self) -> None:
        with self._lock:
            self._stop_evt.set()
            w = self._watchdog
        if w is not None and w is not threading.current_thread():
            w.join(2.0)
        with self._lock:
            self._teardown(dead=self._dead())
            self._watchdog = None

    def close(self) -> None:
        self.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _engine_for(self, samplerate: float) -> Engine:
        """The engine for this stream: reused when the layout matches, else new;
        either way it carries the session's parameter values."""
        e = self.engine
        if (e is None or e.samplerate != float(samplerate) or e.channels != self.channels
                or e.sidechain_channels != self.sidechain_channels):
            values = e.values() if e is not None else {}
            values.update(self._values)
            e = Engine(samplerate=samplerate, channels=self.channels,
                       sidechain_channels=self.sidechain_channels, max_block=self.max_block)
            e.update(values)
        e.live = False
        e.reset()
        self.engine = e
        return e

    def _build_state(self, samplerate):
        eng = self._engine_for(samplerate)
        self._host = C.host_alloc(self.channels, self.sidechain_channels, self.midi, eng.table)
        self._live_state = C.LiveState(core=eng.state.core, host=self._host)
        self._table = address_table(self._live_state)
        return eng

    def _start_jack(self, autoconnect: bool = True):
        try:
            client = J.JackClient(self.client_name)
        except J.JackError as e:
            raise LiveError(str(e)) from None
        self._client = client
        if self.requested_samplerate and int(self.requested_samplerate) != client.samplerate:
            raise LiveError(f"the JACK server runs at {client.samplerate} Hz, not "
                            f"{self.requested_samplerate:g} Hz (restart jackd with -r, or omit "
                            f"--samplerate)")
        self.samplerate = float(client.samplerate)
        self.blocksize = client.blocksize
        eng = self._build_state(self.samplerate)
        self._cfunc = J.jack_process
        h = self._host
        n = client.name
        names = {}
        for k in range(self.channels):
            h.ports[C.P_IN + k] = client.register(f"in_{k + 1}")
            names[f"in_{k + 1}"] = f"{n}:in_{k + 1}"
        for k in range(self.sidechain_channels):
            h.ports[C.P_SC + k] = client.register(f"sc_{k + 1}")
            names[f"sc_{k + 1}"] = f"{n}:sc_{k + 1}"
        for k in range(self.channels):
            h.ports[C.P_OUT + k] = client.register(f"out_{k + 1}", output=True)
            names[f"out_{k + 1}"] = f"{n}:out_{k + 1}"
        if self.midi:
            h.ports[C.P_MIDI] = client.register("midi_in", midi=True)
            names["midi_in"] = f"{n}:midi_in"
            h.ports[C.P_MIDI_OUT] = client.register("midi_out", midi=True, output=True)
            names["midi_out"] = f"{n}:midi_out"
        self.port_names = names
        client.set_callbacks(self._cfunc, int(self._table.ctypes.data), h.stats)
        self._latency_cell = client.publish_latency(
            [f"in_{k + 1}" for k in range(self.channels)],
            [f"out_{k + 1}" for k in range(self.channels)],
            [f"sc_{k + 1}" for k in range(self.sidechain_channels)], eng.latency_samples)
        self._announced_latency = eng.latency_samples
        eng.live = True
        client.activate()
        client.recompute_latencies()    # PipeWire's JACK asks for them only when told to
        if autoconnect and not self.no_connect:
            self._autoconnect(client)

    def _autoconnect(self, client):
        n = client.name
        capture = client.physical(output=True)
        playback = client.physical(output=False)
        for k in range(min(self.channels, len(capture))):
            client.connect(capture[k], f"{n}:in_{k + 1}")
        if self.channels == 1:
            for dst in playback[:2]:
                client.connect(f"{n}:out_1", dst)
        else:
            for k in range(min(2, len(playback))):
                client.connect(f"{n}:out_{k + 1}", playback[k])
        if self.midi:
            for src in client.physical(output=True, midi=True):
                with contextlib.suppress(J.JackError):
                    client.connect(src, f"{n}:midi_in")

    def _start_portaudio(self):
        from app.hosts import portaudio as P
        nin = self.channels + self.sidechain_channels
        try:
            din, dout, sr = P.resolve(self.device, self.requested_samplerate, self.channels, nin)
        except P.PaError as e:
            raise LiveError(str(e)) from None
        if not 44100 <= sr <= 192000:
            raise LiveError(f"the audio device runs at {sr:g} Hz; Uplift needs 44100 .. 192000 Hz "
                            f"(use --samplerate)")
        self._build_state(sr)
        self._cfunc = P.pa_callback
        try:
            self._pa = P.PaStream(din, dout, sr, self.requested_blocksize or 0, self.channels, nin,
                                  self._cfunc, self._table)
        except P.PaError as e:
            raise LiveError(str(e)) from None
        self.samplerate = self._pa.samplerate
        self.blocksize = self._pa.blocksize
        self._io_extra = self._pa.io_latency_samples
        self.engine.live = True
        try:
            self._pa.start()
        except P.PaError as e:
            raise LiveError(str(e)) from None

    def _dead(self) -> bool:
        return self._host is not None and bool(self._host.stats[C.ST_SHUTDOWN])

    def _teardown(self, dead: bool):
        """Close the stream/client; keep the engine (and its values)."""
        if self._client is not None:
            try:
                self._client.close(dead=dead)
            finally:
                self._client = None
        if self._pa is not None:
            from app.hosts import portaudio as P
            self._pa.close(dead=dead)
            if dead and "JACK" in getattr(self._pa, "hostapi", ""):
                P.poison()
            else:
                P.release()
            self._pa = None
        if self.engine is not None:
            self.engine.live = False
        self.running = False

    def _watch(self):
        last_wiring = 0.0
        while not self._stop_evt.wait(0.02):
            now = time.monotonic()
            if self.reconnect and now - last_wiring > 0.25:
                last_wiring = now
                self._note_wiring()
            lost = None
            if self._host is not None and self._host.stats[C.ST_SHUTDOWN]:
                lost = "the JACK server stopped (or shut Uplift's client down)"
            elif self._pa is not None and not self._pa.active:
                lost = "the audio stream stopped (device lost?)"
                if "JACK" in self._pa.hostapi:
                    self._host.stats[C.ST_SHUTDOWN] = 1
            if lost:
                with self._lock:
                    if self._stop_evt.is_set():
                        return
                    self.error = lost
                    self._teardown(dead=True)
                    if self.reconnect:
                        self.error = lost + "; waiting for it to come back"
                        self.waiting = True
                if not (self.reconnect and self._wait_and_reconnect()):
                    return

    def _note_wiring(self) -> None:
        c = self._client
        if c is None or not c.ptr:
            return
        try:
            with self._lock:
                self._wiring = [(short, other) for short in c.ports
                                for other in c.connections(short)]
        except (KeyError, OSError):
            pass

    def _wait_and_reconnect(self) -> bool:
        """Wait for the JACK server, then start again with the same engine (its
        parameters) and restore the connections. False if stopped meanwhile."""
        while not self._stop_evt.wait(0.25):
            if not J.server_running():
                continue
            with self._lock:
                if self._stop_evt.is_set():
                    return False
                try:
                    self._start_jack(autoconnect=False)
                except (LiveError, J.JackError):
                    self._teardown(dead=False)
                    continue
                self.running = True
                self.waiting = False
                self.error = None
                self.reconnects += 1
                n = self._client.name
                for short, other in self._wiring:
                    ours = f"{n}:{short}"
                    src, dst = (ours, other) if _is_output(short) else (other, ours)
                    # a client that is not back (yet) is left for the user to rewire
                    with contextlib.suppress(J.JackError):
                        self._client.connect(src, dst)
                return True
        return False

    # --- parameters ------------------------------------------------------------
    def set(self, id_: str, value) -> float:
        p = param(id_)
        v = self.engine.set(p.id, value) if self.engine is not None else p.validate(value)
        self._values[p.id] = v
        self._announce_latency()
        for fn in list(self.listeners):
            try:
                fn(p.id, v)
            except Exception as e:       # a listener (MIDI feedback) must not break a set()
                log.warning("listener of %s failed: %s", p.id, e)
        return v

    def add_listener(self, fn) -> None:
        """Call fn(id, value) after every set() from now on."""
        self.listeners.append(fn)

    def send_midi(self, msg: bytes) -> bool:
        """Queue one MIDI message for CLIENT:midi_out (written at the next cycle).
        False if there is no midi_out or its ring is full (counted in stats)."""
        h = self._host
        if h is None or not self.midi or not 0 < len(msg) <= C.MIDI_OUT_MAX_MSG:
            return False
        with self._send_lock:
            return bool(midi_push(h.out_hdr, h.out_data, np.frombuffer(bytes(msg), np.uint8),
                                  len(msg)))

    def _announce_latency(self) -> None:
        """Re-publish the ports' JACK latency when the engine's changed (lookahead, preset)."""
        c, e = self._client, self.engine
        if c is not None and e is not None and e.latency_samples != self._announced_latency:
            self._announced_latency = e.latency_samples
            self._latency_cell[0] = e.latency_samples
            c.recompute_latencies()

    def get(self, id_: str) -> float:
        p = param(id_)
        if self.engine is not None:
            return self.engine.get(p.id)
        return self._values.get(p.id, p.default)

    def values(self) -> dict:
        if self.engine is not None:
            return self.engine.values()
        from engine.params import PARAMS
        out = {p.id: p.default for p in PARAMS}
        out.update(self._values)
        return out

    def update(self, values: dict) -> None:
        checked = [(param(k).id, param(k).validate(v)) for k, v in values.items()]
        for k, v in checked:
            self.set(k, v)

    # --- readouts ---------------------------------------------------------------
    @property
    def latency_samples(self) -> int:
        """Engine (algorithmic) latency in samples."""
        if self.engine is not None:
            return self.engine.latency_samples
        from engine import chain
        v = self.values()
        return int(chain.total_latency(float(self.requested_samplerate or 48000),
                                       v["lookahead"], v["drift_lookahead"]))

    @property
    def io_latency_samples(self) -> int:
        """Engine latency + the I/O path's buffers. JACK: the capture latency arriving at
        in_1 plus the playback latency leaving out_1 (port latency ranges)."""
        extra = self._io_extra
        c = self._client
        if c is not None and c.ptr:
            cap = c.latency_range("in_1", J.JackCaptureLatency)[1]
            play = c.latency_range("out_1", J.JackPlaybackLatency)[1]
            extra = cap + play
        return self.latency_samples + int(extra)

    def latency_ms(self) -> tuple[float, float]:
        sr = self.samplerate or 48000.0
        return 1000.0 * self.latency_samples / sr, 1000.0 * self.io_latency_samples / sr

    def stats(self) -> dict:
        h = self._host
        if h is None:
            return {"callbacks": 0, "xruns": 0, "load": 0.0, "load_max": 0.0, "load_avg": 0.0,
                    "samplerate": self.samplerate, "blocksize": self.blocksize,
                    "running": self.running, "error": self.error, "backend": self.backend,
                    "waiting": self.waiting, "reconnects": self.reconnects}
        st = h.stats
        frames = int(st[C.ST_FRAMES])
        busy = int(st[C.ST_BUSY_NS])
        sr = self.samplerate or 48000.0
        out = {
            "callbacks": int(st[C.ST_CALLBACKS]),
            "xruns": int(st[C.ST_XRUNS]),
            "load": float(h.fstats[C.FS_LOAD]),
            "load_max": float(h.fstats[C.FS_LOAD_MAX]),
            "load_avg": busy / (frames / sr * 1e9) if frames else 0.0,
            "frames": frames,
            "samplerate": self.samplerate,
            "blocksize": int(st[C.ST_LAST_NFRAMES]) or self.blocksize,
            "latency_samples": self.latency_samples,
            "io_latency_samples": self.io_latency_samples if self.running else None,
            "midi_dropped": int(h.midi_hdr[1]),
            "midi_out_dropped": int(h.out_hdr[1]),
            "running": self.running,
            "waiting": self.waiting,
            "reconnects": self.reconnects,
            "error": self.error,
            "backend": self.backend,
        }
        c = self._client
        if c is not None and c.ptr:
            out["jack_cpu_load"] = c.cpu_load() / 100.0
        return out

    def meters(self) -> dict:
        if self.engine is None:
            return {}
        m = self.engine.meters()
        s = self.stats()
        for k in ("callbacks", "xruns", "load", "load_max"):
            m[k] = s[k]
        return m

    def read_midi(self) -> list[bytes]:
        """Raw MIDI messages received on CLIENT:midi_in since the last call."""
        h = self._host
        if h is None or not self.midi:
            return []
        msgs = []
        while True:
            nm, nb = midi_drain(h.midi_hdr, h.midi_data, self._midi_out, self._midi_lens)
            if nm == 0:
                return msgs
            pos = 0
            for k in range(nm):
                n = int(self._midi_lens[k])
                msgs.append(bytes(self._midi_out[pos:pos + n]))
                pos += n

    def wait(self, seconds: float, poll: float = 0.05) -> bool:
        """Sleep up to `seconds`; returns False early if the stream died."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if not self.running:
                return False
            time.sleep(min(poll, max(0.0, end - time.monotonic())))
        return self.running
