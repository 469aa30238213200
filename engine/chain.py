"""The signal chain, as the audio thread runs it (product.md, "Signal chain").

    in ─ input_gain ─ GATE ─ DRIFT ─ SETTLE (+makeup) ─ mix ─ output_gain ─ match ─ limiter
       ─ listen/bypass ─ out

The ceiling limiter is last in the processed path, so with limiter_on no
processed sample exceeds the ceiling whatever mix and output gain do; listen
and bypass are monitoring and are not limited (dsp.md, "Output, mix, bypass").

Listen (dsp.md, "Listen"): besides the output and delta, the output can carry
what DRIFT adds (its output − its delayed input) or SETTLE's key (after its
filters), both taken after DRIFT and delayed like the main path by SETTLE's
lookahead (its own crossfading tap), then what SETTLE removes (its delayed
input − its output before makeup), all delayed by the limiter's latency into
the output: aligned to the reported latency. Their switch fades act where
they are taken, so a stale delay line is never heard; the lines are cleared
once nothing has been listened to for longer than they are long.

`process(S, n)` is the one kernel every path runs: offline `Engine.process`,
`uplift render`, and the native PortAudio/JACK callbacks. It reads the planar
input block `S.core.x[:, :n]` (main channels, then sidechain channels) and
writes `S.core.y[:, :n]`.

Control grid: parameters glide and stage coefficients are recomputed every
CONTROL_BLOCK samples, on a grid counted from the first sample ever processed,
not from block boundaries. A block of any size is cut at grid points, so the
output is bit-identical for any way the same input is split into blocks.
Gains that change at a grid point ramp linearly across the next segment.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from . import meters as M
from .drift import LOOKAHEAD_MAX_MS as DRIFT_LOOKAHEAD_MAX_MS
from .drift import M_GUARDED as DRIFT_M_GUARDED
from .drift import (
    DriftState,
    drift_alloc,
    drift_control,
    drift_delayed_input,
    drift_latency,
    drift_process,
    drift_reset,
)
from .dsp import (
    CONTROL_BLOCK,
    KERNEL,
    LOG2_10_OVER_20,
    XFADE_MS,
    db_to_lin,
    fade_switch,
    fast_exp2,
    fast_lin_to_db,
    fast_power_to_db,
    onepole_coeff,
    pow2_at_least,
    tap_control,
    tap_read,
    tap_reset,
)
from .gate import GateState, gate_active, gate_alloc, gate_control, gate_meter_gr_db, gate_process, gate_reset
from .limiter import LOOKAHEAD_MS as LIMITER_LOOKAHEAD_MS
from .limiter import (
    LimiterState,
    limiter_alloc,
    limiter_control,
    limiter_latency,
    limiter_process,
    limiter_reset,
)
from .match import (
    MatchState,
    match_alloc,
    match_control,
    match_meter_db,
    match_meter_lufs,
    match_process,
    match_reset,
)
from .params import BY_ID, DEFAULTS, LISTEN_CHOICES, NUM_PARAMS, PID, SMOOTH_MASK, SNAP_EPS
from .rt import ring_alloc, ring_drain, seqlock_write_begin, seqlock_write_end
from .settle import (
    SettleState,
    settle_alloc,
    settle_control,
    settle_delayed_input,
    settle_key_filters,
    settle_latency,
    settle_makeup_db,
    settle_meter_detector_db,
    settle_meter_gr_db,
    settle_process,
    settle_reset,
)

PARAM_GLIDE_MS = 20.0     # time constant of every parameter glide
METER_RMS_MS = 300.0      # RMS meter integration
METER_PEAK_FALL_MS = 600.0  # peak meter fall-back, so a 30 Hz reader sees every peak
# DRIFT's and SETTLE's longest lookahead (from the table) + the limiter's, with headroom
MAX_LATENCY_MS = DRIFT_LOOKAHEAD_MAX_MS + float(BY_ID["lookahead"].max) + LIMITER_LOOKAHEAD_MS + 0.5
OUT_FADE_MS = 5.0         # bypass and listen crossfades (dsp.md: within 10 ms)
INPUT_LIMIT = 1.0e4       # +80 dBFS: larger input magnitudes are bounded, not trusted

# cfg vector
CFG_SR, CFG_CH, CFG_SC, CFG_MAXBLOCK, CFG_GLIDE, CFG_METER_A, CFG_LEN = 0, 1, 2, 3, 4, 5, 6
# counters
CNT_PHASE, CNT_SAMPLES, CNT_BLOCKS, CNT_LATENCY, CNT_LEN = 0, 1, 2, 3, 4


class Core(NamedTuple):
    cfg: np.ndarray           # float64[CFG_LEN]
    ring_hdr: np.ndarray      # int64: parameter ring indices (engine/rt.py)
    ring_slots: np.ndarray    # float64[cap, 2]: (id, value)
    p_target: np.ndarray      # float64[NUM_PARAMS]: latest values from the ring
    p_cur: np.ndarray         # float64[NUM_PARAMS]: glided values the stages read
    smooth_mask: np.ndarray   # float64[NUM_PARAMS]: 1 = glide, 0 = step
    snap_eps: np.ndarray      # float64[NUM_PARAMS]
    counters: np.ndarray      # int64[CNT_LEN]
    x: np.ndarray             # float64[ch + sc, max_block]: input block, planar
    y: np.ndarray             # float64[ch, max_block]: output block
    work: np.ndarray          # float64[ch, max_block]: the processed path
    key: np.ndarray           # float64[ch, max_block]: detector input scratch
    gains: np.ndarray         # float64[4, 2]: (start, end) linear gain of the current segment
    dry_line: np.ndarray      # float64[ch, pow2]: dry delay line (latency alignment)
    dry_pos: np.ndarray       # int64[1]
    dry_tap: np.ndarray       # float64[4]: its crossfading tap (engine/dsp.py tap_*)
    sc_line: np.ndarray       # float64[max(sc, 1), pow2]: external key delayed by DRIFT's latency
    sc_pos: np.ndarray        # int64[1]
    fades: np.ndarray         # float64[2]: bypass fade at segment (start, end)
    listen: np.ndarray        # float64[L_LEN, 2]: each listen choice's weight at segment (start, end)
    mon_take: np.ndarray      # float64[ch, pow2]: drift/key listen, taken after DRIFT
    mon_out: np.ndarray       # float64[ch, pow2]: all three, taken after SETTLE
    mon_pos: np.ndarray       # int64[3]: write position (both lines), listen active, samples idle
    mon_key_z: np.ndarray     # float64[2, ch, 2]: the key listener's filter states
    meter_env: np.ndarray     # float64[4, ch]: in peak, in ms, out peak, out ms (linear)
    meter_seq: np.ndarray     # int64[1]: seqlock word
    meter_data: np.ndarray    # float64[M.SIZE]: snapshot


class EngineState(NamedTuple):
    core: Core
    gate: GateState
    drift: DriftState
    settle: SettleState
    match: MatchState
    limiter: LimiterState


# gains rows; row G_DB holds the dB values (in, out) the end gains were computed from
G_IN, G_OUT, G_DB = 0, 1, 2
# fades
F_BYPASS0, F_BYPASS1 = 0, 1
# listen choices (engine/params.py LISTEN_CHOICES) and the monitor lines' counters
L_OUT, L_DELTA, L_DRIFT, L_SETTLE, L_KEY = (LISTEN_CHOICES.index(n)
                                            for n in ("out", "delta", "drift", "settle", "key"))
L_LEN = len(LISTEN_CHOICES)
MON_POS, MON_ACTIVE, MON_IDLE = 0, 1, 2


def alloc(samplerate: float, channels: int, sidechain_channels: int, max_block: int) -> EngineState:
    """Every array the audio thread will touch, allocated once (rule 3)."""
    sr = float(samplerate)
    hdr, slots = ring_alloc(4096)
    line = pow2_at_least(int(math.ceil(MAX_LATENCY_MS * 1e-3 * sr)) + 2)
    sc_len = pow2_at_least(int(drift_latency(sr, DRIFT_LOOKAHEAD_MAX_MS)) + CONTROL_BLOCK + 2)
    meter_seq, meter_data = M.alloc()
    cfg = np.zeros(CFG_LEN)
    cfg[CFG_SR], cfg[CFG_CH], cfg[CFG_SC], cfg[CFG_MAXBLOCK] = sr, channels, sidechain_channels, max_block
    core = Core(
        cfg=cfg, ring_hdr=hdr, ring_slots=slots,
        p_target=DEFAULTS.copy(), p_cur=DEFAULTS.copy(),
        smooth_mask=SMOOTH_MASK.copy(), snap_eps=SNAP_EPS.copy(),
        counters=np.zeros(CNT_LEN, np.int64),
        x=np.zeros((channels + sidechain_channels, max_block)),
        y=np.zeros((channels, max_block)),
        work=np.zeros((channels, max_block)),
        key=np.zeros((channels, max_block)),
        gains=np.ones((4, 2)),
        dry_line=np.zeros((channels, line)), dry_pos=np.zeros(1, np.int64), dry_tap=np.zeros(4),
        sc_line=np.zeros((max(sidechain_channels, 1), sc_len)), sc_pos=np.zeros(1, np.int64),
        fades=np.zeros(2),
        listen=np.zeros((L_LEN, 2)),
        mon_take=np.zeros((channels, line)), mon_out=np.zeros((channels, line)),
        mon_pos=np.zeros(3, np.int64), mon_key_z=np.zeros((2, channels, 2)),
        meter_env=np.zeros((4, channels)),
        meter_seq=meter_seq, meter_data=meter_data,
    )
    S = EngineState(core=core,
                    gate=gate_alloc(sr, channels, max_block),
                    drift=drift_alloc(sr, channels, max_block),
                    settle=settle_alloc(sr, channels, max_block),
                    match=match_alloc(sr, channels, max_block),
                    limiter=limiter_alloc(sr, channels, max_block))
    reset(S)
    return S


@njit(cache=True)
def total_latency(samplerate, lookahead_ms, drift_lookahead_ms):
    """Total algorithmic latency in samples: DRIFT's lookahead + SETTLE's + the limiter's."""
    return drift_latency(samplerate, drift_lookahead_ms) + settle_latency(samplerate, lookahead_ms) + \
        limiter_latency(samplerate)


@njit(cache=True, error_model="numpy")
def reset(S):
    """Clear all signal state; parameters keep their values and jump to target.
    Also run by `process` before the first sample after construction or reset,
    so values set before any audio apply from the first sample."""
    c = S.core
    for i in range(c.p_cur.shape[0]):   # a loop: a slice copy compiles shape-error messages
        c.p_cur[i] = c.p_target[i]
    c.counters[:] = 0
    c.dry_line[:] = 0.0
    c.dry_pos[0] = 0
    c.sc_line[:] = 0.0
    c.sc_pos[0] = 0
    c.fades[F_BYPASS0] = c.fades[F_BYPASS1] = c.p_cur[PID.bypass]
    c.listen[:] = 0.0
    c.listen[int(c.p_cur[PID.listen]), :] = 1.0
    _mon_clear(c)
    c.meter_env[:] = 0.0
    gate_reset(S.gate)
    drift_reset(S.drift, c.p_cur)
    settle_reset(S.settle)
    sr = c.cfg[CFG_SR]
    match_reset(S.match, sr)
    limiter_reset(S.limiter)
    c.gains[G_IN, 1] = db_to_lin(c.p_cur[PID.input_gain])
    c.gains[G_OUT, 1] = db_to_lin(c.p_cur[PID.output_gain])
    c.gains[G_DB, 0] = c.p_cur[PID.input_gain]
    c.gains[G_DB, 1] = c.p_cur[PID.output_gain]
    c.cfg[CFG_GLIDE] = onepole_coeff(PARAM_GLIDE_MS, sr, CONTROL_BLOCK)
    c.cfg[CFG_METER_A] = onepole_coeff(METER_RMS_MS, sr, 1.0)
    c.counters[CNT_LATENCY] = total_latency(sr, c.p_cur[PID.lookahead], c.p_cur[PID.drift_lookahead])
    tap_reset(c.dry_tap, float(c.counters[CNT_LATENCY] - limiter_latency(sr)))


@njit(**KERNEL)
def _control_tick(S):
    """Every CONTROL_BLOCK samples: glide parameters, recompute stage coefficients."""
    c = S.core
    sr = c.cfg[CFG_SR]
    a = c.cfg[CFG_GLIDE]
    p, t = c.p_cur, c.p_target
    for i in range(p.shape[0]):
        if c.smooth_mask[i] == 0.0:
            p[i] = t[i]
        else:
            d = t[i] - p[i]
            if abs(d) <= c.snap_eps[i]:
                p[i] = t[i]
            else:
                p[i] += a * d
    for g in range(2):
        c.gains[g, 0] = c.gains[g, 1]
    # the exps only when a gain moved
    if p[PID.input_gain] != c.gains[G_DB, 0]:
        c.gains[G_DB, 0] = p[PID.input_gain]
        c.gains[G_IN, 1] = db_to_lin(p[PID.input_gain])
    if p[PID.output_gain] != c.gains[G_DB, 1]:
        c.gains[G_DB, 1] = p[PID.output_gain]
        c.gains[G_OUT, 1] = db_to_lin(p[PID.output_gain])
    gate_control(S.gate, p, sr)
    drift_control(S.drift, p, sr)
    settle_control(S.settle, p, sr)
    match_control(S.match, p)
    limiter_control(S.limiter, p, sr)
    lat = total_latency(sr, p[PID.lookahead], p[PID.drift_lookahead])
    c.counters[CNT_LATENCY] = lat
    # the dry tap (the mix's delay, before the limiter) moves with the same
    # crossfade, on the same tick, as SETTLE's lookahead tap
    tap_control(c.dry_tap, float(lat - limiter_latency(sr)), CONTROL_BLOCK * 1000.0 / (XFADE_MS * sr))
    step = CONTROL_BLOCK * 1000.0 / (OUT_FADE_MS * sr)
    f = c.fades
    f[F_BYPASS0] = f[F_BYPASS1]
    f[F_BYPASS1] = fade_switch(f[F_BYPASS1], p[PID.bypass], step)
    lw = c.listen
    for m in range(L_LEN):
        lw[m, 0] = lw[m, 1]
        lw[m, 1] = fade_switch(lw[m, 1], 1.0 if int(p[PID.listen]) == m else 0.0, step)
    if lw[L_DRIFT, 0] + lw[L_SETTLE, 0] + lw[L_KEY, 0] + lw[L_DRIFT, 1] + lw[L_SETTLE, 1] + \
            lw[L_KEY, 1] != 0.0:
        c.mon_pos[MON_ACTIVE] = 1
        c.mon_pos[MON_IDLE] = 0
    elif c.mon_pos[MON_ACTIVE] != 0:
        # idle: once what was taken has left the lines, clear them and stop
        c.mon_pos[MON_IDLE] += CONTROL_BLOCK
        if c.mon_pos[MON_IDLE] > c.mon_take.shape[1] + c.mon_out.shape[1]:
            _mon_clear(c)


@njit(**KERNEL)
def _ramp(gains, row, phase, i):
    g0 = gains[row, 0]
    g1 = gains[row, 1]
    if g0 == g1:
        return g1
    return g0 + (g1 - g0) * ((phase + i + 1) / CONTROL_BLOCK)


@njit(**KERNEL)
def _segment(S, start, count, phase):
    c = S.core
    nch = c.y.shape[0]
    nsc = c.sc_line.shape[0] if c.cfg[CFG_SC] > 0 else 0
    p = c.p_cur
    x, w, key = c.x, c.work, c.key
    external = p[PID.sidechain] >= 0.5
    for ch in range(nch):
        for i in range(count):
            w[ch, start + i] = x[ch, start + i] * _ramp(c.gains, G_IN, phase, i)
    if gate_active(S.gate):
        if not external:
            gate_process(S.gate, p, w, w, start, count, phase)   # keyed on its own input
        else:
            # the external key as it arrives (GATE runs before DRIFT)
            for ch in range(nch):
                for i in range(start, start + count):
                    key[ch, i] = x[nch + min(ch, nsc - 1), i] if nsc > 0 else 0.0
            gate_process(S.gate, p, w, key, start, count, phase)
    drift_process(S.drift, p, w, start, count, phase)
    _settle_key(S, start, count, phase, external, nch, nsc)
    listening = c.mon_pos[MON_ACTIVE] != 0
    if listening:
        _listen_take(S, start, count, phase)
    settle_process(S.settle, p, w, key, start, count, phase)
    if listening:
        _listen_settle(S, start, count, phase)
    _mix(S, start, count, phase)
    match_process(S.match, x, w, start, count, phase)
    limiter_process(S.limiter, p, w, start, count, phase)
    _monitor(S, start, count, phase)


@njit(**KERNEL)
def _settle_key(S, start, count, phase, external, nch, nsc):
    """SETTLE's key: DRIFT's output, or the external key delayed by DRIFT's
    lookahead tap (crossfading with it) so it stays aligned with the main path
    DRIFT delayed. A mono key feeds every channel."""
    c = S.core
    key, w = c.key, c.work
    if nsc > 0:
        line = c.sc_line
        mask = line.shape[1] - 1
        pos = c.sc_pos[0]
        for i in range(count):
            for k in range(nsc):
                line[k, (pos + i) & mask] = c.x[nch + k, start + i]
            if external:
                r = (phase + i + 1) / CONTROL_BLOCK
                for ch in range(nch):
                    key[ch, start + i] = tap_read(line, S.drift.tap, min(ch, nsc - 1), pos + i, r, mask)
        c.sc_pos[0] = pos + count
    if not external:
        for ch in range(nch):
            for i in range(start, start + count):
                key[ch, i] = w[ch, i]
    elif nsc == 0:
        for ch in range(nch):
            for i in range(start, start + count):
                key[ch, i] = 0.0


@njit(**KERNEL)
def _mon_clear(c):
    c.mon_take[:] = 0.0
    c.mon_out[:] = 0.0
    c.mon_key_z[:] = 0.0
    c.mon_pos[MON_ACTIVE] = 0
    c.mon_pos[MON_IDLE] = 0


@njit(**KERNEL)
def _listen_take(S, start, count, phase):
    """After DRIFT (and SETTLE's key): what DRIFT added and the filtered key,
    each faded by its listen weight, into mon_take."""
    c = S.core
    nch = c.y.shape[0]
    lw = c.listen
    mask = c.mon_take.shape[1] - 1
    pos = c.mon_pos[MON_POS]
    for i in range(count):
        r = (phase + i + 1) / CONTROL_BLOCK
        wd = lw[L_DRIFT, 0] + (lw[L_DRIFT, 1] - lw[L_DRIFT, 0]) * r
        wk = lw[L_KEY, 0] + (lw[L_KEY, 1] - lw[L_KEY, 0]) * r
        for ch in range(nch):
            v = 0.0
            if wd != 0.0:
                v = wd * (c.work[ch, start + i] - drift_delayed_input(S.drift, ch, i, count))
            if wk != 0.0:
                v += wk * settle_key_filters(S.settle, c.mon_key_z, ch, c.key[ch, start + i])
            c.mon_take[ch, (pos + i) & mask] = v
    if lw[L_KEY, 0] == 0.0 and lw[L_KEY, 1] == 0.0:
        c.mon_key_z[:] = 0.0


@njit(**KERNEL)
def _listen_settle(S, start, count, phase):
    """After SETTLE: mon_take delayed by SETTLE's lookahead (its own tap), plus
    what SETTLE removed (its delayed input − its output before makeup), into
    mon_out."""
    c = S.core
    nch = c.y.shape[0]
    lw = c.listen
    mask = c.mon_out.shape[1] - 1
    pos = c.mon_pos[MON_POS]
    c.mon_pos[MON_POS] = pos + count
    for i in range(count):
        r = (phase + i + 1) / CONTROL_BLOCK
        ws = lw[L_SETTLE, 0] + (lw[L_SETTLE, 1] - lw[L_SETTLE, 0]) * r
        unmake = 1.0
        if ws != 0.0:
            unmake = fast_exp2(-LOG2_10_OVER_20 * settle_makeup_db(S.settle, i, phase))
        for ch in range(nch):
            v = tap_read(c.mon_take, S.settle.tap, ch, pos + i, r, mask)
            if ws != 0.0:
                v += ws * (settle_delayed_input(S.settle, ch, i, count, phase)
                           - c.work[ch, start + i] * unmake)
            c.mon_out[ch, (pos + i) & mask] = v


@njit(**KERNEL)
def _dry_taps(c, ch, pos, i, lim, r, mask):
    """The dry line read at the mix's delay and at the total latency (`lim`
    samples later), each crossfaded while the delay moves (engine/dsp.py tap_*)."""
    line = c.dry_line
    tap = c.dry_tap
    d_cur = np.int64(tap[1])
    pre = line[ch, (pos + i - d_cur) & mask]
    total = line[ch, (pos + i - d_cur - lim) & mask]
    if tap[2] < 1.0 or tap[3] < 1.0:
        d_prev = np.int64(tap[0])
        wt = tap[2] + (tap[3] - tap[2]) * r
        pre = wt * pre + (1.0 - wt) * line[ch, (pos + i - d_prev) & mask]
        total = wt * total + (1.0 - wt) * line[ch, (pos + i - d_prev - lim) & mask]
    return pre, total


@njit(**KERNEL)
def _mix(S, start, count, phase):
    """Mix with the aligned dry signal and apply the output gain, into the work
    block the limiter then takes (dry = raw input delayed by the processed
    path's latency up to the limiter, crossfaded when it changes):
        y = ((1 − m)·dry + m·wet)·g_out        (m = 0 gives dry·g_out exactly)"""
    c = S.core
    nch = c.y.shape[0]
    line = c.dry_line
    mask = line.shape[1] - 1
    pos = c.dry_pos[0]
    m = c.p_cur[PID.mix] * 0.01
    for ch in range(nch):
        for i in range(count):
            line[ch, (pos + i) & mask] = c.x[ch, start + i]
    if m == 1.0:
        # fully wet (the common case): the dry line is only written
        for ch in range(nch):
            for i in range(count):
                c.work[ch, start + i] *= _ramp(c.gains, G_OUT, phase, i)
        return
    lim = limiter_latency(c.cfg[CFG_SR])
    for i in range(count):
        r = (phase + i + 1) / CONTROL_BLOCK
        g_out = _ramp(c.gains, G_OUT, phase, i)
        for ch in range(nch):
            dry = _dry_taps(c, ch, pos, i, lim, r, mask)[0]
            y = dry if m == 0.0 else (1.0 - m) * dry + m * c.work[ch, start + i]
            c.work[ch, start + i] = y * g_out


@njit(**KERNEL)
def _monitor(S, start, count, phase):
    """Listen and bypass on the limited output (monitoring: not limited), with
    the dry signal at the total latency:
        out:    y = out
        delta:  y = out − dry·g_out            (what Uplift adds or removes)
        drift, settle, key: mon_out read the limiter's latency behind
        bypass: y = (1 − b)·y + b·dry          (b = 1 gives dry exactly)."""
    c = S.core
    nch = c.y.shape[0]
    f = c.fades
    lw = c.listen
    b0, b1 = f[F_BYPASS0], f[F_BYPASS1]
    pos = c.dry_pos[0]
    c.dry_pos[0] = pos + count
    listening = c.mon_pos[MON_ACTIVE] != 0
    if b0 == 0.0 and b1 == 0.0 and lw[L_OUT, 0] == 1.0 and lw[L_OUT, 1] == 1.0 and not listening:
        for ch in range(nch):
            for i in range(count):
                c.y[ch, start + i] = c.work[ch, start + i]
        return
    mask = c.dry_line.shape[1] - 1
    lim = limiter_latency(c.cfg[CFG_SR])
    mmask = c.mon_out.shape[1] - 1
    mpos = c.mon_pos[MON_POS] - count - lim
    for i in range(count):
        r = (phase + i + 1) / CONTROL_BLOCK
        g_out = _ramp(c.gains, G_OUT, phase, i)
        b = b0 + (b1 - b0) * r
        wo = lw[L_OUT, 0] + (lw[L_OUT, 1] - lw[L_OUT, 0]) * r
        e = lw[L_DELTA, 0] + (lw[L_DELTA, 1] - lw[L_DELTA, 0]) * r
        for ch in range(nch):
            dry = _dry_taps(c, ch, pos, i, lim, r, mask)[1]
            if b == 1.0:
                y = dry
            else:
                y = c.work[ch, start + i]
                if wo + e != 1.0:
                    y *= wo + e
                if e != 0.0:
                    y -= e * dry * g_out
                if listening:
                    y += c.mon_out[ch, (mpos + i) & mmask]
                if b != 0.0:
                    y = (1.0 - b) * y + b * dry
            c.y[ch, start + i] = y


@njit(inline="always")
def process(S, n):
    """Process S.core.x[:, :n] into S.core.y[:, :n] (n <= max_block).

    Inlined into the block loop of the native entry (engine/native.py), its only
    caller: a call passes the whole state S flattened, several hundred words,
    and cost ~0.5 µs per block, about 15 % of the chain at 32-frame blocks.
    Inlined by Numba (its body is a short loop of calls, which LLVM then
    inlines), so it is not also built on its own: 2.5 CPU-s off the first build."""
    c = S.core
    ring_drain(c.ring_hdr, c.ring_slots, c.p_target, NUM_PARAMS)
    if c.counters[CNT_SAMPLES] == 0:
        # nothing processed yet: what was set so far is where the audio starts,
        # not the end of a glide from the defaults (product.md, rule 6)
        reset(S)
    pos = np.int64(0)   # not a literal: one compiled _segment for every call
    while pos < n:
        phase = c.counters[CNT_PHASE]
        if phase == 0:
            _control_tick(S)
        seg = min(n - pos, CONTROL_BLOCK - phase)
        _segment(S, pos, seg, phase)
        c.counters[CNT_PHASE] = (phase + seg) % CONTROL_BLOCK
        pos += seg
    c.counters[CNT_SAMPLES] += n
    c.counters[CNT_BLOCKS] += 1
    _publish_meters(S, n)


@njit(**KERNEL)
def _publish_meters(S, n):
    c = S.core
    sr = c.cfg[CFG_SR]
    nch = c.y.shape[0]
    a_rms = c.cfg[CFG_METER_A]
    fall = fast_exp2(-n * 1000.0 / (METER_PEAK_FALL_MS * sr * math.log(2.0)))
    env = c.meter_env
    if nch == 2:
        # both channels in one loop: four independent mean-square recursions
        # overlap instead of running one after the other (same values)
        pin0, pout0, msin0, msout0 = env[0, 0] * fall, env[2, 0] * fall, env[1, 0], env[3, 0]
        pin1, pout1, msin1, msout1 = env[0, 1] * fall, env[2, 1] * fall, env[1, 1], env[3, 1]
        for i in range(n):
            a0 = abs(c.x[0, i])
            b0 = abs(c.y[0, i])
            a1 = abs(c.x[1, i])
            b1 = abs(c.y[1, i])
            pin0 = a0 if a0 > pin0 else pin0
            pout0 = b0 if b0 > pout0 else pout0
            pin1 = a1 if a1 > pin1 else pin1
            pout1 = b1 if b1 > pout1 else pout1
            msin0 += a_rms * (a0 * a0 - msin0)
            msout0 += a_rms * (b0 * b0 - msout0)
            msin1 += a_rms * (a1 * a1 - msin1)
            msout1 += a_rms * (b1 * b1 - msout1)
        env[0, 0], env[1, 0], env[2, 0], env[3, 0] = pin0, msin0, pout0, msout0
        env[0, 1], env[1, 1], env[2, 1], env[3, 1] = pin1, msin1, pout1, msout1
    else:
        for ch in range(nch):
            pin = env[0, ch] * fall
            pout = env[2, ch] * fall
            msin = env[1, ch]
            msout = env[3, ch]
            for i in range(n):
                a = abs(c.x[ch, i])
                b = abs(c.y[ch, i])
                if a > pin:
                    pin = a
                if b > pout:
                    pout = b
                msin += a_rms * (a * a - msin)
                msout += a_rms * (b * b - msout)
            env[0, ch], env[1, ch], env[2, ch], env[3, ch] = pin, msin, pout, msout
    d = c.meter_data
    seqlock_write_begin(c.meter_seq)
    for ch in range(nch):
        d[M.IN_PEAK + ch] = fast_lin_to_db(env[0, ch])
        d[M.IN_RMS + ch] = fast_power_to_db(env[1, ch])
        d[M.OUT_PEAK + ch] = fast_lin_to_db(env[2, ch])
        d[M.OUT_RMS + ch] = fast_power_to_db(env[3, ch])
    d[M.SETTLE_GR] = settle_meter_gr_db(S.settle)
    d[M.GATE_GR] = gate_meter_gr_db(S.gate)
    dr = S.drift
    for b in range(dr.lift_db.shape[0]):
        d[M.DRIFT_LIFT + b] = dr.lift_db[b]
        d[M.DRIFT_HEAT + b] = dr.heat[b]
        d[M.DRIFT_LEVEL + b] = dr.guard_db[b]
        d[M.DRIFT_FLOOR + b] = min(dr.floor_db[b], 0.0) if dr.floor_db[b] < 1e6 else -240.0
    d[M.DRIFT_GUARDED] = dr.misc[DRIFT_M_GUARDED]
    d[M.DETECTOR] = settle_meter_detector_db(S.settle)
    d[M.MATCH] = match_meter_db(S.match)
    d[M.MATCH_IN_LUFS] = match_meter_lufs(S.match, 0)
    d[M.MATCH_OUT_LUFS] = match_meter_lufs(S.match, 1)
    d[M.LATENCY] = c.counters[CNT_LATENCY]
    d[M.SAMPLES] = c.counters[CNT_SAMPLES]
    seqlock_write_end(c.meter_seq)
