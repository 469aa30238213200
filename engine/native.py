"""The native entry: the whole chain behind one C function, compiled once per source version.

    void uplift_entry(int64 table, int64 x, int64 y, int64 nframes)

Every path runs this one function: `Engine.process` calls it through `run`,
and the PortAudio and JACK callbacks (app/hosts/portaudio.py, app/hosts/jack.py) call it
through its address from their own cfuncs. It is a `@cfunc(cache=True)` built
on first use (engine/build.py), so a process loads it from the cache instead
of building it (product.md, "Start-up"); the hosts call it by address rather
than linking the chain into their own callbacks, so they never rebuild the
chain either.

The engine state is a nested NamedTuple (and tuples of them) of NumPy arrays
(engine/chain.py). A C
caller only has a `void*`, so the state is flattened into an int64 *address
table* -- for each array its address and shape, in field order -- and the
`unpack` intrinsic rebuilds the NamedTuple inside compiled code from the
table, allocating nothing. The state's Numba type (`STATE_TYPE`) fixes which
arrays there are and their dtypes and ranks; the shapes come from the table, so
one compiled entry serves every samplerate, channel count and block size.

The block loop sets FTZ/DAZ, copies interleaved float32 frames into the planar
float64 block (replacing non-finite samples by 0 and bounding magnitudes,
rule 8), runs `chain.process` in chunks of at most max_block, and writes
interleaved float32 out.
"""
from __future__ import annotations

import ctypes
import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic
from numba.np.arrayobj import populate_array

from . import chain
from .build import native_cfunc, native_njit
from .chain import CFG_CH, CFG_MAXBLOCK, CFG_SC, INPUT_LIMIT
from .dsp import FASTMATH
from .rt import FTZ_DAZ, c_function, get_mxcsr, set_mxcsr

MAX_DIMS = 3
ROW = 1 + MAX_DIMS            # address, shape[0..MAX_DIMS)


def _walk(obj, prefix=()):
    """(path, array) for every array in a nested NamedTuple (or plain tuple of
    them), in field order."""
    items = ((name, getattr(obj, name)) for name in obj._fields) if hasattr(obj, "_fields") \
        else ((str(i), v) for i, v in enumerate(obj))
    for name, v in items:
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


@intrinsic
def unpack(typingctx, addr, state_type):
    """The NamedTuple of type `state_type` whose arrays the address table at
    `addr` describes (see address_table); no allocation, no reference counts."""
    if not (isinstance(addr, types.Integer) and isinstance(state_type, types.TypeRef)):
        return None
    st = state_type.instance_type

    def codegen(context, builder, sig, args):
        i64 = ir.IntType(64)
        table = builder.inttoptr(args[0], i64.as_pointer())
        row = [0]

        def word(j):
            return builder.load(builder.gep(table, [ir.Constant(i64, j)]))

        def build(t):
            if isinstance(t, types.Array):
                base = row[0] * ROW
                row[0] += 1
                dtype = context.get_data_type(t.dtype)
                itemsize = context.get_abi_sizeof(dtype)
                shape = [word(base + 1 + d) for d in range(t.ndim)]
                strides = [ir.Constant(i64, itemsize)]
                for d in range(t.ndim - 1, 0, -1):
                    strides.insert(0, builder.mul(strides[0], shape[d]))
                ary = context.make_array(t)(context, builder)
                populate_array(ary, data=builder.inttoptr(word(base), dtype.as_pointer()),
                               shape=shape, strides=strides,
                               itemsize=ir.Constant(i64, itemsize), meminfo=None)
                return ary._getvalue()
            return context.make_tuple(builder, t, [build(m) for m in t.types])

        return build(st)

    return st(addr, state_type), codegen


def state_type(S):
    """S's Numba type, checked to be what unpack can rebuild (C-contiguous arrays)."""
    t = numba.typeof(S)
    for path, a in _walk(S):
        assert a.flags.c_contiguous and a.ndim <= MAX_DIMS, path
    return t


#: The engine state's type: which arrays, their dtypes and ranks (not their sizes).
STATE_TYPE = state_type(chain.alloc(48000.0, 2, 1, 16))

@intrinsic
def unpack_f32(typingctx, addr, n):
    """A 1-D float32 array of n items at address addr (a host buffer)."""
    if not (isinstance(addr, types.Integer) and isinstance(n, types.Integer)):
        return None
    arr = types.Array(types.float32, 1, "C")

    def codegen(context, builder, sig, args):
        i64 = ir.IntType(64)
        ary = context.make_array(arr)(context, builder)
        populate_array(ary, data=builder.inttoptr(args[0], ir.FloatType().as_pointer()),
                       shape=[context.cast(builder, args[1], sig.args[1], types.int64)],
                       strides=[ir.Constant(i64, 4)], itemsize=ir.Constant(i64, 4), meminfo=None)
        return ary._getvalue()

    return arr(addr, n), codegen


ENTRY_SIG = types.void(types.int64, types.int64, types.int64, types.int64)
ENTRY_CTYPES = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                                ctypes.c_int64)


@native_cfunc(ENTRY_SIG, nopython=True, fastmath=FASTMATH, error_model="numpy", _nrt=False)
def entry(table, xp, yp, nframes):
    """Run the chain on `nframes` interleaved float32 frames at address xp
    (channels + sidechain per frame) into interleaved float32 frames at yp."""
    S = unpack(table, STATE_TYPE)
    c = S.core
    nch = int(c.cfg[CFG_CH])
    nin = nch + int(c.cfg[CFG_SC])
    maxb = int(c.cfg[CFG_MAXBLOCK])
    x = unpack_f32(xp, nframes * nin)
    y = unpack_f32(yp, nframes * nch)
    saved = get_mxcsr()
    set_mxcsr(saved | FTZ_DAZ)
    done = 0
    while done < nframes:
        n = min(maxb, nframes - done)
        for i in range(n):
            base = (done + i) * nin
            for ch in range(nin):
                # non-finite -> 0, else bounded to ±INPUT_LIMIT (branch-free: vectorises)
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


#: call_entry(entry.address, table, x, y, nframes) from native code
call_entry = c_function(types.void, types.int64, types.int64, types.int64, types.int64)


@native_njit("int64(int64, int64[::1], float32[:, ::1], float32[:, ::1], int64, int64)", nogil=True)
def run(address, table, x, y, nin, nch):
    """The entry on C-contiguous float32 x[frames, nin] into y[frames, nch], for
    Python callers (Engine.process_into): the dispatcher's typing checks dtype,
    rank and layout, this checks the shapes, so one call costs ~1 µs instead
    of ctypes' per-argument conversions. Returns 0, or 1 for a shape mismatch."""
    n = x.shape[0]
    if x.shape[1] != nin or y.shape[0] != n or y.shape[1] != nch:
        return 1
    if n > 0:
        call_entry(address, table.ctypes.data, x.ctypes.data, y.ctypes.data, n)
    return 0
