"""The engine is built once per source version and never runs stale (product.md, "Start-up").

The suite's own processes share one build (make test builds it first); these
tests copy the sources elsewhere, as a second clone would be, and check that
the copy finds the same build, that an edited stage gets a build of its own,
and that a warm start loads every native function instead of compiling it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np

from engine import build, native

ROOT = build.ROOT


def _clone(dst) -> str:
    """The project's Python sources copied to `dst` (as a second checkout)."""
    for d in ("engine", "app"):
        shutil.copytree(os.path.join(ROOT, d), os.path.join(dst, d),
                        ignore=shutil.ignore_patterns("__pycache__"))
    return str(dst)


def _python(cwd, code: str, env=None) -> str:
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def test_build_key_is_the_sources_content_not_their_place(tmp_path):
    clone = _clone(tmp_path / "clone")
    assert build.build_key(clone) == build.build_key()
    # editing a file that is not compiled keeps the build
    with open(os.path.join(clone, "app", "render.py"), "a") as f:
        f.write("\n# a comment\n")
    assert build.build_key(clone) == build.build_key()
    # editing a stage, or a native host, is a new build
    for rel in ("engine/limiter.py", "app/hosts/jack.py"):
        path = os.path.join(clone, rel)
        with open(path) as f:
            text = f.read()
        with open(path, "a") as f:
            f.write("\n# changed\n")
        assert build.build_key(clone) != build.build_key(), rel
        with open(path, "w") as f:
            f.write(text)
    assert build.build_key(clone) == build.build_key()


def test_cache_folder_does_not_name_the_checkout():
    assert ROOT not in build.CACHE_DIR
    assert os.path.basename(build.CACHE_DIR) == build.build_key()


def test_a_second_clone_starts_warm_and_loads_everything(tmp_path):
    """A clone elsewhere uses the build this checkout made: every native callback
    and the engine entry come from the cache (nothing compiled), in well under
    the 2 CPU-s start-up budget."""
    clone = _clone(tmp_path / "clone")
    out = _python(clone, """
        import time
        from engine import Engine, build, native
        from app.hosts import jack as jack_host, portaudio as pa_host
        e = Engine(48000, 2, 0, 256)
        hits = [f.get()._cache_hits for f in (native.entry, jack_host.jack_process,
                                              pa_host.pa_callback, jack_host.player_process)]
        print(build.CACHE_DIR, hits, time.process_time())
    """)
    cache_dir, rest = out.split(" ", 1)
    assert cache_dir == build.CACHE_DIR
    hits, cpu = rest.rsplit(" ", 1)
    assert hits.strip() == "[1, 1, 1, 1]"
    assert float(cpu) < 4.0, f"warm start took {cpu} CPU-s"


def test_an_edited_stage_never_runs_stale(tmp_path):
    """The same cache root, a clone whose input limit is edited from 1e4 to 0.125:
    the edit takes effect (its own build), and this checkout still runs its own."""
    clone = _clone(tmp_path / "clone")
    path = os.path.join(clone, "engine", "chain.py")
    with open(path) as f:
        text = f.read()
    assert "INPUT_LIMIT = 1.0e4" in text
    with open(path, "w") as f:
        f.write(text.replace("INPUT_LIMIT = 1.0e4", "INPUT_LIMIT = 0.125"))
    code = """
        import numpy as np
        from engine import Engine, build
        e = Engine(48000, 1, 0, 64)
        e.set("bypass", 1)
        e.reset()
        print(build.CACHE_DIR, float(e.process(np.full((500, 1), 0.5, np.float32))[-1, 0]))
    """
    edited_dir, edited = _python(clone, code).split()
    shutil.rmtree(edited_dir, ignore_errors=True)
    assert edited_dir != build.CACHE_DIR
    assert float(edited) == 0.125
    own_dir, own = _python(ROOT, code).split()
    assert own_dir == build.CACHE_DIR
    assert float(own) == 0.5


def test_entry_runs_every_layout_from_one_build():
    """One compiled entry serves any channel count, sidechain and block size: the
    state's type fixes dtypes and ranks only."""
    from engine import Engine
    for ch, sc, block in ((1, 0, 16), (2, 2, 4096)):
        e = Engine(44100, ch, sc, block)
        assert native.state_type(e.state) == native.STATE_TYPE
        y = e.process(np.zeros((100, ch + sc), np.float32))
        assert y.shape == (100, ch) and not y.any()
