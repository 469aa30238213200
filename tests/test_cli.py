"""`uplift` command line: params, render (bit-identity, formats, errors, report)."""
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from app.cli import main
from engine import Engine
from engine.params import PARAMS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tone(path, sr=48000, seconds=0.5, channels=2, subtype="PCM_24"):
    t = np.arange(int(sr * seconds)) / sr
    x = 0.3 * np.sin(2 * np.pi * 440 * t)[:, None] * np.ones(channels)
    x[: sr // 10] *= 0.01           # a quiet start for DRIFT to lift
    sf.write(path, x, sr, subtype=subtype)
    return x


def test_params_prints_every_parameter(capsys):
    assert main(["params"]) == 0
    out = capsys.readouterr().out
    for p in PARAMS:
        assert p.id in out


def test_render_keeps_format_and_matches_engine(tmp_path):
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    _tone(src, sr=44100, channels=2, subtype="PCM_24")
    assert main(["render", str(src), str(dst), "--set", "threshold=-30", "--set", "amount=60",
                 "--block", "256", "--live-alignment"]) == 0
    info = sf.info(dst)
    assert (info.samplerate, info.channels, info.subtype) == (44100, 2, "PCM_24")
    # Same settings and block size through the Python API: the same samples.
    x, _ = sf.read(src, dtype="float32", always_2d=True)
    eng = Engine(44100, 2, max_block=256)
    eng.set("threshold", -30)
    eng.set("amount", 60)
    ref = np.concatenate([eng.process(x[i:i + 256]) for i in range(0, len(x), 256)])
    got, _ = sf.read(dst, dtype="float32", always_2d=True)
    quantum = 2.0 ** -23        # PCM_24 step
    assert np.max(np.abs(got - ref)) <= quantum


def test_render_float_output_is_bit_identical(tmp_path):
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    _tone(src, channels=1, subtype="FLOAT")
    assert main(["render", str(src), str(dst), "--block", "64", "--live-alignment"]) == 0
    x, _ = sf.read(src, dtype="float32", always_2d=True)
    eng = Engine(48000, 1, max_block=64)
    ref = np.concatenate([eng.process(x[i:i + 64]) for i in range(0, len(x), 64)])
    got, _ = sf.read(dst, dtype="float32", always_2d=True)
    assert np.array_equal(got, ref)


def test_render_in_chunks_keeps_every_block_cut(tmp_path):
    """Files are read and processed in chunks of whole blocks: across several
    chunks, with a block size that does not divide the chunk size, the output is
    still bit-identical to feeding the engine block by block."""
    from app.render import CHUNK_FRAMES
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    rng = np.random.default_rng(2)
    x = (0.2 * rng.standard_normal((2 * CHUNK_FRAMES + 1234, 2))).astype(np.float32)
    sf.write(src, x, 48000, subtype="FLOAT")
    block = 100
    assert main(["render", str(src), str(dst), "--block", str(block), "--set", "amount=80",
                 "--live-alignment"]) == 0
    eng = Engine(48000, 2, max_block=block)
    eng.set("amount", 80)
    ref = np.concatenate([eng.process(x[i:i + block]) for i in range(0, len(x), block)])
    got, _ = sf.read(dst, dtype="float32", always_2d=True)
    assert np.array_equal(got, ref)


@pytest.mark.parametrize("args, message", [
    (["--set", "nope=1"], "unknown parameter 'nope'"),
    (["--set", "threshold=5"], "threshold: 5 is out of range"),
    (["--set", "ratio=nan"], "ratio"),
    (["--set", "detector=loud"], "detector"),
    (["--block", "0"], "--block"),
])
def test_render_bad_values_fail_cleanly_and_write_nothing(tmp_path, capsys, args, message):
    src, dst = tmp_path / "in.wav", tmp_path / "out.wav"
    _tone(src)
    assert main(["render", str(src), str(dst), *args]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("uplift: error:") and message in err and "\n" not in err
    assert not dst.exists()
    assert sorted(os.listdir(tmp_path)) == ["in.wav"]


def test_render_bad_files_fail_cleanly(tmp_path, capsys):
    missing = tmp_path / "missing.wav"
    assert main(["render", str(missing), str(tmp_path / "o.wav")]) != 0
    assert "not found" in capsys.readouterr().err
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 4)
    assert main(["render", str(junk), str(tmp_path / "o.wav")]) != 0
    assert "cannot read" in capsys.readouterr().err
    src = tmp_path / "in.wav"
    _tone(src)
    assert main(["render", str(src), str(tmp_path / "o.xyz")]) != 0
    assert "unsupported output format" in capsys.readouterr().err
    assert not (tmp_path / "o.wav").exists() and not (tmp_path / "o.xyz").exists()
    assert sorted(os.listdir(tmp_path)) == ["in.wav", "junk.wav"]


def test_render_report_png(tmp_path):
    src, dst, png = tmp_path / "in.wav", tmp_path / "out.flac", tmp_path / "r.png"
    _tone(src, seconds=1.0)
    assert main(["render", str(src), str(dst), "--report", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sf.info(dst).format == "FLAC"


def test_user_errors_never_print_a_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "app", "render", str(tmp_path / "none.wav"),
                        str(tmp_path / "o.wav")], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0


def test_an_unreachable_display_is_said_and_the_run_goes_headless(monkeypatch):
    """DISPLAY set but no X server behind it (a stale ssh -X): one line saying so,
    headless meters, exit 0, and no Qt abort; with a real X server (Xvfb) the
    display is found reachable."""
    import shutil
    import time

    from app.cli import display_problem
    env = dict(os.environ, DISPLAY=":97")
    env.pop("WAYLAND_DISPLAY", None)
    env.pop("QT_QPA_PLATFORM", None)
    r = subprocess.run([sys.executable, "-m", "app", "run", "--demo", "--duration", "1"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "DISPLAY=:97 cannot be reached" in r.stderr and "headless" in r.stderr
    assert "xcb" not in r.stderr and "Traceback" not in r.stderr
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":97")
    assert "cannot be reached" in display_problem()
    xvfb = shutil.which("Xvfb")
    assert xvfb, "make installs xvfb"
    proc = subprocess.Popen([xvfb, ":93", "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        monkeypatch.setenv("DISPLAY", ":93")
        for _ in range(100):
            if display_problem() is None:
                break
            time.sleep(0.05)
        assert display_problem() is None
    finally:
        proc.terminate()
        proc.wait(timeout=10)
