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
    values = {"lookahead": 2.0, "amount": 70.0, "drift_lookahead": 3.0}
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


# ---------------------------------------------------------------- --report

def _sine(seconds=3.0, dbfs=-20.0, sr=48000, f=1000.0):
    t = np.arange(int(seconds * sr)) / sr
    return (10 ** (dbfs / 20) * np.sin(2 * np.pi * f * t)).astype(np.float32)


def _speechlike(seconds=12.0, sr=48000, seed=3):
    """Stereo bursts of filtered noise at several levels with pauses and a quiet
    floor: what the loudness gates and the noise floor have to sort out."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    x = rng.standard_normal((n, 2)) * 10 ** (-62 / 20)
    for k, start in enumerate(np.arange(0.5, seconds - 1.0, 1.3)):
        i, m = int(start * sr), int(0.8 * sr)
        env = np.sin(np.pi * np.arange(m) / m)[:, None]
        level = 10 ** ((-18 - 6 * (k % 4)) / 20)
        x[i:i + m] += rng.standard_normal((m, 2)) * env * level * np.array([1.0, 0.6])
    return x.astype(np.float32)


def test_report_numbers_of_a_known_sine(tmp_path):
    """A -20 dBFS 1 kHz sine: peak -20.0 dBFS, RMS -23.0 dBFS, the noise floor
    the same (every 50 ms window alike), loudness what pyloudnorm says."""
    import pyloudnorm

    from app.report import measure
    x = _sine()
    sf.write(tmp_path / "sine.wav", x, 48000, subtype="FLOAT")
    m = measure(str(tmp_path / "sine.wav"))
    assert m.peak_db == pytest.approx(-20.0, abs=0.005)
    assert m.rms_db == pytest.approx(-20.0 - 10 * np.log10(2), abs=0.005)
    assert round(m.rms_db, 1) == -23.0
    assert m.floor_db == pytest.approx(m.rms_db, abs=0.01)
    assert m.lufs == pytest.approx(pyloudnorm.Meter(48000).integrated_loudness(x.astype(np.float64)),
                                   abs=1e-9)
    assert -24.0 < m.lufs < -22.0
    assert m.frames == len(x) and len(m.envelope) > 1000
    assert np.allclose(m.envelope, 0.1, rtol=1e-3)        # peak envelope: 0.1 in every column


def test_report_loudness_in_blocks_equals_pyloudnorm(tmp_path):
    """A file too long for one array is measured a chunk at a time with
    pyloudnorm's own filters and gates: the same figure as pyloudnorm on the
    whole file, whatever the chunk size; the other figures do not change."""
    import pyloudnorm

    from app.report import measure
    x = _speechlike()
    path = str(tmp_path / "talk.wav")
    sf.write(path, x, 48000, subtype="FLOAT")
    expected = pyloudnorm.Meter(48000).integrated_loudness(x.astype(np.float64))
    whole = measure(path)
    assert whole.lufs == pytest.approx(expected, abs=1e-9)
    for chunk in (10007, 65536):
        streamed = measure(path, in_memory=0, chunk=chunk)
        assert streamed.lufs == pytest.approx(expected, abs=1e-6), chunk
        for key in ("peak_db", "rms_db", "floor_db"):
            assert getattr(streamed, key) == pytest.approx(getattr(whole, key), abs=1e-9)
        assert np.array_equal(streamed.envelope, whole.envelope)


def test_report_noise_floor_leaves_digital_silence_out(tmp_path):
    """Noise at -60 dBFS RMS for 4 s, speech-loud noise for 4 s, digital silence
    for 4 s: the floor is the quiet noise's level, not the silence's."""
    from app.report import measure
    rng = np.random.default_rng(5)
    sr = 48000
    quiet = rng.standard_normal(4 * sr) * 10 ** (-60 / 20)
    loud = rng.standard_normal(4 * sr) * 10 ** (-20 / 20)
    x = np.concatenate([quiet, loud, np.zeros(4 * sr)]).astype(np.float32)
    sf.write(tmp_path / "floor.wav", x, sr, subtype="FLOAT")
    m = measure(str(tmp_path / "floor.wav"))
    assert m.floor_db == pytest.approx(-60.0, abs=0.5)


def test_report_has_no_figure_for_silence_or_a_too_short_file(tmp_path):
    from app.report import measure
    sf.write(tmp_path / "silent.wav", np.zeros((48000, 2), np.float32), 48000)
    m = measure(str(tmp_path / "silent.wav"))
    assert (m.peak_db, m.rms_db, m.lufs, m.floor_db) == (None, None, None, None)
    sf.write(tmp_path / "short.wav", _sine(0.3), 48000)             # under one 400 ms block
    m = measure(str(tmp_path / "short.wav"))
    assert m.lufs is None and m.peak_db == pytest.approx(-20.0, abs=0.01)
    assert measure(str(tmp_path / "short.wav"), in_memory=0).lufs is None


def test_report_is_a_png_of_the_stated_size(tmp_path):
    import struct

    from app.report import HEIGHT, WIDTH
    src = tmp_path / "in.wav"
    sf.write(src, _speechlike(4.0), 48000, subtype="PCM_16")
    r = _uplift("render", src, tmp_path / "out.wav", "--preset", "Vocal tracking", "--report",
                tmp_path / "report.png")
    assert r.returncode == 0, r.stderr
    data = (tmp_path / "report.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    assert struct.unpack(">II", data[16:24]) == (WIDTH, HEIGHT)
    assert sorted(os.listdir(tmp_path)) == ["in.wav", "out.wav", "report.png"]


def test_report_numbers_come_from_the_render(tmp_path):
    """render() returns the report's numbers: IN and OUT measured from the
    files, and the largest SETTLE gain reduction the engine metered after any
    block of the render, the same as a live engine's meters for that input."""
    from app.render import render
    from app.report import measure
    x = _speechlike(3.0)[:, :1] * 4
    src, out = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(src, x, 48000, subtype="FLOAT")
    values = {"threshold": -30.0, "ratio": 8.0, "amount": 50.0}
    n = render(str(src), str(out), values, block=256, report_path=str(tmp_path / "r.png"))["report"]
    eng = Engine(48000, 1, max_block=256)
    eng.update(values)
    padded = np.concatenate([x, np.zeros((eng.latency_samples, 1), np.float32)])
    grs = []
    for i in range(0, len(padded), 256):
        eng.process(padded[i:i + 256])
        grs.append(eng.meters()["settle_gr_db"])
    assert n["max_gr_db"] == pytest.approx(float(np.max(grs)), abs=1e-9) and n["max_gr_db"] > 6
    mi, mo = measure(str(src)), measure(str(out))
    assert (n["in_peak_db"], n["in_lufs"], n["out_rms_db"], n["out_floor_db"]) == \
        (mi.peak_db, mi.lufs, mo.rms_db, mo.floor_db)
    assert n["out_peak_db"] < n["in_peak_db"]


def test_report_gain_reduction_scale_is_fixed(tmp_path):
    """0 dB at the panel's top, GR_MAX_DB at its bottom, whatever the file: a
    6 dB stretch is drawn at the same height beside 3 dB as beside 40 dB (which
    is drawn at the bottom and marked)."""
    from PyQt6.QtGui import QColor, QImage

    from app import report as R
    top, bottom = R.GR
    assert R.gr_y(0) == top and R.gr_y(R.GR_MAX_DB) == bottom
    assert R.gr_y(40) == bottom and R.gr_y(R.GR_MAX_DB / 2) == (top + bottom) / 2
    t = np.linspace(0.005, 9.995, 1000)
    lift = np.zeros((t.size, 40))
    env = np.full(R.PLOT_W, 0.1)
    rows = []
    for other in (3.0, 40.0):
        gr = np.where(t < 5, 6.0, other)
        path = str(tmp_path / f"gr{other:g}.png")
        numbers = R.report_numbers(_nothing(), _nothing(), float(gr.max()))
        R.draw_report(path, "test", 10.0, env, env, t, lift, gr, numbers)
        img = QImage(path)
        x = R.PLOT_LEFT + R.PLOT_W // 4
        line = [y for y in range(top, bottom + 1) if img.pixelColor(x, y) == QColor(R.GR_COLOUR)]
        rows.append(line)
        if other > R.GR_MAX_DB:
            xr = R.PLOT_LEFT + 3 * R.PLOT_W // 4
            assert img.pixelColor(xr, bottom - 2) == QColor(R.WARN)
    assert rows[0] and rows[0] == rows[1]
    assert abs(np.mean(rows[0]) - R.gr_y(6.0)) <= 1.5


def _nothing():
    from app.report import Measured
    return Measured(0, 48000, 1, None, None, None, None, np.zeros(1))


def test_report_time_ticks_are_round():
    from app.report import time_label, time_ticks
    for duration in (0.3, 1.0, 2.5, 4.0, 11.39, 37.0, 59.0, 95.0, 360.0, 3600.0, 5 * 3600.0):
        step, ticks = time_ticks(duration)
        assert 5 <= len(ticks) <= 13, (duration, ticks)
        assert ticks[0] == 0 and ticks[-1] <= duration + 1e-9
        if step < 60:
            mantissa = step / 10 ** np.floor(np.log10(step) + 1e-9)
            assert round(mantissa, 6) in (1, 2, 5), step
        else:
            assert step % 60 == 0
        labels = [time_label(v, step) for v in ticks]
        assert len(set(labels)) == len(labels), labels
    assert time_ticks(11.39) == (2.0, [0, 2, 4, 6, 8, 10])
    assert [time_label(v, 60) for v in time_ticks(360.0)[1]][-1] == "6:00"


def test_report_band_axis_is_labelled_at_round_frequencies():
    """Round frequencies at their place among the bands (1 kHz in the row of the
    band whose centre is nearest it), no two labels closer than a line, 100 Hz,
    1 kHz and 10 kHz always labelled."""
    from app import report as R
    from engine.drift_bank import band_centres
    c = band_centres()
    ticks = R.freq_ticks(c, 14.0)
    assert [f for f, _, _ in ticks] == sorted(R.FREQ_TICKS, reverse=True)
    labelled = [(f, y) for f, y, on in ticks if on]
    assert {100, 1000, 10000} <= {f for f, _ in labelled}
    ys = sorted(y for _, y in labelled)
    assert min(np.diff(ys)) >= 14.0
    y1k = dict((f, y) for f, y, _ in ticks)[1000]
    b = int(np.argmin(np.abs(c - 1000)))
    row = (R.LIFT[1] - R.LIFT[0]) / len(c)
    assert abs(y1k - R.band_y(b, len(c))) < row
    assert [R.freq_label(f) for f in (50, 500, 1000, 2000, 20000)] == ["50", "500", "1k", "2k", "20k"]
