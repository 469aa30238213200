"""Realtime primitives for Numba code: atomics, the parameter ring, the meter seqlock.

Numba has no atomics, so small `@intrinsic`s emit LLVM atomic loads/stores and
fences (dsp.md, realtime rule 4). Everything here is allocation-free and
callable from the audio thread.

Parameter ring: single-producer/single-consumer, (id, value) events.
  hdr[W] is written only by the producer, hdr[R] only by the consumer; both are
  monotonic counters (slot = counter & (capacity − 1)), on separate cache lines.
  Producer: fill slot, then store-release W.  Consumer: load-acquire W, read
  slots, then store-release R.  Several Python producers (GUI, MIDI, CLI)
  serialise on a Python lock *on their side*, so the ring always sees one
  producer and the audio thread never waits.

Meter snapshot: a sequence lock. The writer (audio thread) makes seq odd,
fences, writes, then publishes seq even with release; a reader copies and
retries if seq moved. The audio thread never waits for a reader.
"""
from __future__ import annotations

import platform

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

RING_W = 0          # producer's counter
RING_R = 8          # consumer's counter, 64 bytes away (no false sharing)
RING_HDR_LEN = 16


def _elem_ptr(context, builder, arrty, arr, idxty, idx):
    ary = context.make_array(arrty)(context, builder, arr)
    i = context.cast(builder, idx, idxty, types.intp)
    return builder.gep(ary.data, [i])


@intrinsic
def load_acquire(typingctx, arr, idx):
    """arr[idx] with acquire ordering (int64 array)."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64
            and isinstance(idx, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        ptr = _elem_ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        return builder.load_atomic(ptr, "acquire", 8)

    return types.int64(arr, idx), codegen


@intrinsic
def store_release(typingctx, arr, idx, val):
    """arr[idx] = val with release ordering (int64 array)."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64
            and isinstance(idx, types.Integer) and isinstance(val, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        ptr = _elem_ptr(context, builder, sig.args[0], args[0], sig.args[1], args[1])
        v = context.cast(builder, args[2], sig.args[2], types.int64)
        builder.store_atomic(v, ptr, "release", 8)
        return context.get_dummy_value()

    return types.void(arr, idx, val), codegen


@intrinsic
def fence_release(typingctx):
    def codegen(context, builder, sig, args):
        builder.fence("release")
        return context.get_dummy_value()

    return types.void(), codegen


@intrinsic
def fence_acquire(typingctx):
    def codegen(context, builder, sig, args):
        builder.fence("acquire")
        return context.get_dummy_value()

    return types.void(), codegen


@intrinsic
def int_to_voidptr(typingctx, addr):
    """An integer address as a void* (for numba.carray over host buffers)."""
    if not isinstance(addr, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        return builder.inttoptr(args[0], ir.IntType(8).as_pointer())

    return types.voidptr(addr), codegen


# --- MXCSR: flush-to-zero and denormals-are-zero in the audio thread (rule 7) ---
_X86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "i386")
FTZ_DAZ = 0x8040  # FTZ (bit 15) | DAZ (bit 6)


@intrinsic
def get_mxcsr(typingctx):
    def codegen(context, builder, sig, args):
        if not _X86:
            return ir.Constant(ir.IntType(32), 0)
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.sse.stmxcsr")
        builder.call(fn, [builder.bitcast(slot, ir.IntType(8).as_pointer())])
        return builder.load(slot)

    return types.uint32(), codegen


@intrinsic
def set_mxcsr(typingctx, value):
    if not isinstance(value, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        if _X86:
            slot = cgutils.alloca_once(builder, ir.IntType(32))
            builder.store(builder.trunc(args[0], ir.IntType(32))
                          if args[0].type.width > 32 else args[0], slot)
            fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()])
            fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.sse.ldmxcsr")
            builder.call(fn, [builder.bitcast(slot, ir.IntType(8).as_pointer())])
        return context.get_dummy_value()

    return types.void(value), codegen


# --- the parameter ring ---------------------------------------------------

def ring_alloc(capacity: int = 4096):
    assert capacity & (capacity - 1) == 0, "capacity must be a power of two"
    return np.zeros(RING_HDR_LEN, np.int64), np.zeros((capacity, 2), np.float64)


@njit(cache=True, nogil=True)
def ring_push(hdr, slots, pid, value):
    """Producer side. Returns False when the ring is full (nothing written)."""
    cap = slots.shape[0]
    w = hdr[RING_W]
    r = load_acquire(hdr, RING_R)
    if w - r >= cap:
        return False
    k = w & (cap - 1)
    slots[k, 0] = pid
    slots[k, 1] = value
    store_release(hdr, RING_W, w + 1)
    return True


@njit(cache=True, nogil=True)
def ring_pending(hdr):
    return load_acquire(hdr, RING_W) - load_acquire(hdr, RING_R)


@njit(cache=True, nogil=True)
def ring_drain(hdr, slots, target, nparams):
    """Consumer side (audio thread): apply every pending (id, value) to `target`.

    The values were validated by the producer; a torn or foreign id is ignored
    rather than trusted. Returns how many events were applied."""
    cap = slots.shape[0]
    r = hdr[RING_R]
    w = load_acquire(hdr, RING_W)
    n = 0
    while r < w:
        k = r & (cap - 1)
        pid = int(slots[k, 0])
        if 0 <= pid < nparams:
            target[pid] = slots[k, 1]
            n += 1
        r += 1
    store_release(hdr, RING_R, r)
    return n


# --- the meter seqlock ----------------------------------------------------

@njit(cache=True, nogil=True)
def seqlock_write_begin(seq):
    store_release(seq, 0, seq[0] + 1)
    fence_release()


@njit(cache=True, nogil=True)
def seqlock_write_end(seq):
    store_release(seq, 0, seq[0] + 1)


@njit(cache=True, nogil=True)
def seqlock_read(seq, data, out):
    """Copy `data` into `out` consistently. Returns False if the writer kept
    it busy for 64 tries (the caller keeps its previous snapshot)."""
    for _ in range(64):
        s1 = load_acquire(seq, 0)
        if s1 & 1:
            continue
        for i in range(data.shape[0]):    # a loop: a slice copy compiles shape-error messages
            out[i] = data[i]
        fence_acquire()
        if load_acquire(seq, 0) == s1:
            return True
    return False


# --- raw pointers <-> integers (host callbacks get void* from C) -------------

@intrinsic
def voidptr_to_int(typingctx, ptr):
    """A void* (or typed C pointer) as an int64 address (0 for NULL). Integers (how
    Numba types a ctypes `c_void_p` result) pass through as int64."""
    if isinstance(ptr, types.Integer):
        def codegen(context, builder, sig, args):
            return context.cast(builder, args[0], sig.args[0], types.int64)
        return types.int64(ptr), codegen
    if not isinstance(ptr, (types.RawPointer, types.CPointer)):
        return None

    def codegen(context, builder, sig, args):
        return builder.ptrtoint(args[0], ir.IntType(64))

    return types.int64(ptr), codegen


# --- the MIDI byte ring (audio thread -> Python) -----------------------------
# Same single-producer/single-consumer discipline as the parameter ring, over
# bytes: each message is a 2-byte little-endian length, then its bytes. The
# producer (the JACK callback) drops a message that does not fit and counts it
# in hdr[MIDI_DROPPED] (written only by the producer).

MIDI_DROPPED = 1
MIDI_MAX_MSG = 0xFFFF


def midi_ring_alloc(capacity: int = 1 << 14):
    assert capacity & (capacity - 1) == 0, "capacity must be a power of two"
    return np.zeros(RING_HDR_LEN, np.int64), np.zeros(capacity, np.uint8)


@njit(cache=True, nogil=True)
def midi_push(hdr, data, msg, n):
    """Producer side: append msg[:n] as one message. False (and counted) if it does not fit."""
    cap = data.shape[0]
    mask = cap - 1
    if n <= 0 or n > MIDI_MAX_MSG or n + 2 > cap:
        hdr[MIDI_DROPPED] += 1
        return False
    w = hdr[RING_W]
    r = load_acquire(hdr, RING_R)
    if cap - (w - r) < n + 2:
        hdr[MIDI_DROPPED] += 1
        return False
    data[w & mask] = n & 0xFF
    data[(w + 1) & mask] = (n >> 8) & 0xFF
    for i in range(n):
        data[(w + 2 + i) & mask] = msg[i]
    store_release(hdr, RING_W, w + n + 2)
    return True


@njit(cache=True, nogil=True)
def midi_drain(hdr, data, out, lens):
    """Consumer side: copy whole messages into `out` (back to back) and their
    lengths into `lens`, as many as fit. Returns (messages, bytes)."""
    cap = data.shape[0]
    mask = cap - 1
    r = hdr[RING_R]
    w = load_acquire(hdr, RING_W)
    nm = 0
    nb = 0
    while r < w and nm < lens.shape[0]:
        n = int(data[r & mask]) | (int(data[(r + 1) & mask]) << 8)
        if nb + n > out.shape[0]:
            break
        for i in range(n):
            out[nb + i] = data[(r + 2 + i) & mask]
        lens[nm] = n
        nm += 1
        nb += n
        r += n + 2
    store_release(hdr, RING_R, r)
    return nm, nb


# --- calling C functions by address ---------------------------------------

def c_function(restype, *argtypes):
    """An intrinsic `call(address, *args)` that calls the C function at `address`
    with signature restype(*argtypes) (Numba types; arguments are cast to them).

    Native callbacks call libjack, libc and the engine entry this way, with the
    addresses read from their state at run time, instead of through ctypes
    function objects, whose addresses Numba would bake into the compiled code:
    code holding a process's addresses cannot be cached, and would be rebuilt
    by every process (product.md, "Start-up")."""

    @intrinsic
    def call(typingctx, address, *args):
        if not isinstance(address, types.Integer) or len(args) != len(argtypes):
            return None

        star = types.StarArgTuple.from_types(args)

        def codegen(context, builder, sig, llargs):
            fnty = ir.FunctionType(
                ir.VoidType() if restype == types.void else context.get_value_type(restype),
                [context.get_value_type(t) for t in argtypes])
            fn = builder.inttoptr(llargs[0], fnty.as_pointer())
            given = cgutils.unpack_tuple(builder, llargs[1], len(args))
            vals = [context.cast(builder, v, ft, t) for v, ft, t in zip(given, args, argtypes, strict=True)]
            out = builder.call(fn, vals)
            return context.get_dummy_value() if restype == types.void else out

        return restype(address, star), codegen

    return call
