"""Realtime rule 2, checked in the compiled code: the audio callbacks allocate nothing.

Every native callback the live backends hand to PortAudio/libjack is compiled
here and its LLVM IR (which includes the linked engine kernels:
process_interleaved, chain.process and every stage) is scanned for calls into
Numba's allocator (NRT_MemInfo_alloc*, NRT_Allocate*, ...), libc malloc, typed
containers, or the Python C-API / GIL. A deliberately allocating cfunc proves
the scan sees a real allocation.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
from numba import cfunc, types

from engine import Engine
from engine.native import make_entry

from app import jack_host as J
from app import pa_host as P

ALLOC = re.compile(
    r"@\"?("
    r"NRT_MemInfo_(alloc|new|varsize|calloc)\w*"
    r"|NRT_(Allocate|allocate|Reallocate)\w*"
    r"|malloc|calloc|realloc|posix_memalign|aligned_alloc"
    r"|numba_list_new\w*|numba_dict_new\w*"
    r")\b")
PYTHON = re.compile(r"@\"?(Py\w+|_Py\w+|numba_gil_ensure|numba_unpickle)\b")


def _calls(ir: str, pattern) -> dict[str, set[str]]:
    """{defining function: names matching `pattern` that it calls} over the IR."""
    found: dict[str, set[str]] = {}
    fn = "?"
    for line in ir.splitlines():
        if line.startswith("define"):
            m = re.search(r'@"?([\w.$]+)', line)
            fn = m.group(1) if m else "?"
            continue
        s = line.strip()
        if not re.search(r"(^|= )(tail |musttail |notail )?(call|invoke) ", s):
            continue
        callee = s.split("call ", 1)[-1] if "call " in s else s.split("invoke ", 1)[-1]
        for m in pattern.finditer(callee):
            found.setdefault(fn, set()).add(m.group(1))
    return found


def forbidden_calls(ir: str) -> set[str]:
    """Allocation calls anywhere, and Python C-API / GIL calls anywhere except in the
    cfunc wrapper itself (Numba's `cfunc.*` shim reports an exception the kernel
    raised as "unraisable" with the GIL: an error path that is never taken while
    the kernels raise nothing)."""
    bad = set()
    for names in _calls(ir, ALLOC).values():
        bad |= names
    for fn, names in _calls(ir, PYTHON).items():
        if not fn.startswith("cfunc."):
            bad |= {f"{n} (in {fn[:60]})" for n in names}
    return bad


LAYOUTS = ((2, 2),)   # stereo + sidechain: every code path of the callbacks


def _live_state(channels, sidechain, midi):
    eng = Engine(48000, channels, sidechain)
    host = J.host_alloc(channels, sidechain, midi)
    return eng, J.LiveState(engine=eng.state, host=host)


@pytest.fixture(scope="module")
def callbacks():
    keep = []
    out = {}
    for ch, sc in LAYOUTS:
        eng, ls = _live_state(ch, sc, True)
        keep.append((eng, ls))
        out[f"jack_process_{ch}ch_{sc}sc"] = J.make_process_cfunc(ls)
        out[f"portaudio_{ch}ch_{sc}sc"] = P.make_pa_cfunc(ls)
        out[f"engine_entry_{ch}ch_{sc}sc"] = make_entry(eng.state)
    out["jack_xrun"] = J.xrun_cb
    out["jack_shutdown"] = J.shutdown_cb
    out["jack_quiet"] = J.quiet_cb
    player = J.PlayerState(ports=np.zeros(2, np.int64), signal=np.zeros((16, 2), np.float32),
                           pos=np.zeros(2, np.int64), stats=np.zeros(J.ST_LEN, np.int64))
    unpack = J.make_unpack(player)

    @cfunc(J.PROCESS_SIG, nopython=True)
    def player_process(nframes, arg):
        return J.player_cycle(unpack(J.voidptr_to_int(arg)), nframes)

    out["demo_player"] = player_process
    yield out


CALLBACK_NAMES = ([f"{k}_{c}ch_{s}sc" for k in ("jack_process", "portaudio", "engine_entry")
                   for c, s in LAYOUTS]
                  + ["jack_xrun", "jack_shutdown", "jack_quiet", "demo_player"])


@pytest.mark.parametrize("name", CALLBACK_NAMES)
def test_callback_ir_has_no_allocation(callbacks, name):
    ir = callbacks[name].inspect_llvm()
    assert ir, "no IR"
    bad = forbidden_calls(ir)
    assert not bad, f"{name} calls {sorted(bad)} (rule 2: nothing in the callback allocates)"


def test_process_ir_includes_the_engine_kernels(callbacks):
    """The scan covers the whole callback, not just its shim: the linked IR defines
    the block driver and the chain kernel."""
    ir = callbacks["jack_process_2ch_2sc"].inspect_llvm()
    defined = re.findall(r"^define .*?@\"?([\w.$]+)", ir, re.M)
    assert any("process_interleaved" in d for d in defined)
    # the chain is inlined into the block loop; the parameter ring it drains first is not
    assert any("native" in d and "process_frames" in d for d in defined)
    assert any("ring_drain" in d for d in defined)


def test_scan_catches_a_real_allocation():
    @cfunc(types.float64(types.int64), nopython=True)
    def allocating(n):
        a = np.zeros(n)
        return a.sum()

    @cfunc(types.int64(types.int64), nopython=True)
    def list_building(n):
        acc = [0]
        for i in range(n):
            acc.append(i)
        return len(acc)

    assert any(x.startswith("NRT_MemInfo_alloc") for x in forbidden_calls(allocating.inspect_llvm()))
    assert forbidden_calls(list_building.inspect_llvm())


def test_scan_of_non_allocating_cfunc_is_clean():
    @cfunc(types.float64(types.float64), nopython=True)
    def pure(x):
        return x * 2.0 + 1.0

    assert not forbidden_calls(pure.inspect_llvm())
