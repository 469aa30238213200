"""`Engine`: the Python face of the chain (product.md, "Python API").

Parameters are validated here, off the audio thread, then travel through the
same lock-free ring the live callbacks drain (openMHA's "validate off the audio
thread, swap in lock-free"). `process` calls the native entry (engine/native.py):
the same compiled block driver PortAudio and JACK run, so offline and live
share one code path.
"""
from __future__ import annotations

import threading
import time

import numpy as np

from . import chain
from . import meters as M
from .params import INDEX, NUM_PARAMS, PARAMS, param
from .rt import ring_drain, ring_push, seqlock_read

SAMPLERATE_RANGE = (44100, 192000)
MAX_BLOCK_LIMIT = 8192


class Engine:
    def __init__(self, samplerate: float = 48000, channels: int = 2, sidechain_channels: int = 0,
                 max_block: int = 4096):
        if not SAMPLERATE_RANGE[0] <= samplerate <= SAMPLERATE_RANGE[1]:
            raise ValueError(f"samplerate: {samplerate} is out of range "
                             f"({SAMPLERATE_RANGE[0]} .. {SAMPLERATE_RANGE[1]} Hz)")
        if channels not in (1, 2):
            raise ValueError(f"channels: {channels} is not supported (1 or 2)")
        if sidechain_channels not in (0, 1, 2):
            raise ValueError(f"sidechain_channels: {sidechain_channels} is not supported (0, 1 or 2)")
        if not 1 <= max_block <= MAX_BLOCK_LIMIT:
            raise ValueError(f"max_block: {max_block} is out of range (1 .. {MAX_BLOCK_LIMIT})")
        self.samplerate = float(samplerate)
        self.channels = int(channels)
        self.sidechain_channels = int(sidechain_channels)
        self.max_block = int(max_block)
        self._nin = self.channels + self.sidechain_channels
        self.state = chain.alloc(self.samplerate, self.channels, self.sidechain_channels,
                                 self.max_block)
        # imported here, not at the top: importing it builds the engine the first
        # time (engine/build.py), which a GUI wants to do behind its splash
        from . import native
        self.table = native.address_table(self.state)
        self._entry = native.entry.address
        self._native_run = native.run.get()
        self._values = {p.id: p.default for p in PARAMS}
        self._producer_lock = threading.Lock()
        self._snapshot = np.zeros(M.SIZE)
        self.live = False   # set by a live session while a native callback owns the state
        self._warm_up()

    # --- parameters ---
    def set(self, id_: str, value) -> float:
        """Validate and send a parameter change; returns the engine value.
        Unknown id -> KeyError; non-finite or out of range -> ValueError."""
        p = param(id_)
        v = p.validate(value)
        idx = INDEX[p.id]
        core = self.state.core
        with self._producer_lock:
            deadline = time.monotonic() + 2.0
            while not ring_push(core.ring_hdr, core.ring_slots, idx, v):
                if not self.live:
                    # Nobody else consumes: this thread owns the state, apply in order.
                    ring_drain(core.ring_hdr, core.ring_slots, core.p_target, NUM_PARAMS)
                elif time.monotonic() > deadline:
                    raise RuntimeError("parameter ring stayed full for 2 s: is the audio stream stalled?")
                else:
                    time.sleep(0.001)
            self._values[p.id] = v
        return v

    def get(self, id_: str) -> float:
        return self._values[param(id_).id]

    def values(self) -> dict:
        return dict(self._values)

    def update(self, values: dict) -> None:
        """Set several parameters; all are validated before any is sent."""
        checked = [(param(k).id, param(k).validate(v)) for k, v in values.items()]
        for k, v in checked:
            self.set(k, v)

    # --- processing ---
    def process(self, x) -> np.ndarray:
        """Process x (frames, channels [+ sidechain]) into a new float32 array
        (frames, channels). Float arrays are taken as they are (1.0 = 0 dBFS);
        signed integer arrays are scaled by their full scale (int16: 32768 = 1.0)."""
        x = self._check_input(x)
        out = np.empty((x.shape[0], self.channels), np.float32)
        self._run(x, out)
        return out

    def process_into(self, x, out) -> None:
        """Process x into `out`, a C-contiguous float32 array (frames, channels).
        With x already C-contiguous float32 (frames, channels + sidechain) this
        is the fast path: no copy, about a microsecond of overhead per call."""
        if self.live:
            raise RuntimeError("this engine is running in a live session; use the session")
        try:
            if self._native_run(self._entry, self.table, x, out, self._nin, self.channels) == 0:
                return
        except TypeError:   # not C-contiguous float32 2-D arrays: the checked path
            pass
        x = self._check_input(x)
        if (not isinstance(out, np.ndarray) or out.dtype != np.float32
                or out.shape != (x.shape[0], self.channels) or not out.flags.c_contiguous):
            raise ValueError(f"out must be a C-contiguous float32 array of shape "
                             f"({x.shape[0]}, {self.channels})")
        self._run(x, out)

    def _run(self, x, out):
        if self.live:
            raise RuntimeError("this engine is running in a live session; use the session")
        self._native_run(self._entry, self.table, x, out, self._nin, self.channels)

    def _check_input(self, x) -> np.ndarray:
        """x as C-contiguous float32. Signed integer samples (int8/16/32/64, as
        read from PCM files) are scaled to ±1.0 by their full scale (32767 is
        just under 0 dBFS, not +90); unsigned ones are refused."""
        nin = self._nin
        x = np.asarray(x)
        if x.dtype.kind == "u":
            raise ValueError(f"input: unsigned integer samples ({x.dtype}) are not supported; "
                             f"give float or signed integer samples")
        if x.dtype.kind == "i":
            x = x.astype(np.float64) * (1.0 / float(2 ** (8 * x.dtype.itemsize - 1)))
        elif x.dtype.kind not in "fb":
            raise ValueError(f"input: {x.dtype} samples are not supported; give float or signed "
                             f"integer samples")
        if x.ndim == 1 and nin == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != nin:
            raise ValueError(f"input must have shape (frames, {nin}) "
                             f"({self.channels} channels + {self.sidechain_channels} sidechain), "
                             f"got {x.shape}")
        return np.ascontiguousarray(x, dtype=np.float32)

    def _warm_up(self):
        # Runs every kernel once so nothing compiles later, then clears the state.
        self._run(np.zeros((1, self._nin), np.float32), np.zeros((1, self.channels), np.float32))
        self.reset()

    def reset(self) -> None:
        if self.live:
            raise RuntimeError("reset a live engine through its session")
        core = self.state.core
        ring_drain(core.ring_hdr, core.ring_slots, core.p_target, NUM_PARAMS)
        chain.reset(self.state)

    # --- readouts ---
    @property
    def latency_samples(self) -> int:
        return int(chain.total_latency(self.samplerate, self._values["lookahead"],
                                       self._values["drift_lookahead"]))

    def meters(self) -> dict:
        core = self.state.core
        seqlock_read(core.meter_seq, core.meter_data, self._snapshot)
        return M.to_dict(self._snapshot, self.channels)
