"""`uplift render` loses nothing and is in time (product.md, "Command line": render).

Real files and real `uplift render` processes: an input is never overwritten
however OUT is spelled, an existing file only with --force, signals leave no
temporary file, modes follow the umask, output is aligned with the input by
default, batches equal single renders, a truncated input is said, a failed
write is one line naming OUT.
"""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from engine import Engine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _uplift(*args, cwd=None, preexec=None, **kw):
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], cwd=cwd or ROOT,
                          capture_output=True, text=True, timeout=300, preexec_fn=preexec, **kw)


def _noise(path, seconds=1.0, subtype="FLOAT", sr=48000, seed=0):
    rng = np.random.default_rng(seed)
    x = np.clip(rng.standard_normal((int(seconds * sr), 2)) * 0.2, -0.99, 0.99).astype(np.float32)
    sf.write(path, x, sr, subtype=subtype)
    return x


def _temps(folder):
    return [n for n in os.listdir(folder) if n.startswith(".uplift-render-")]


def test_output_is_never_an_input_however_spelled(tmp_path):
    src = tmp_path / "take.wav"
    _noise(src)
    before = src.read_bytes()
    os.link(src, tmp_path / "hard.wav")
    os.symlink(src, tmp_path / "soft.wav")
    (tmp_path / "sub").mkdir()
    for out in (src, tmp_path / "hard.wav", tmp_path / "soft.wav", tmp_path / "sub" / ".." / "take.wav",
                "take.wav"):
        r = _uplift("render", src, out, "--force", cwd=tmp_path)
        assert r.returncode == 1, out
        assert "refusing to write over the input" in r.stderr and r.stderr.count("\n") == 1
        assert src.read_bytes() == before
    assert not _temps(tmp_path)


def test_existing_output_needs_force_and_keeps_its_mode(tmp_path):
    src, out = tmp_path / "in.wav", tmp_path / "out.wav"
    _noise(src)
    out.write_bytes(b"precious")
    os.chmod(out, 0o640)
    r = _uplift("render", src, out)
    assert r.returncode == 1 and "exists; use --force" in r.stderr
    assert out.read_bytes() == b"precious"
    assert _uplift("render", src, out, "--force").returncode == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert sf.info(out).frames == sf.info(src).frames


def test_new_files_follow_the_umask(tmp_path):
    src = tmp_path / "in.wav"
    _noise(src)
    for mask, mode in ((0o022, 0o644), (0o027, 0o640)):
        out = tmp_path / f"out{mask:o}.wav"
        r = _uplift("render", src, out, preexec=lambda m=mask: os.umask(m))
        assert r.returncode == 0, r.stderr
        assert stat.S_IMODE(out.stat().st_mode) == mode


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_signals_mid_render_leave_nothing(tmp_path, sig):
    src, out = tmp_path / "long.wav", tmp_path / "out.wav"
    _noise(src, seconds=240, subtype="PCM_16")
    p = subprocess.Popen([sys.executable, "-m", "app", "render", str(src), str(out)], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not _temps(tmp_path):          # rendering has begun: its temporary file exists
        assert p.poll() is None and time.monotonic() < deadline, p.communicate()
        time.sleep(0.01)
    p.send_signal(sig)
    assert p.wait(timeout=60) == 128 + sig
    assert sorted(os.listdir(tmp_path)) == ["long.wav"]


def test_output_is_aligned_with_the_input_by_default(tmp_path):
    """Same length as the input, sample for sample in time: the live output of the
    input followed by silence, advanced by the latency, bit for bit; with
    --live-alignment the live output itself."""
    src = tmp_path / "in.wav"
    x = _noise(src, seconds=0.5)
    values = {"lookahead": 2.0, "amount": 70.0}
    sets = [a for k, v in values.items() for a in ("--set", f"{k}={v}")]
    assert _uplift("render", src, tmp_path / "a.wav", *sets, "--block", 128).returncode == 0
    assert _uplift("render", src, tmp_path / "l.wav", *sets, "--block", 128,
                   "--live-alignment").returncode == 0
    eng = Engine(48000, 2, max_block=128)
    eng.update(values)
    lat = eng.latency_samples
    padded = np.concatenate([x, np.zeros((lat, 2), np.float32)])
    live = np.concatenate([eng.process(padded[i:i + 128]) for i in range(0, len(padded), 128)])
    aligned, _ = sf.read(tmp_path / "a.wav", dtype="float32", always_2d=True)
    kept, _ = sf.read(tmp_path / "l.wav", dtype="float32", always_2d=True)
    assert len(aligned) == len(x) == len(kept) and lat > 200
    assert np.array_equal(aligned, live[lat:])
    assert np.array_equal(kept, live[:len(x)])
    # a one-sample file is not lost to the latency
    one = tmp_path / "one.wav"
    sf.write(one, np.array([[0.5, 0.5]], np.float32), 48000, subtype="FLOAT")
    assert _uplift("render", one, tmp_path / "one_out.wav", "--set", "settle_on=0",
                   "--set", "drift_on=0").returncode == 0
    y, _ = sf.read(tmp_path / "one_out.wav", dtype="float32", always_2d=True)
    assert y.shape == (1, 2) and abs(y[0, 0] - 0.5) < 1e-6


def test_batch_with_jobs_equals_single_renders(tmp_path):
    ins = []
    for k in range(3):
        p = tmp_path / f"in{k}.wav"
        _noise(p, seconds=0.3 + 0.1 * k, seed=k)
        ins.append(p)
    r = _uplift("render", *ins, tmp_path / "out", "--jobs", 2, "--set", "amount=60")
    assert r.returncode == 0, r.stderr
    assert "rendered 3 of 3 files" in r.stdout and "realtime" in r.stdout
    assert r.stderr == ""                # no progress lines when stderr is not a terminal
    for p in ins:
        single = tmp_path / f"single_{p.name}"
        assert _uplift("render", p, single, "--set", "amount=60").returncode == 0
        a, _ = sf.read(tmp_path / "out" / p.name, dtype="float32")
        b, _ = sf.read(single, dtype="float32")
        assert np.array_equal(a, b)
    # an existing output anywhere in the batch: refused before anything is rendered
    (tmp_path / "out2").mkdir()
    (tmp_path / "out2" / "in1.wav").write_bytes(b"keep")
    r = _uplift("render", *ins, tmp_path / "out2")
    assert r.returncode == 1 and "in1.wav exists" in r.stderr
    assert sorted(os.listdir(tmp_path / "out2")) == ["in1.wav"]


def test_truncated_input_is_said_and_rendered(tmp_path):
    src, out = tmp_path / "cut.wav", tmp_path / "out.wav"
    _noise(src, seconds=1.0, subtype="PCM_16")
    data = src.read_bytes()
    src.write_bytes(data[: len(data) // 2])          # the header still promises 1 s
    r = _uplift("render", src, out)
    assert r.returncode == 0, r.stderr
    assert "truncated" in r.stderr and r.stderr.count("\n") == 1
    assert 0 < sf.info(out).frames < 48000


def test_failed_write_is_one_line_naming_out(tmp_path):
    """A write the system refuses (here a file size limit, as a full disk would):
    one line naming OUT, never the temporary file, and nothing left behind."""
    import resource
    src, out = tmp_path / "in.wav", tmp_path / "out.wav"
    _noise(src, seconds=5.0)

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
    r = _uplift("render", src, out, preexec=small_files)
    assert r.returncode == 1
    assert str(out) in r.stderr and ".uplift-render" not in r.stderr
    assert r.stderr.count("\n") == 1
    assert sorted(os.listdir(tmp_path)) == ["in.wav"]


def test_output_folder_problems_are_found_before_processing(tmp_path):
    src = tmp_path / "in.wav"
    _noise(src)
    r = _uplift("render", src, tmp_path / "missing" / "out.wav")
    assert r.returncode == 1 and "output folder does not exist" in r.stderr
    (tmp_path / "afile").write_bytes(b"x")
    r = _uplift("render", src, src, tmp_path / "afile")
    assert r.returncode == 1 and "is a file" in r.stderr


@pytest.mark.skipif("MP3" not in sf.available_formats(), reason="libsndfile without MP3")
def test_mp3_to_wav_takes_the_formats_default_and_says_so(tmp_path):
    src, out = tmp_path / "in.mp3", tmp_path / "out.wav"
    x = np.clip(np.random.default_rng(1).standard_normal((48000, 2)) * 0.1, -1, 1)
    sf.write(src, x.astype(np.float32), 48000, format="MP3")
    r = _uplift("render", src, out)
    assert r.returncode == 0, r.stderr
    assert sf.info(out).subtype == "PCM_16" and "MPEG_LAYER_III" in r.stdout


def test_write_errors_name_out_never_the_temporary_file():
    """A full disk and a read-only folder (which root cannot be given here) each
    make one line naming OUT or its folder."""
    import errno

    from app.render import _write_error
    tmp = "/music/.uplift-render-x1y2.wav"
    for code, needle in ((errno.ENOSPC, "no space left"), (errno.EROFS, "Read-only file system"),
                         (errno.EACCES, "Permission denied")):
        msg = str(_write_error(OSError(code, os.strerror(code), tmp), "/music/take.wav"))
        assert needle in msg and "/music" in msg and ".uplift-render" not in msg, msg
