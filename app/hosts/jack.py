"""Native JACK backend: libjack through ctypes, the process callback a Numba @cfunc.

No Python runs per JACK cycle. `jack_set_process_callback` gets the address of
a `@cfunc` and, as its `arg`, the address of an int64 *address table*
(engine/native.py) describing a `LiveState` (app/hosts/cycle.py, shared with
the PortAudio host): the engine's core arrays (its samplerate and meter
snapshot) plus the host's arrays (port handles, counters, scratch buffers,
the MIDI byte rings); the engine itself is reached through its entry and its
own address table.
Inside the cfunc, `unpack(arg, LIVE_TYPE)` rebuilds the whole NamedTuple (no
allocation). The engine entry, the libjack functions the cycle needs
(`jack_port_get_buffer`, `jack_midi_get_event_count`, `jack_midi_event_get`)
and libc's `clock_gettime` are called by the addresses in `HostState.links`:
no process-specific address is compiled in, so the callbacks are built once
per source version and loaded from the cache afterwards (engine/build.py).

The xrun and shutdown notifications are cfuncs too; they only bump a counter or
raise a flag in `stats` (each slot has one writer). Python polls the flag.

Also here: `PrivateJackServer` (a `jackd -d dummy` the app starts when there is
no audio device) and `NativePlayer`, a second native client that loops a
float32 buffer into its output ports (the demo signal).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from typing import NamedTuple

import numpy as np
from numba import carray, njit, types

from app.hosts.cycle import (
    CF_MIDI,
    CF_NCH,
    CF_NSC,
    CHUNK,
    L_ENGINE,
    L_ENTRY,
    L_LAT_GET,
    L_LAT_SET,
    L_LEN,
    L_MIDI_CLEAR,
    L_MIDI_COUNT,
    L_MIDI_GET,
    L_MIDI_RESERVE,
    L_PORT_BUFFER,
    LIVE_TYPE,
    MIDI_CYCLE_BYTES,
    MIDI_OUT_CYCLE_BYTES,
    P_IN,
    P_MIDI,
    P_MIDI_OUT,
    P_OUT,
    P_SC,
    ST_CALLBACKS,
    ST_LEN,
    ST_SHUTDOWN,
    ST_XRUNS,
    _jack,
    _libc,
    begin_cycle,
    end_cycle,
    latency_range,
    links,
    midi_clear_buffer,
    midi_event_get,
    midi_event_reserve,
    midi_get_event_count,
    port_get_buffer,
)
from engine.build import native_cfunc
from engine.native import address_table, call_entry, state_type, unpack
from engine.rt import (
    MIDI_DROPPED,
    RING_R,
    RING_W,
    int_to_voidptr,
    load_acquire,
    midi_push,
    store_release,
    voidptr_to_int,
)


class JackError(RuntimeError):
    """A JACK problem the user can fix (server not running, bad port, ...)."""


# --- libjack / libc ----------------------------------------------------------

JACK_AUDIO = b"32 bit float mono audio"
JACK_MIDI = b"8 bit raw midi"
JackNoStartServer = 0x01
JackServerFailed = 0x10
JackPortIsInput, JackPortIsOutput, JackPortIsPhysical = 0x1, 0x2, 0x4
JackCaptureLatency, JackPlaybackLatency = 0, 1
CLOCK_MONOTONIC = 1

_vp, _u32, _i32, _cp = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_char_p


class _LatencyRange(ctypes.Structure):
    _fields_ = [("min", ctypes.c_uint32), ("max", ctypes.c_uint32)]




def _fn(lib, name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


if _jack is not None:
    jack_client_open = _fn(_jack, "jack_client_open", _vp, _cp, _i32, ctypes.POINTER(_i32))
    jack_client_close = _fn(_jack, "jack_client_close", _i32, _vp)
    jack_get_client_name = _fn(_jack, "jack_get_client_name", _cp, _vp)
    jack_port_register = _fn(_jack, "jack_port_register", _vp, _vp, _cp, _cp, ctypes.c_ulong,
                             ctypes.c_ulong)
    jack_set_process_callback = _fn(_jack, "jack_set_process_callback", _i32, _vp, _vp, _vp)
    jack_set_xrun_callback = _fn(_jack, "jack_set_xrun_callback", _i32, _vp, _vp, _vp)
    jack_on_shutdown = _fn(_jack, "jack_on_shutdown", None, _vp, _vp, _vp)
    jack_set_error_function = _fn(_jack, "jack_set_error_function", None, _vp)
    jack_set_info_function = _fn(_jack, "jack_set_info_function", None, _vp)
    jack_activate = _fn(_jack, "jack_activate", _i32, _vp)
    jack_deactivate = _fn(_jack, "jack_deactivate", _i32, _vp)
    jack_connect = _fn(_jack, "jack_connect", _i32, _vp, _cp, _cp)
    jack_get_ports = _fn(_jack, "jack_get_ports", ctypes.POINTER(_cp), _vp, _cp, _cp,
                         ctypes.c_ulong)
    jack_free = _fn(_jack, "jack_free", None, _vp)
    jack_port_name = _fn(_jack, "jack_port_name", _cp, _vp)
    jack_port_get_all_connections = _fn(_jack, "jack_port_get_all_connections",
                                        ctypes.POINTER(_cp), _vp, _vp)
    jack_port_by_name = _fn(_jack, "jack_port_by_name", _vp, _vp, _cp)
    jack_get_sample_rate = _fn(_jack, "jack_get_sample_rate", _u32, _vp)
    jack_get_buffer_size = _fn(_jack, "jack_get_buffer_size", _u32, _vp)
    jack_cpu_load = _fn(_jack, "jack_cpu_load", ctypes.c_float, _vp)
    jack_port_get_latency_range = _fn(_jack, "jack_port_get_latency_range", None, _vp, _i32,
                                      ctypes.POINTER(_LatencyRange))
    jack_recompute_total_latencies = _fn(_jack, "jack_recompute_total_latencies", _i32, _vp)
    jack_port_set_latency_range = _fn(_jack, "jack_port_set_latency_range", None, _vp, _i32,
                                      ctypes.POINTER(_LatencyRange))
    jack_set_latency_callback = _fn(_jack, "jack_set_latency_callback", _i32, _vp, _vp, _vp)




# called from native code, every cycle, by address (HostState.links)
def available() -> bool:
    return _jack is not None


@njit(inline="always")
def midi_out_cycle(h, obuf):
    """Feedback queued by Python (LiveSession.send_midi) into this cycle's midi_out
    buffer, at most MIDI_OUT_CYCLE_BYTES; what does not fit waits for the next cycle."""
    hdr = h.out_hdr
    data = h.out_data
    mask = data.shape[0] - 1
    r = hdr[RING_R]
    w = load_acquire(hdr, RING_W)
    budget = MIDI_OUT_CYCLE_BYTES
    while r < w:
        n = np.int64(data[r & mask]) | (np.int64(data[(r + 1) & mask]) << 8)
        if n > budget:
            break
        dst = midi_event_reserve(h.links[L_MIDI_RESERVE], obuf, 0, n)
        if voidptr_to_int(dst) == 0:
            break                       # the port buffer is full
        out = carray(dst, (n,), np.uint8)
        for i in range(n):
            out[i] = data[(r + 2 + i) & mask]
        budget -= n
        r += n + 2
    store_release(hdr, RING_R, r)


@njit(inline="always")
def jack_cycle(st, nframes):
    """One JACK cycle on LiveState `st` (called from the process cfunc)."""
    h = st.host
    saved, t0 = begin_cycle(h)
    nch = h.cfg[CF_NCH]
    nsc = h.cfg[CF_NSC]
    nin = nch + nsc
    n = np.int64(nframes)
    # MIDI: copy raw events into the byte ring Python drains
    if h.cfg[CF_MIDI] != 0:
        mbuf = port_get_buffer(h.links[L_PORT_BUFFER], int_to_voidptr(h.ports[P_MIDI]), nframes)
        if voidptr_to_int(mbuf) != 0:
            nev = midi_get_event_count(h.links[L_MIDI_COUNT], mbuf)
            evp = int_to_voidptr(h.mev.ctypes.data)
            budget = MIDI_CYCLE_BYTES
            for e in range(nev):
                if budget <= 0:
                    # a flood: this cycle's work stays bounded; the rest is counted, not read
                    h.midi_hdr[MIDI_DROPPED] += nev - e
                    break
                if midi_event_get(h.links[L_MIDI_GET], evp, mbuf, e) == 0:
                    size = h.mev[1]
                    if size > budget:
                        h.midi_hdr[MIDI_DROPPED] += 1
                        budget = 0
                    elif size > 0 and h.mev[2] != 0:
                        msg = carray(int_to_voidptr(h.mev[2]), (size,), np.uint8)
                        midi_push(h.midi_hdr, h.midi_data, msg, size)
                        budget -= size
        if h.ports[P_MIDI_OUT] != 0:
            obuf = port_get_buffer(h.links[L_PORT_BUFFER], int_to_voidptr(h.ports[P_MIDI_OUT]),
                                   nframes)
            if voidptr_to_int(obuf) != 0:
                midi_clear_buffer(h.links[L_MIDI_CLEAR], obuf)
                midi_out_cycle(h, obuf)
    # port buffers for this cycle: inputs, then sidechain, then outputs
    get = h.links[L_PORT_BUFFER]
    for k in range(nch):
        h.bufs[k] = voidptr_to_int(port_get_buffer(get, int_to_voidptr(h.ports[P_IN + k]), nframes))
        h.bufs[P_OUT + k] = voidptr_to_int(
            port_get_buffer(get, int_to_voidptr(h.ports[P_OUT + k]), nframes))
    for k in range(nsc):
        h.bufs[nch + k] = voidptr_to_int(
            port_get_buffer(get, int_to_voidptr(h.ports[P_SC + k]), nframes))
    xaddr = h.xbuf.ctypes.data
    yaddr = h.ybuf.ctypes.data
    done = 0
    while done < n:
        m = min(CHUNK, n - done)
        for ch in range(nin):
            a = h.bufs[ch]
            if a == 0:
                for i in range(m):
                    h.xbuf[i * nin + ch] = 0.0
            else:
                src = carray(int_to_voidptr(a), (n,), np.float32)
                for i in range(m):
                    h.xbuf[i * nin + ch] = src[done + i]
        call_entry(h.links[L_ENTRY], h.links[L_ENGINE], xaddr, yaddr, m)
        for ch in range(nch):
            a = h.bufs[P_OUT + ch]
            if a != 0:
                dst = carray(int_to_voidptr(a), (n,), np.float32)
                for i in range(m):
                    dst[done + i] = h.ybuf[i * nch + ch]
        done += m
    end_cycle(st.core, h, saved, t0, n)
    return 0


PROCESS_SIG = types.int32(types.uint32, types.voidptr)
NOTIFY_SIG = types.int32(types.voidptr)
SHUTDOWN_SIG = types.void(types.voidptr)
MESSAGE_SIG = types.void(types.voidptr)
LATENCY_SIG = types.void(types.int32, types.voidptr)



@native_cfunc(PROCESS_SIG, nopython=True)
def jack_process(nframes, arg):
    """The JACK process callback; its arg is the address table of a LiveState."""
    return jack_cycle(unpack(voidptr_to_int(arg), LIVE_TYPE), nframes)


@native_cfunc(NOTIFY_SIG, nopython=True)
def xrun_cb(arg):
    """JACK xrun notification; arg = the stats array (one writer for ST_XRUNS)."""
    st = carray(arg, (ST_LEN,), np.int64)
    store_release(st, ST_XRUNS, st[ST_XRUNS] + 1)
    return 0


@native_cfunc(SHUTDOWN_SIG, nopython=True)
def shutdown_cb(arg):
    """jack_on_shutdown: the server is gone; raise the flag Python polls."""
    st = carray(arg, (ST_LEN,), np.int64)
    store_release(st, ST_SHUTDOWN, 1)


@native_cfunc(MESSAGE_SIG, nopython=True)
def quiet_cb(msg):
    """libjack's error/info printer: silenced (the Python side reports one clear line)."""
    pass


def silence_libjack():
    if _jack is not None:
        jack_set_error_function(quiet_cb.address)
        jack_set_info_function(quiet_cb.address)


# --- port latency (JACK's latency callback) ------------------------------------

LC_INS, LC_SCS, LC_LATENCY = 0, 1, 2        # LatencyState.cfg


class LatencyState(NamedTuple):
    ins: np.ndarray       # int64: jack_port_t* of in_1..; outs: out_1.. (pairs)
    outs: np.ndarray
    scs: np.ndarray       # int64: sidechain inputs (cfg[LC_SCS] of them)
    cfg: np.ndarray       # int64: counts, and the engine latency in samples (Python writes it)
    rng: np.ndarray       # uint32[2]: jack_latency_range_t scratch
    links: np.ndarray     # int64[L_LEN]


LATENCY_TYPE = state_type(LatencyState(
    ins=np.zeros(1, np.int64), outs=np.zeros(1, np.int64), scs=np.zeros(1, np.int64),
    cfg=np.zeros(4, np.int64), rng=np.zeros(2, np.uint32), links=np.zeros(L_LEN, np.int64)))


@native_cfunc(LATENCY_SIG, nopython=True)
def latency_cb(mode, arg):
    """JackLatencyCallback: port k's range plus the engine latency onto its pair."""
    st = unpack(voidptr_to_int(arg), LATENCY_TYPE)
    extra = np.uint32(st.cfg[LC_LATENCY])
    get, put = st.links[L_LAT_GET], st.links[L_LAT_SET]
    r = int_to_voidptr(st.rng.ctypes.data)
    capture = mode == JackCaptureLatency
    lo = np.uint32(0xFFFFFFFF)
    hi = np.uint32(0)
    for k in range(st.cfg[LC_INS]):
        src = st.ins[k] if capture else st.outs[k]
        dst = st.outs[k] if capture else st.ins[k]
        latency_range(get, int_to_voidptr(src), mode, r)
        lo = min(lo, st.rng[0])
        hi = max(hi, st.rng[1])
        st.rng[0] += extra
        st.rng[1] += extra
        latency_range(put, int_to_voidptr(dst), mode, r)
    if not capture:
        st.rng[0] = (lo if lo != np.uint32(0xFFFFFFFF) else np.uint32(0)) + extra
        st.rng[1] = hi + extra
        for k in range(st.cfg[LC_SCS]):
            latency_range(put, int_to_voidptr(st.scs[k]), mode, r)


# --- the client ------------------------------------------------------------------

def _server_name() -> str:
    return os.environ.get("JACK_DEFAULT_SERVER", "default")


def _names(arr) -> list[str]:
    """A NULL-terminated char** from libjack as strings (and freed)."""
    names = []
    if arr:
        i = 0
        while arr[i]:
            names.append(arr[i].decode())
            i += 1
        jack_free(ctypes.cast(arr, _vp))
    return names


class JackClient:
    """One libjack client with a native process callback. Not thread-safe: the
    owner (LiveSession) serialises calls."""

    def __init__(self, name: str):
        if _jack is None:
            raise JackError("JACK is not installed (libjack not found)")
        silence_libjack()
        status = _i32(0)
        ptr = jack_client_open(name.encode(), JackNoStartServer, ctypes.byref(status))
        if not ptr:
            raise JackError(f"JACK server '{_server_name()}' is not running "
                            f"(start jackd, or use --backend portaudio)")
        self.ptr = ptr
        self.name = jack_get_client_name(ptr).decode()
        self.samplerate = int(jack_get_sample_rate(ptr))
        self.blocksize = int(jack_get_buffer_size(ptr))
        self.ports: dict[str, int] = {}
        self._keep: list = []
        self.active = False

    def register(self, short: str, midi: bool = False, output: bool = False) -> int:
        flags = JackPortIsOutput if output else JackPortIsInput
        p = jack_port_register(self.ptr, short.encode(), JACK_MIDI if midi else JACK_AUDIO, flags, 0)
        if not p:
            raise JackError(f"JACK refused to register port {self.name}:{short}")
        self.ports[short] = p
        return p

    def set_callbacks(self, process_cfunc, process_arg: int, stats: np.ndarray):
        self._keep += [process_cfunc, stats]
        if jack_set_process_callback(self.ptr, process_cfunc.address, process_arg):
            raise JackError("JACK refused the process callback")
        jack_set_xrun_callback(self.ptr, xrun_cb.address, stats.ctypes.data)
        jack_on_shutdown(self.ptr, shutdown_cb.address, stats.ctypes.data)

    def publish_latency(self, inputs: list[str], outputs: list[str], sidechains: list[str],
                        latency: int) -> np.ndarray:
        """Tell JACK what this client adds (call before activate): output k's
        capture latency is input k's plus the engine's latency, input k's
        playback latency is output k's plus the same (a sidechain input's: the
        outputs'), so a JACK-aware recorder files a take made through Uplift in
        time. JACK calls `latency_cb` (native: it runs on JACK's thread, and a
        Python callback there deadlocked PipeWire's jack_deactivate) whenever the
        graph changes. Returns the int64 cell holding the latency: write the new
        value there, then `recompute_latencies()`."""
        st = LatencyState(
            ins=np.array([self.ports[n] for n in inputs], np.int64),
            outs=np.array([self.ports[n] for n in outputs], np.int64),
            scs=np.array([self.ports[n] for n in sidechains] or [0], np.int64),
            cfg=np.array([len(inputs), len(sidechains), int(latency), 0], np.int64),
            rng=np.zeros(2, np.uint32), links=links(np.zeros(1, np.int64)))
        table = address_table(st)
        self._keep += [st, table]
        if jack_set_latency_callback(self.ptr, latency_cb.address, table.ctypes.data):
            raise JackError("JACK refused the latency callback")
        return st.cfg[LC_LATENCY:LC_LATENCY + 1]

    def recompute_latencies(self) -> None:
        if self.ptr and self.active:
            jack_recompute_total_latencies(self.ptr)

    def activate(self):
        if jack_activate(self.ptr):
            raise JackError("JACK could not activate the client")
        self.active = True

    def physical(self, output: bool, midi: bool = False) -> list[str]:
        """Physical ports: output=True gives capture sources (system:capture_N)."""
        flags = JackPortIsPhysical | (JackPortIsOutput if output else JackPortIsInput)
        return _names(jack_get_ports(self.ptr, None, JACK_MIDI if midi else JACK_AUDIO, flags))

    def connections(self, short: str) -> list[str]:
        """The ports connected to this client's port `short`."""
        return _names(jack_port_get_all_connections(self.ptr, self.ports[short]))

    def connect(self, src: str, dst: str):
        r = jack_connect(self.ptr, src.encode(), dst.encode())
        if r not in (0, errno.EEXIST):
            raise JackError(f"JACK could not connect {src} -> {dst}")

    def latency_range(self, port: str | int, mode: int) -> tuple[int, int]:
        p = self.ports.get(port, port) if isinstance(port, str) and port in self.ports else port
        if isinstance(p, str):
            p = jack_port_by_name(self.ptr, p.encode())
            if not p:
                return (0, 0)
        r = _LatencyRange()
        jack_port_get_latency_range(p, mode, ctypes.byref(r))
        return int(r.min), int(r.max)

    def cpu_load(self) -> float:
        return float(jack_cpu_load(self.ptr))

    def close(self, dead: bool = False):
        if self.ptr:
            ptr, self.ptr = self.ptr, None
            if self.active and not dead:
                jack_deactivate(ptr)
            jack_client_close(ptr)
            self.active = False


# --- the native demo player ----------------------------------------------------

class PlayerState(NamedTuple):
    ports: np.ndarray     # int64[2]: out_1, out_2
    signal: np.ndarray    # float32[frames, 2]
    pos: np.ndarray       # int64[2]: play position, loops done
    stats: np.ndarray     # int64[ST_LEN]
    links: np.ndarray     # int64[L_LEN]: as HostState.links (only L_PORT_BUFFER is used)


def player_alloc(signal: np.ndarray) -> PlayerState:
    return PlayerState(ports=np.zeros(2, np.int64), signal=signal, pos=np.zeros(2, np.int64),
                       stats=np.zeros(ST_LEN, np.int64), links=links(np.zeros(1, np.int64)))


@njit(inline="always")
def player_cycle(p, nframes):
    n = p.signal.shape[0]
    for ch in range(2):
        a = voidptr_to_int(port_get_buffer(p.links[L_PORT_BUFFER], int_to_voidptr(p.ports[ch]),
                                           nframes))
        if a == 0:
            continue
        dst = carray(int_to_voidptr(a), (nframes,), np.float32)
        pos = p.pos[0]
        for i in range(nframes):
            dst[i] = p.signal[pos, ch]
            pos += 1
            if pos >= n:
                pos = 0
    pos = p.pos[0] + nframes
    while pos >= n:
        pos -= n
        p.pos[1] += 1
    p.pos[0] = pos
    p.stats[ST_CALLBACKS] += 1
    return 0


PLAYER_TYPE = state_type(player_alloc(np.zeros((1, 2), np.float32)))


@native_cfunc(PROCESS_SIG, nopython=True)
def player_process(nframes, arg):
    return player_cycle(unpack(voidptr_to_int(arg), PLAYER_TYPE), nframes)


class NativePlayer:
    """A second JACK client, CLIENT:out_1/out_2, looping `signal` (frames, 2) natively."""

    def __init__(self, signal: np.ndarray, name: str = "uplift-demo"):
        sig = np.ascontiguousarray(signal, np.float32)
        if sig.ndim == 1:
            sig = np.stack([sig, sig], axis=1)
        self.state = player_alloc(sig)
        self.table = address_table(self.state)
        self.cfunc = player_process
        self.client = JackClient(name)
        for k in range(2):
            self.state.ports[k] = self.client.register(f"out_{k + 1}", output=True)
        self.client.set_callbacks(self.cfunc, self.table.ctypes.data, self.state.stats)

    @property
    def name(self) -> str:
        return self.client.name

    def start(self, targets: list[str]):
        self.client.activate()
        for k, dst in enumerate(targets):
            self.client.connect(f"{self.name}:out_{k % 2 + 1}", dst)

    @property
    def position_s(self) -> float:
        return self.state.pos[0] / max(1, self.client.samplerate)

    def close(self):
        dead = bool(self.state.stats[ST_SHUTDOWN])
        self.client.close(dead=dead)


# --- a private jackd with the dummy backend ----------------------------------------

class PrivateJackServer:
    """`jackd -n uplift-<id> -d dummy -r SR -p PERIOD`, for machines without an audio
    device. Points this process's JACK clients at it (JACK_DEFAULT_SERVER)."""

    def __init__(self, samplerate: int = 48000, period: int = 64):
        self.samplerate = samplerate
        self.period = period
        self.name = f"uplift-{uuid.uuid4().hex[:8]}"
        self.proc: subprocess.Popen | None = None
        self._saved_env: dict = {}

    def start(self, timeout: float = 10.0) -> PrivateJackServer:
        jackd = shutil.which("jackd")
        if jackd is None:
            raise JackError("no audio device, and jackd is not installed to run a private "
                            "dummy JACK server (install jackd2)")
        env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1", JACK_NO_START_SERVER="1")
        # -R: ask for realtime scheduling (jackd carries on without it if not permitted);
        # without -R the dummy driver's clients see steady xruns on a busy machine
        cmd = [jackd, "-n", self.name, "-R", "-d", "dummy", "-r", str(self.samplerate),
               "-p", str(self.period)]
        preexec = None
        if threading.current_thread() is threading.main_thread() and _libc is not None:
            def preexec():   # the server dies with us, even if we are killed
                _libc.prctl(1, signal.SIGTERM, 0, 0, 0)   # PR_SET_PDEATHSIG
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                     start_new_session=True, preexec_fn=preexec)
        for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER"):
            self._saved_env[k] = os.environ.get(k)
        os.environ["JACK_DEFAULT_SERVER"] = self.name
        os.environ["JACK_NO_START_SERVER"] = "1"
        silence_libjack()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise JackError("the private JACK server (jackd -d dummy) failed to start")
            status = _i32(0)
            ptr = jack_client_open(b"uplift-probe", JackNoStartServer, ctypes.byref(status))
            if ptr:
                jack_client_close(ptr)
                return self
            time.sleep(0.05)
        self.stop()
        raise JackError("the private JACK server (jackd -d dummy) did not come up in time")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(5)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(5)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
                forget_server_registration(self.proc.pid)
        self.proc = None
        for k, v in self._saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        self._saved_env = {}


def forget_server_registration(pid: int) -> bool:
    """Clear the JACK2 shm-registry slot of a server we had to SIGKILL.

    jackd unregisters itself on a clean exit; a killed one leaves its slot, and JACK2
    only reclaims a dead slot for a server of the *same name*, so after 8 such slots
    every new server fails with "Too many servers already active". Only the slot
    whose pid is `pid` (and is no longer alive) is touched."""
    import mmap
    import struct
    path = "/dev/shm/jack-shm-registry"
    if os.path.exists(f"/proc/{pid}"):
        return False
    try:
        with open(path, "r+b") as f:
            m = mmap.mmap(f.fileno(), 0)
            try:
                if bytes(m[:4]) not in (b"KCAJ", b"JACK"):
                    return False
                hdr_len = struct.unpack_from("i", m, 16)[0]
                entry, first = 264, 24        # sizeof(jack_shm_server_t), header fields
                for i in range((hdr_len - first) // entry):
                    off = first + i * entry
                    if struct.unpack_from("i", m, off)[0] == pid:
                        m[off:off + entry] = b"\0" * entry
                        return True
            finally:
                m.close()
    except (OSError, ValueError, struct.error):
        pass
    return False


def server_running() -> bool:
    """Is a JACK server reachable (JACK_DEFAULT_SERVER or 'default')? Never starts one."""
    if _jack is None:
        return False
    silence_libjack()
    status = _i32(0)
    ptr = jack_client_open(b"uplift-probe", JackNoStartServer, ctypes.byref(status))
    if ptr:
        jack_client_close(ptr)
        return True
    return False
