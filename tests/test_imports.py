"""The code's layers (issue 18): engine/ stands alone, app/ builds on engine/,
ui/ on both; only app/cli.py, where the command line meets the window, imports
ui/. No module imports itself round a cycle, also through imports inside
functions."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "app", "ui")


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")
                    up = up[:len(up) - (node.level - 1)]
                    base = ".".join(up + ([base] if base else []))
                # `from pkg import mod` depends on pkg.mod, `from pkg import name` on pkg
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                           for a in node.names]
            for t in targets:
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t != name:
                    graph[name].add(t)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_layers():
    graph = _graph()
    for mod, deps in graph.items():
        top = mod.split(".")[0]
        for d in deps:
            dtop = d.split(".")[0]
            if top == "engine":
                assert dtop == "engine", f"{mod} imports {d}: the engine stands alone"
            if top == "app" and mod != "app.cli":
                assert dtop != "ui", f"{mod} imports {d}: only app.cli may import the GUI"


def test_the_graph_is_read():
    """The walk finds real edges (a test of the test)."""
    g = _graph()
    assert "engine.params" in g["engine.chain"] and "app.session.run" in g["ui.app"]
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]


def test_midi_controller_knows_no_devices():
    """The MIDI package's parser, mapping and controller work on bytes and
    parameters only; rtmidi ports, the reader threads and the poller build on them."""
    graph = _graph()
    pure = ("app.control.midi.parser", "app.control.midi.mapping", "app.control.midi.controller")
    devices = {"app.control.midi.ports", "app.control.midi.rtmidi_in", "app.control.midi.rtmidi_out",
               "app.control.midi.poller", "app.control.midi"}
    for mod in pure:
        assert not graph[mod] & devices, f"{mod} imports {graph[mod] & devices}"


def test_every_package_is_installed():
    """Each package directory is listed in pyproject.toml's [tool.setuptools]
    packages, or an installed uplift would lack it."""
    tomllib = pytest.importorskip("tomllib")
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {_module_name(p.parent / "__init__.py") for pkg in PACKAGES
             for p in (ROOT / pkg).rglob("__init__.py")}
    assert found - listed == set()


def test_every_session_kind_is_a_session():
    """The window, OSC and MIDI take any Session: the engine itself, a live
    stream, the demos."""
    from app.session import Session
    from app.session.demo import DemoSession
    from app.session.live import LiveSession
    from engine import Engine
    from ui.demo import EngineSession, OfflineDemoSession
    for cls in (Engine, LiveSession, DemoSession, EngineSession, OfflineDemoSession):
        missing = [m for m in ("set", "get", "values", "update", "meters", "latency_samples")
                   if not hasattr(cls, m)]
        assert not missing, f"{cls.__name__} lacks {missing}"
    assert isinstance(Engine(48000, 1, 0, 64), Session)
