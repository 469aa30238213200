"""The native entry: one C-callable function per engine layout, no Python per block.

The engine state is a nested NamedTuple of NumPy arrays (engine/chain.py). For
code that only gets a `void*` (PortAudio and JACK callbacks, ctypes), the state
is flattened into an int64 *address table* — for each array its address and
shape — and `unpack` rebuilds the same NamedTuple inside compiled code with
`numba.carray`, which allocates nothing. The unpacker is generated from the
NamedTuple field lists, so the state layout is written once, in the stages.

`process_interleaved` is the block driver every host uses: it sets FTZ/DAZ,
copies interleaved float32 frames into the planar float64 block (replacing
non-finite samples by 0 and bounding magnitudes, rule 8), runs `chain.process`
in chunks of at most max_block, and writes interleaved float32 out.
"""
from __future__ import annotations

import math

import numpy as np
from numba import carray, cfunc, njit, types

from . import chain
from .chain import CFG_CH, CFG_MAXBLOCK, CFG_SC
from .rt import FTZ_DAZ, get_mxcsr, int_to_voidptr, set_mxcsr

MAX_DIMS = 3
ROW = 1 + MAX_DIMS            # address, shape[0..MAX_DIMS)
INPUT_LIMIT = 1.0e4           # +80 dBFS: larger magnitudes are bounded, not trusted


def _walk(obj, prefix=()):
    """(path, array) for every array in a nested NamedTuple, in field order."""
    for name in obj._fields:
        v = getattr(obj, name)
        if isinstance(v, np.ndarray):
            yield prefix + (name,), v
        else:
            yield from _walk(v, prefix + (name,))


def address_table(S) -> np.ndarray:
    """int64 rows (address, shape...) for every array of S. Keep S alive while used."""
    arrays = [a for _, a in _walk(S)]
    table = np.zeros(len(arrays) * ROW, np.int64)
    for k, a in enumerate(arrays):
        assert a.flags.c_contiguous and a.ndim <= MAX_DIMS
        table[k * ROW] = a.ctypes.data
        table[k * ROW + 1: k * ROW + 1 + a.ndim] = a.shape
    return table


def layout_key(S):
    return tuple((path, a.dtype.str, a.ndim) for path, a in _walk(S))


_unpackers: dict = {}


def make_unpack(S):
    """A jitted `unpack(table_address) -> EngineState` for S's layout (memoised)."""
    key = layout_key(S)
    if key in _unpackers:
        return _unpackers[key]
    glb = {"carray": carray, "int_to_voidptr": int_to_voidptr, "np": np, "njit": njit}
    counter = [0]

    def build(obj, depth):
        cls = type(obj)
        glb[cls.__name__ + f"_{id(cls)}"] = cls
        parts = []
        for name in obj._fields:
            v = getattr(obj, name)
            if isinstance(v, np.ndarray):
                k = counter[0]
                counter[0] += 1
                shape = ", ".join(f"t[{k * ROW + 1 + d}]" for d in range(v.ndim))
                parts.append(f"carray(int_to_voidptr(t[{k * ROW}]), ({shape},), np.{v.dtype.name})")
            else:
                parts.append(build(v, depth + 1))
        return f"{cls.__name__}_{id(cls)}(" + ", ".join(parts) + ")"

    body = build(S, 0)
    src = (f"def unpack(addr):\n"
           f"    t = carray(int_to_voidptr(addr), ({counter[0] * ROW},), np.int64)\n"
           f"    return {body}\n")
    exec(compile(src, "<engine.native.unpack>", "exec"), glb)
    fn = njit(inline="always")(glb["unpack"])
    _unpackers[key] = fn
    return fn


@njit(cache=True, nogil=True)
def process_interleaved(S, xp, yp, nframes):
    """Run the chain on interleaved float32 frames at address xp (channels +
    sidechain per frame) into interleaved float32 frames at yp (channels).
    Only wraps the buffers (numba.carray needs NRT); the block loop is
    process_frames, compiled without NRT reference counting like chain.process."""
    nch = S.core.y.shape[0]
    nin = S.core.x.shape[0]
    x = carray(int_to_voidptr(xp), (nframes * nin,), np.float32)
    y = carray(int_to_voidptr(yp), (nframes * nch,), np.float32)
    process_frames(S, x, y, nframes)


@njit(cache=True, nogil=True, **chain.KERNEL_FLAGS)
def process_frames(S, x, y, nframes):
    """process_interleaved on float32 arrays x [frames·(channels + sidechain)]
    and y [frames·channels]."""
    saved = get_mxcsr()
    set_mxcsr(saved | FTZ_DAZ)
    c = S.core
    nch = int(c.cfg[CFG_CH])
    nin = nch + int(c.cfg[CFG_SC])
    maxb = int(c.cfg[CFG_MAXBLOCK])
    done = 0
    while done < nframes:
        n = min(maxb, nframes - done)
        for i in range(n):
            base = (done + i) * nin
            for ch in range(nin):
                # non-finite -> 0, else bounded to ±INPUT_LIMIT (branch-free, as process_buffer)
                v = np.float64(x[base + ch])
                b = min(max(v, -INPUT_LIMIT), INPUT_LIMIT)
                c.x[ch, i] = b if math.isfinite(v) else 0.0
        chain.process(S, n)
        for i in range(n):
            base = (done + i) * nch
            for ch in range(nch):
                y[base + ch] = np.float32(c.y[ch, i])
        done += n
    set_mxcsr(saved)


_entries: dict = {}

ENTRY_SIG = types.void(types.int64, types.int64, types.int64, types.int64)


def make_entry(S):
    """C function `void entry(int64 table, int64 x, int64 y, int64 nframes)` for
    S's layout; used by Engine.process through ctypes (memoised per layout)."""
    key = layout_key(S)
    if key not in _entries:
        unpack = make_unpack(S)

        @cfunc(ENTRY_SIG, nopython=True)
        def entry(table, xp, yp, nframes):
            process_interleaved(unpack(table), xp, yp, nframes)

        _entries[key] = entry
    return _entries[key]
