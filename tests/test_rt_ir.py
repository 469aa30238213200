"""Realtime rule 2, checked in the compiled code: the audio callbacks allocate nothing.

Every native callback the live backends hand to PortAudio/libjack, and the
engine entry they call by address (which holds chain.process and every stage,
inlined), is compiled here afresh -- code loaded from the build cache has no IR
to read -- and its LLVM IR is scanned for calls into Numba's allocator
(NRT_MemInfo_alloc*, NRT_Allocate*, ...), libc malloc, typed containers, or the
Python C-API / GIL. A deliberately allocating cfunc proves the scan sees a real
allocation.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
from numba import cfunc, types

from app.hosts import jack as J
from app.hosts import portaudio as P
from engine import native

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


def _fresh(native_function):
    """The callback compiled now with its own flags, not loaded from the build cache
    (which keeps machine code, no IR)."""
    return native_function.compile(cache=False)


@pytest.fixture(scope="module")
def callbacks():
    return {name: _fresh(cf) for name, cf in (
        ("engine_entry", native.entry), ("jack_process", J.jack_process),
        ("portaudio", P.pa_callback), ("demo_player", J.player_process),
        ("jack_xrun", J.xrun_cb), ("jack_shutdown", J.shutdown_cb), ("jack_quiet", J.quiet_cb),
        ("jack_latency", J.latency_cb))}


CALLBACK_NAMES = ["engine_entry", "jack_process", "portaudio", "demo_player",
                  "jack_xrun", "jack_shutdown", "jack_quiet", "jack_latency"]


@pytest.mark.parametrize("name", CALLBACK_NAMES)
def test_callback_ir_has_no_allocation(callbacks, name):
    ir = callbacks[name].inspect_llvm()
    assert ir, "no IR"
    bad = forbidden_calls(ir)
    assert not bad, f"{name} calls {sorted(bad)} (rule 2: nothing in the callback allocates)"


def test_entry_ir_holds_the_chain_and_hosts_call_it_by_address(callbacks):
    """The scan of the entry covers the whole chain: its stages are inlined into
    the one function (no call to a stage is left), so nothing the chain runs
    escapes the scan. The host callbacks do not link the chain in: they call the
    entry through the address in their links."""
    ir = callbacks["engine_entry"].inspect_llvm()
    called = set(re.findall(r"call [^@]*@\"?([\w.$]+)", ir))
    for stage in ("gate_process", "drift_process", "settle_process", "limiter_process",
                  "_segment", "_output", "_control_tick"):
        assert not any(stage in c for c in called), f"{stage} is called, not inlined"
    assert ir.count("\n") > 10000          # the whole chain is in there (~20,000 lines)
    for name in ("jack_process", "portaudio"):
        host_ir = callbacks[name].inspect_llvm()
        assert "drift" not in host_ir and host_ir.count("\n") < ir.count("\n") / 5


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
