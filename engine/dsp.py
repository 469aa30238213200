"""Small shared DSP pieces for Numba kernels: conversions and one-pole coefficients.

All functions are allocation-free and safe for the audio thread. `FASTMATH` is
the NaN-safe flag set (dsp.md rule 10); plain fastmath=True would let LLVM
assume no NaNs and make isnan() lie.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}

#: Flags of every kernel the audio path runs. forceinline marks the function
#: `alwaysinline` for LLVM, so the chain still becomes one loop nest without
#: Numba's IR-level inliner (which re-typed every inlined body at every call
#: site and made the first build take minutes). error_model="numpy": a float
#: division is a plain division (x/0 gives inf or NaN, which the stages' guards
#: handle), not a branch to a ZeroDivisionError that could not be raised on the
#: audio thread anyway and that keeps LLVM from vectorising the loop. No Python
#: or C wrapper is built for a kernel (they cost a third of the build): call
#: kernels from compiled code only -- tests wrap them in an @njit function.
#: NATIVE_ONLY alone: the same for functions the kernels call without inlining
#: (resets, coefficient designs, rarely taken paths).
NATIVE_ONLY = dict(no_cpython_wrapper=True, no_cfunc_wrapper=True)
KERNEL = dict(fastmath=FASTMATH, error_model="numpy", _nrt=False, forceinline=True, **NATIVE_ONLY)

#: Samples between control ticks: every stage recomputes its coefficients once
#: per tick and ramps its gains across the next CONTROL_BLOCK samples; the chain
#: (engine/chain.py) cuts blocks on this grid.
CONTROL_BLOCK = 16
#: A stage switched on or off crossfades over this long (dsp.md: click-free).
STAGE_FADE_MS = 10.0

#: Levels below this are treated as silence by every detector (dBFS).
SILENCE_DB = -240.0
_SILENCE_LIN = 1e-12
LN10_OVER_20 = math.log(10.0) / 20.0
TWENTY_OVER_LN10 = 20.0 / math.log(10.0)


@njit(**KERNEL)
def lin_to_db(x):
    """20·log10(|x|), floored at SILENCE_DB."""
    a = abs(x)
    if a < _SILENCE_LIN:
        return SILENCE_DB
    return TWENTY_OVER_LN10 * math.log(a)


@njit(**KERNEL)
def power_to_db(p):
    """10·log10(p) for a mean square, floored at SILENCE_DB."""
    if p < _SILENCE_LIN * _SILENCE_LIN:
        return SILENCE_DB
    return 0.5 * TWENTY_OVER_LN10 * math.log(p)


@njit(**KERNEL)
def db_to_lin(db):
    """10^(db/20)."""
    return math.exp(LN10_OVER_20 * db)


@njit(**KERNEL)
def onepole_coeff(time_ms, samplerate, step=1.0):
    """Coefficient a of y += a·(x − y) so that y covers 63.2 % of a step after
    `time_ms` when updated every `step` samples: a = 1 − exp(−step / (t·fs)).
    time_ms <= 0 means instant (a = 1)."""
    if time_ms <= 0.0:
        return 1.0
    return 1.0 - math.exp(-step * 1000.0 / (time_ms * samplerate))


@njit(**KERNEL)
def finite_or_zero(x):
    """x if finite else 0 (the engine's guard against non-finite input, rule 8)."""
    if math.isfinite(x):
        return x
    return 0.0


# --- fast log2 / exp2 ------------------------------------------------------
# The detectors need one log and one exp per sample and channel; libm's are
# the bulk of the per-sample cost. These use the IEEE-754 layout directly:
# |error| < 2e-9 in log2 and < 2e-7 relative in exp2, i.e. far below 0.01 dB.

@intrinsic
def _f64_as_i64(typingctx, x):
    if not isinstance(x, types.Float) or x.bitwidth != 64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(x), codegen


@intrinsic
def _i64_as_f64(typingctx, x):
    if not isinstance(x, types.Integer) or x.bitwidth != 64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(x), codegen


@intrinsic
def _u64_halves_as_f32(typingctx, x):
    if not isinstance(x, types.Integer) or x.bitwidth != 64:
        return None

    def codegen(context, builder, sig, args):
        i32 = ir.IntType(32)
        lo = builder.bitcast(builder.trunc(args[0], i32), ir.FloatType())
        hi = builder.bitcast(builder.trunc(builder.lshr(args[0], ir.Constant(args[0].type, 32)), i32),
                             ir.FloatType())
        return context.make_tuple(builder, sig.return_type, (lo, hi))

    return types.UniTuple(types.float32, 2)(x), codegen


@njit(**KERNEL)
def f32_pair(u):
    """The two float32 stored in the 64-bit word u, (lower address, higher address):
    one 64-bit load (or gather) fetches both."""
    return _u64_halves_as_f32(u)


_INV_LN2_X2 = 2.0 / math.log(2.0)
_SQRT2 = math.sqrt(2.0)
LOG2_10_OVER_20 = math.log2(10.0) / 20.0     # dB -> log2 of the linear gain
LOG2_E = 1.0 / math.log(2.0)                 # e^x = 2^(x·LOG2_E)
DB_PER_LOG2 = 20.0 * math.log10(2.0)         # 6.0206 dB per octave of amplitude


@njit(**KERNEL)
def fast_log2(x):
    """log2(x) for finite x > 0 (normal): exponent from the bits, then
    log2(m) = (2/ln2)·atanh(s), s = (m−1)/(m+1), m in [√½, √2), series to s⁹."""
    b = _f64_as_i64(x)
    e = ((b >> 52) & 0x7FF) - 1023
    m = _i64_as_f64((b & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)
    if m > _SQRT2:
        m *= 0.5
        e += 1
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    p = s * (1.0 + s2 * (1.0 / 3.0 + s2 * (0.2 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0)))))
    return e + _INV_LN2_X2 * p


@njit(**KERNEL)
def fast_exp2(y):
    """2^y, y clamped to [−1020, 1020]: 2^round(y) from the bits times a
    degree-6 Taylor polynomial of 2^f = e^(f·ln2) on f in [−½, ½]
    (relative error < 2e-7, i.e. < 2e-6 dB)."""
    if y < -1020.0:
        y = -1020.0
    elif y > 1020.0:
        y = 1020.0
    k = math.floor(y + 0.5)
    f = (y - k) * 0.6931471805599453
    p = 1.0 + f * (1.0 + f * (0.5 + f * (1.0 / 6.0 + f * (1.0 / 24.0 + f * (
        1.0 / 120.0 + f * (1.0 / 720.0))))))
    return p * _i64_as_f64((np.int64(k) + 1023) << 52)


@njit(**KERNEL)
def fast_lin_to_db(a):
    """20·log10(a) for a >= 0, floored at SILENCE_DB."""
    if a < _SILENCE_LIN:
        return SILENCE_DB
    return DB_PER_LOG2 * fast_log2(a)


@njit(**KERNEL)
def fast_power_to_db(p):
    """10·log10(p) for a mean square p >= 0, floored at SILENCE_DB."""
    if p < _SILENCE_LIN * _SILENCE_LIN:
        return SILENCE_DB
    return 0.5 * DB_PER_LOG2 * fast_log2(p)


@njit(**KERNEL)
def fast_db_to_lin(db):
    """10^(db/20)."""
    return fast_exp2(LOG2_10_OVER_20 * db)


# --- sidechain filters --------------------------------------------------------

@njit(cache=True, fastmath=FASTMATH, **NATIVE_ONLY)
def butter2(cutoff_hz, samplerate, out, highpass):
    """2nd-order Butterworth high-pass (highpass True) or low-pass (bilinear,
    prewarped; RBJ with Q = 1/√2) into out[0:5] = b0, b1, b2, a1, a2 (a0 = 1):
        b0 = b2 = (1 ± cos w0)/2/a0,  b1 = ∓(1 ± cos w0)/a0"""
    s = 1.0 if highpass else -1.0
    w0 = 2.0 * math.pi * min(cutoff_hz, 0.45 * samplerate) / samplerate
    cw = math.cos(w0)
    alpha = math.sin(w0) / math.sqrt(2.0)
    a0 = 1.0 + alpha
    out[0] = (1.0 + s * cw) * 0.5 / a0
    out[1] = -s * (1.0 + s * cw) / a0
    out[2] = out[0]
    out[3] = -2.0 * cw / a0
    out[4] = (1.0 - alpha) / a0


@njit(**KERNEL)
def biquad_tdf2(c, z, ch, x):
    """One sample of a transposed direct-form II biquad with coefficients
    c[0:5] and state z[ch, 0:2]."""
    y = c[0] * x + z[ch, 0]
    z[ch, 0] = c[1] * x - c[3] * y + z[ch, 1]
    z[ch, 1] = c[2] * x - c[4] * y
    return y


# --- sliding maximum (monotonic deque) -------------------------------------
# vals/idxs: [rows, cap] with cap a power of two > the longest window;
# ht: int64[rows, 2] head/tail counters. O(1) amortised per sample, and a
# steady sine reads its exact sampled peak once the window spans half a period.

def slidemax_alloc(rows: int, max_window: int):
    cap = 1
    while cap < max_window + 2:
        cap *= 2
    return np.zeros((rows, cap)), np.zeros((rows, cap), np.int64), np.zeros((rows, 2), np.int64)


@njit(**KERNEL)
def slidemax_reset(vals, idxs, ht):
    vals[:] = 0.0
    idxs[:] = 0
    ht[:] = 0


@njit(**KERNEL)
def slidemax_push(vals, idxs, ht, row, n, v, window):
    """Push v at absolute sample index n; return max of the values pushed at
    indices n−window+1 .. n (window >= 1)."""
    mask = vals.shape[1] - 1
    h = ht[row, 0]
    t = ht[row, 1]
    while t > h and vals[row, (t - 1) & mask] <= v:
        t -= 1
    vals[row, t & mask] = v
    idxs[row, t & mask] = n
    t += 1
    lim = n - window
    while idxs[row, h & mask] <= lim:
        h += 1
    ht[row, 0] = h
    ht[row, 1] = t
    return vals[row, h & mask]


# --- window maximum, van Herk / Gil-Werman ---------------------------------
# The maximum of the last `window` values at a constant cost per sample, with no
# data-dependent loop: the stream is cut into blocks of `window` values; the
# window ending at n covers the tail of the previous (complete) block, whose
# suffix maxima were computed once when it completed, and the head of the
# current block, whose running (prefix) maximum is kept. Values before the
# first push count as 0 (the detectors push levels, >= 0).

def winmax_alloc(max_window: int):
    """(vals, suf, blk, pre) for windows up to max_window."""
    cap = pow2_at_least(2 * (max_window + 1))
    return np.zeros(cap), np.zeros(cap), np.zeros(2, np.int64), np.zeros(1)


@njit(**KERNEL)
def winmax_reset(vals, suf, blk, pre):
    vals[:] = 0.0
    suf[:] = 0.0
    blk[:] = 0
    pre[0] = 0.0


@njit(**KERNEL)
def _winmax_suffix(vals, suf, first, end):
    """suf[i] = max(vals[i .. end − 1]) for i in first .. end − 1 (ring indices)."""
    mask = vals.shape[0] - 1
    m = 0.0
    for i in range(end - 1, first - 1, -1):
        v = vals[i & mask]
        m = v if v > m else m
        suf[i & mask] = m


@njit(**KERNEL)
def winmax_block(vals, suf, blk, pre, n0, levels, held, count, window):
    """Push levels[:count] at absolute sample indices n0, n0 + 1, ... (each call
    continues the last); held[i] = the maximum of the values pushed at
    n0 + i − window + 1 .. n0 + i (window >= 1). Returns the lowest and the
    highest of held[:count].
    blk = (start of the current block, its window), pre = the current block's
    running maximum."""
    mask = vals.shape[0] - 1
    if window != blk[1]:
        # (re)anchor: the `window` values before n0 are the previous block
        _winmax_suffix(vals, suf, n0 - window, n0)
        blk[0] = n0
        blk[1] = window
        pre[0] = 0.0
    b0 = blk[0]
    p = pre[0]
    lowest = np.inf
    highest = 0.0
    for i in range(count):
        n = n0 + i
        if n - b0 == window:
            _winmax_suffix(vals, suf, b0, n)
            b0 = n
            p = 0.0
        v = levels[i]
        p = v if v > p else p
        vals[n & mask] = v
        t = suf[(n - window + 1) & mask] if n - window + 1 < b0 else 0.0
        h = t if t > p else p
        held[i] = h
        lowest = h if h < lowest else lowest
        highest = h if h > highest else highest
    blk[0] = b0
    pre[0] = p
    return lowest, highest


# --- delay tap with crossfade (latency changes without clicks) -------------
# tap: float64[4] = previous delay, current delay, weight of the current tap at
# the start and at the end of the running control segment.
TAP_PREV, TAP_CUR, TAP_W0, TAP_W1 = 0, 1, 2, 3
XFADE_MS = 10.0               # a delay that changes crossfades from the old tap this long


def pow2_at_least(n: int) -> int:
    c = 1
    while c < n:
        c *= 2
    return c


CACHE_LINE = 64


def aligned_zeros(shape, dtype, align: int = CACHE_LINE) -> np.ndarray:
    """np.zeros whose data starts on an `align`-byte boundary (numpy only
    promises 16). For arrays the kernels sweep with 512-bit vectors: on this
    machine class (Zen 4, AVX-512 run as two 256-bit halves) DRIFT's block at an
    address of 16 or 48 mod 64 splits every half across cache lines, and the
    whole chain ran 10–60 % slower depending on where malloc put it (measured:
    116 ns per frame aligned, 126–197 unaligned)."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    raw = np.zeros(nbytes + align, np.uint8)
    start = (-raw.ctypes.data) % align
    return raw[start:start + nbytes].view(dtype).reshape(shape)


@njit(cache=True, fastmath=FASTMATH, **NATIVE_ONLY)
def tap_reset(tap, delay):
    tap[TAP_PREV] = delay
    tap[TAP_CUR] = delay
    tap[TAP_W0] = 1.0
    tap[TAP_W1] = 1.0


@njit(cache=True, fastmath=FASTMATH, **NATIVE_ONLY)
def tap_control(tap, target_delay, step):
    """At a control tick: continue a running crossfade, or start one towards
    target_delay (another change waits until the running fade is done)."""
    tap[TAP_W0] = tap[TAP_W1]
    if tap[TAP_W1] < 1.0:
        tap[TAP_W1] = min(1.0, tap[TAP_W1] + step)
    elif target_delay != tap[TAP_CUR]:
        tap[TAP_PREV] = tap[TAP_CUR]
        tap[TAP_CUR] = target_delay
        tap[TAP_W0] = 0.0
        tap[TAP_W1] = min(1.0, step)


@njit(**KERNEL)
def tap_read(line, tap, ch, wpos, r, mask):
    """line[ch] read `tap`'s delay behind write position wpos, crossfaded
    (smoothstep) from the previous delay while a change runs (r: the sample's place in the
    control period, (phase + i + 1)/CONTROL_BLOCK)."""
    d = line[ch, (wpos - np.int64(tap[TAP_CUR])) & mask]
    if tap[TAP_W0] < 1.0 or tap[TAP_W1] < 1.0:
        w = tap[TAP_W0] + (tap[TAP_W1] - tap[TAP_W0]) * r
        # smoothstep: no kink where the fade starts and ends (a kink is a small
        # broadband transient, and DRIFT lifts the empty bands it lands in)
        w = w * w * (3.0 - 2.0 * w)
        d = w * d + (1.0 - w) * line[ch, (wpos - np.int64(tap[TAP_PREV])) & mask]
    return d


@njit(**KERNEL)
def array_max(a):
    """a.max() for a non-empty 1-D array, without NumPy's reduction machinery
    (which needs NRT; the chain kernel compiles without it)."""
    m = a[0]
    for i in range(1, a.shape[0]):
        if a[i] > m:
            m = a[i]
    return m


@njit(**KERNEL)
def fade_switch(cur, on, step):
    """Linear fade of a 0/1 switch, landing exactly on 0 and 1."""
    if on >= 0.5:
        return min(1.0, cur + step)
    return max(0.0, cur - step)
