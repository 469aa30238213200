"""`uplift render IN OUT`: a file through the same engine, block by block.

The file is read and written in chunks of about CHUNK_FRAMES frames, each
chunk handed whole to `Engine.process_into`: the native entry the live
callbacks run, which cuts it into blocks of `block` frames itself. A chunk is a
whole number of blocks, so the blocks are the same as live, and for the same
settings and block size the output is bit-identical to live. The output keeps the input's sample rate, channels and
(where the output format allows it) subtype, and is written to a temporary
file that replaces OUT only when everything succeeded: a failed render leaves
no partial file behind.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

import numpy as np
import soundfile as sf

from engine import Engine
from engine import meters as M

PROGRESS_MIN_SECONDS = 10.0   # shorter files render too fast for a bar to help
CHUNK_FRAMES = 65536          # per read/write: file I/O per block cost more than the engine


class RenderError(Exception):
    """A user-caused problem, reported as one line."""


def _open_input(path: str):
    if not os.path.exists(path):
        raise RenderError(f"input file not found: {path}")
    try:
        return sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise RenderError(f"cannot read {path}: {_sf_reason(e)}") from None


def _sf_reason(e: Exception) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text.replace("Error opening ", "").strip()


def _output_format(out_path: str, info) -> tuple[str, str]:
    ext = os.path.splitext(out_path)[1].lower().lstrip(".")
    formats = {f.lower(): f for f in sf.available_formats()}
    fmt = {"aif": "AIFF", "aifc": "AIFF", "oga": "OGG", "opus": "OGG"}.get(ext, formats.get(ext))
    if fmt is None:
        raise RenderError(f"unsupported output format {('.' + ext) if ext else '(no extension)'} "
                          f"for {out_path}; use e.g. .wav, .flac, .aiff, .ogg")
    subtype = info.subtype
    if not sf.check_format(fmt, subtype):
        subtype = sf.default_subtype(fmt)
    return fmt, subtype


def render(in_path: str, out_path: str, values: dict, block: int = 512,
           report_path: str | None = None, progress: bool | None = None) -> dict:
    """Render IN to OUT with parameter `values`; returns a summary dict."""
    if not 1 <= block <= 8192:
        raise RenderError(f"--block: {block} is out of range (1 .. 8192)")
    src = _open_input(in_path)
    with src:
        channels = src.channels
        if channels not in (1, 2):
            raise RenderError(f"{in_path} has {channels} channels; Uplift processes mono or stereo")
        sr = src.samplerate
        if not 44100 <= sr <= 192000:
            raise RenderError(f"{in_path} is at {sr} Hz; Uplift runs at 44.1 kHz to 192 kHz")
        fmt, subtype = _output_format(out_path, src)
        frames = src.frames
        eng = Engine(samplerate=sr, channels=channels, max_block=block)
        eng.update(values)
        out_dir = os.path.dirname(os.path.abspath(out_path))
        if not os.path.isdir(out_dir):
            raise RenderError(f"output folder does not exist: {out_dir}")
        if progress is None:
            progress = frames / sr >= PROGRESS_MIN_SECONDS
        fd, tmp = tempfile.mkstemp(prefix=".uplift-render-", suffix="." + fmt.lower(), dir=out_dir)
        os.close(fd)
        trace = _Trace(sr, block) if report_path else None
        try:
            with sf.SoundFile(tmp, "w", samplerate=sr, channels=channels, format=fmt,
                              subtype=subtype) as dst:
                chunk = max(1, CHUNK_FRAMES // block) * block
                xbuf = np.empty((chunk, channels), np.float32)
                ybuf = np.empty((chunk, channels), np.float32)
                done = 0
                t0 = time.monotonic()
                while True:
                    n = src.read(chunk, dtype="float32", always_2d=True, out=xbuf).shape[0]
                    if n == 0:
                        break
                    if trace:   # the report samples the meters after every block
                        for i in range(0, n, block):
                            x, y = xbuf[i:min(i + block, n)], ybuf[i:min(i + block, n)]
                            eng.process_into(x, y)
                            trace.add(x, y, eng.meters())
                    else:
                        eng.process_into(xbuf[:n], ybuf[:n])
                    dst.write(ybuf[:n])
                    done += n
                    if progress:
                        _bar(done, frames, t0)
            if progress:
                sys.stderr.write("\n")
            if report_path:
                from .report import write_report
                write_report(report_path, trace, in_path)
            os.replace(tmp, out_path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    return {"frames": frames, "samplerate": sr, "channels": channels, "format": fmt,
            "subtype": subtype, "latency_samples": eng.latency_samples}


def _bar(done: int, total: int, t0: float) -> None:
    frac = done / total if total else 1.0
    width = 32
    filled = int(frac * width)
    elapsed = time.monotonic() - t0
    sys.stderr.write(f"\rrendering [{'#' * filled}{'.' * (width - filled)}] {frac * 100:5.1f}%"
                     f"  {elapsed:5.1f} s")
    sys.stderr.flush()


class _Trace:
    """What `--report` plots: decimated waveforms, band lifts and gain reduction over time."""

    def __init__(self, samplerate: int, block: int):
        self.samplerate = samplerate
        self.block = block
        self.t, self.inp, self.out, self.lift, self.gr = [], [], [], [], []
        self._pos = 0
        self._every = max(1, int(0.01 * samplerate) // block)  # about 100 points per second
        self._k = 0
        self._in_peak = 0.0
        self._out_peak = 0.0

    def add(self, x, y, meters):
        # Waveforms keep the peak of every block in a point, so nothing is hidden by decimation.
        self._in_peak = max(self._in_peak, float(np.max(np.abs(x))) if len(x) else 0.0)
        self._out_peak = max(self._out_peak, float(np.max(np.abs(y))) if len(y) else 0.0)
        self._pos += x.shape[0]
        self._k += 1
        if self._k % self._every == 0:
            self.t.append(self._pos / self.samplerate)
            self.inp.append(self._in_peak)
            self.out.append(self._out_peak)
            self.lift.append(meters["drift_lift_db"])
            self.gr.append(meters["settle_gr_db"])
            self._in_peak = self._out_peak = 0.0

    def arrays(self):
        n = M.NUM_BANDS
        lift = np.array(self.lift, dtype=float).reshape(-1, n) if self.lift else np.zeros((0, n))
        return (np.array(self.t), np.array(self.inp), np.array(self.out), lift,
                np.array(self.gr, dtype=float))
