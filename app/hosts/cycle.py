"""What both audio hosts share (JACK in jack.py, PortAudio in portaudio.py): the
host's share of the live state (counters, load, scratch, the MIDI rings), the
addresses its callbacks call (libjack's per-cycle functions, libc's clock,
the engine entry), and the top and bottom of every callback (FTZ/DAZ on, the
load clock, the meter snapshot's host fields)."""
from __future__ import annotations

import ctypes
import ctypes.util
from typing import NamedTuple

import numpy as np
from numba import njit, types

from engine import meters as M
from engine.chain import CFG_SR, Core, EngineState
from engine.native import STATE_TYPE, entry, state_type
from engine.rt import (
    FTZ_DAZ,
    c_function,
    get_mxcsr,
    int_to_voidptr,
    load_acquire,
    midi_ring_alloc,
    seqlock_write_begin,
    seqlock_write_end,
    set_mxcsr,
)

CLOCK_MONOTONIC = 1


def _load(name, fallback):
    path = ctypes.util.find_library(name) or fallback
    try:
        return ctypes.CDLL(path)
    except OSError:
        return None


def _address(lib, name) -> int:
    return ctypes.cast(getattr(lib, name), ctypes.c_void_p).value if lib is not None else 0


_jack = _load("jack", "libjack.so.0")
_libc = _load("c", "libc.so.6")

port_get_buffer = c_function(types.voidptr, types.voidptr, types.uint32)
midi_get_event_count = c_function(types.uint32, types.voidptr)
midi_event_get = c_function(types.int32, types.voidptr, types.voidptr, types.uint32)
midi_clear_buffer = c_function(types.void, types.voidptr)
midi_event_reserve = c_function(types.voidptr, types.voidptr, types.uint32, types.uintp)
clock_gettime = c_function(types.int32, types.int32, types.voidptr)
latency_range = c_function(types.void, types.voidptr, types.int32, types.voidptr)   # get and set

# links (int64): addresses the callbacks call
(L_ENTRY, L_ENGINE, L_PORT_BUFFER, L_MIDI_COUNT, L_MIDI_GET, L_CLOCK, L_LAT_GET, L_LAT_SET,
 L_MIDI_CLEAR, L_MIDI_RESERVE, L_LEN) = range(11)


def links(engine_table: np.ndarray) -> np.ndarray:
    """The addresses a native callback calls: the engine entry with its state's
    address table (keep it alive), libjack's per-cycle functions, clock_gettime."""
    out = np.zeros(L_LEN, np.int64)
    out[L_ENTRY] = entry.address
    out[L_ENGINE] = engine_table.ctypes.data
    out[L_PORT_BUFFER] = _address(_jack, "jack_port_get_buffer")
    out[L_MIDI_COUNT] = _address(_jack, "jack_midi_get_event_count")
    out[L_MIDI_GET] = _address(_jack, "jack_midi_event_get")
    out[L_CLOCK] = _address(_libc, "clock_gettime")
    out[L_LAT_GET] = _address(_jack, "jack_port_get_latency_range")
    out[L_LAT_SET] = _address(_jack, "jack_port_set_latency_range")
    out[L_MIDI_CLEAR] = _address(_jack, "jack_midi_clear_buffer")
    out[L_MIDI_RESERVE] = _address(_jack, "jack_midi_event_reserve")
    return out


@njit(inline="always")
def now_ns(h):
    """CLOCK_MONOTONIC in ns, through h.ts (a preallocated struct timespec)."""
    clock_gettime(h.links[L_CLOCK], CLOCK_MONOTONIC, int_to_voidptr(h.ts.ctypes.data))
    return h.ts[0] * 1000000000 + h.ts[1]


# --- the host's share of the live state ---------------------------------------

# stats (int64): one writer per slot
ST_CALLBACKS = 0      # audio thread
ST_XRUNS = 1          # xrun notification (JACK) / audio thread (PortAudio status flags)
ST_SHUTDOWN = 2       # shutdown notification
ST_BUSY_NS = 3        # audio thread: total time inside the callback
ST_FRAMES = 4         # audio thread: total frames processed
ST_LAST_NFRAMES = 5   # audio thread
ST_LEN = 8
# fstats (float64), audio thread only
FS_LOAD = 0           # smoothed callback load (time in callback / period)
FS_LOAD_MAX = 1       # worst single callback after warm-up
FS_LEN = 2
LOAD_SMOOTH = 1.0 / 32.0
WARMUP_CALLBACKS = 16
CHUNK = 1024          # interleave scratch, frames
MIDI_CYCLE_BYTES = 4096   # MIDI bytes the audio thread copies per cycle at most; the rest
                          # of a flood is dropped, counted in the ring's MIDI_DROPPED
MIDI_OUT_CYCLE_BYTES = 1024   # feedback bytes written to midi_out per cycle at most; the rest
                              # waits in the ring for the next cycle
MIDI_OUT_MAX_MSG = 64         # longest message send_midi queues (feedback is 3 or 6 bytes)

# cfg (int64)
CF_NCH, CF_NSC, CF_MIDI, CF_LEN = 0, 1, 2, 4
# ports (int64): jack_port_t* of in_1, in_2, sc_1, sc_2, out_1, out_2, midi_in, midi_out
P_IN, P_SC, P_OUT, P_MIDI, P_MIDI_OUT, P_LEN = 0, 2, 4, 6, 7, 8


class HostState(NamedTuple):
    cfg: np.ndarray       # int64[CF_LEN]
    ports: np.ndarray     # int64[P_LEN]
    bufs: np.ndarray      # int64[P_LEN]: this cycle's port buffer addresses
    stats: np.ndarray     # int64[ST_LEN]
    fstats: np.ndarray    # float64[FS_LEN]
    ts: np.ndarray        # int64[2]: struct timespec scratch
    xbuf: np.ndarray      # float32[CHUNK * (nch + nsc)]: interleaved input chunk
    ybuf: np.ndarray      # float32[CHUNK * nch]: interleaved output chunk
    mev: np.ndarray       # int64[4]: jack_midi_event_t scratch {time, size, buffer}
    midi_hdr: np.ndarray  # int64: MIDI byte ring header (engine/rt.py)
    midi_data: np.ndarray  # uint8[cap]
    out_hdr: np.ndarray   # int64: MIDI byte ring header, Python -> midi_out (feedback)
    out_data: np.ndarray  # uint8[cap]
    links: np.ndarray     # int64[L_LEN]: addresses of the functions the cycle calls


class LiveState(NamedTuple):
    core: Core            # the engine's core: samplerate, meter snapshot and its seqlock
    host: HostState


def host_alloc(channels: int, sidechain: int, midi: bool, engine_table: np.ndarray) -> HostState:
    """The host's arrays; `engine_table` is the engine state's address table (keep it alive)."""
    nin = channels + sidechain
    mh, md = midi_ring_alloc()
    oh, od = midi_ring_alloc(1 << 12)
    cfg = np.zeros(CF_LEN, np.int64)
    cfg[CF_NCH], cfg[CF_NSC], cfg[CF_MIDI] = channels, sidechain, int(midi)
    return HostState(cfg=cfg, ports=np.zeros(P_LEN, np.int64), bufs=np.zeros(P_LEN, np.int64),
                     stats=np.zeros(ST_LEN, np.int64), fstats=np.zeros(FS_LEN),
                     ts=np.zeros(2, np.int64),
                     xbuf=np.zeros(CHUNK * nin, np.float32), ybuf=np.zeros(CHUNK * channels, np.float32),
                     mev=np.zeros(4, np.int64), midi_hdr=mh, midi_data=md,
                     out_hdr=oh, out_data=od, links=links(engine_table))


@njit(inline="always")
def begin_cycle(h):
    """Top of every callback: FTZ/DAZ on, start the load clock. Returns (saved mxcsr, t0)."""
    saved = get_mxcsr()
    set_mxcsr(saved | FTZ_DAZ)
    return saved, now_ns(h)


@njit(inline="always")
def end_cycle(c, h, saved, t0, nframes):
    """Bottom of every callback: count, measure load, publish the host fields of the
    meter snapshot under the engine's seqlock, restore MXCSR."""
    t1 = now_ns(h)
    st = h.stats
    sr = c.cfg[CFG_SR]
    ncb = st[ST_CALLBACKS] + 1
    st[ST_CALLBACKS] = ncb
    st[ST_BUSY_NS] += t1 - t0
    st[ST_FRAMES] += nframes
    st[ST_LAST_NFRAMES] = nframes
    period = nframes * 1.0e9 / sr if nframes > 0 else 1.0
    inst = (t1 - t0) / period
    f = h.fstats
    if ncb == 1:
        f[FS_LOAD] = inst
    else:
        f[FS_LOAD] += LOAD_SMOOTH * (inst - f[FS_LOAD])
    if ncb > WARMUP_CALLBACKS and inst > f[FS_LOAD_MAX]:
        f[FS_LOAD_MAX] = inst
    d = c.meter_data
    seqlock_write_begin(c.meter_seq)
    d[M.CALLBACKS] = ncb
    d[M.XRUNS] = load_acquire(st, ST_XRUNS)
    d[M.LOAD] = f[FS_LOAD]
    d[M.LOAD_MAX] = f[FS_LOAD_MAX]
    seqlock_write_end(c.meter_seq)
    set_mxcsr(saved)


#: The live state's type: the engine's and the host's arrays (dtypes and ranks).
LIVE_TYPE = types.NamedTuple(
    [STATE_TYPE.types[EngineState._fields.index("core")],
     state_type(host_alloc(2, 2, True, np.zeros(1, np.int64)))], LiveState)
