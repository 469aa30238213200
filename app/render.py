"""`uplift render IN... OUT`: files through the same engine, block by block.

The file is read and written in chunks of about CHUNK_FRAMES frames, each
chunk handed whole to `Engine.process_into`: the native entry the live
callbacks run, which cuts it into blocks of `block` frames itself. A chunk is a
whole number of blocks, so the blocks are the same as live, and for the same
settings and block size the output is bit-identical to live.

Latency: by default the output lines up with the input sample for sample and
has its length -- the engine's latency is taken off the front and its tail is
flushed with silence (the same samples live would give for the input followed
by that silence) -- so a rendered file put back beside its source in a DAW is
in time. `live_alignment` keeps the live delay instead (and cuts the tail).

Nothing is lost: OUT may not be an input (however spelled: same file, hard
link or symlink) and is not replaced unless `force`; it is checked before
anything is processed; the audio goes to a temporary file in OUT's folder
that replaces OUT only when everything succeeded, and is removed on any error,
Ctrl-C, SIGTERM or SIGHUP. The result gets the permissions a new file of the
user's gets (umask), or those of the file it replaces.

Word length: the output keeps the input's subtype where OUT's format has it
(a 16-bit file stays 16-bit: no word length is reduced, so no dither is
needed); otherwise OUT's format's default subtype is used, and the summary
says so.
"""
from __future__ import annotations

import errno
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

import numpy as np
import soundfile as sf

from engine import Engine
from engine import meters as M

PROGRESS_MIN_SECONDS = 10.0   # shorter files render too fast for a bar to help
CHUNK_FRAMES = 65536          # per read/write: file I/O per block cost more than the engine
#: subtypes that are plain sample formats (kept when OUT's format has them)
PLAIN_SUBTYPES = ("PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE")


class RenderError(Exception):
    """A user-caused problem, reported as one line."""


class Interrupted(BaseException):
    """SIGTERM or SIGHUP during a render: cleaned up like Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _open_input(path: str):
    if not os.path.exists(path):
        raise RenderError(f"input file not found: {path}")
    if os.path.isdir(path):
        raise RenderError(f"input is a folder, not a sound file: {path}")
    try:
        return sf.SoundFile(path)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise RenderError(f"cannot read {path}: {_sf_reason(e)}") from None


def _promised_frames(src) -> int:
    """The frames the file's header promises: libsndfile sizes a cut-off WAV or
    AIFF by what is there, and notes the header's figure in its log
    ("data : 192000 (should be 95978)")."""
    import re
    log = src.extra_info
    m = re.search(r"^data\s*:\s*(\d+)\s*\(should be \d+\)", log, re.M)
    align = re.search(r"Block Align\s*:\s*(\d+)", log)
    if m and align and int(align.group(1)) > 0:
        return max(src.frames, int(m.group(1)) // int(align.group(1)))
    return src.frames


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
    if subtype not in PLAIN_SUBTYPES or not sf.check_format(fmt, subtype):
        subtype = sf.default_subtype(fmt)
    return fmt, subtype


def check_output(in_paths: list[str], out_path: str, force: bool) -> None:
    """Everything about OUT that can be known before processing: not an input,
    not an existing file unless forced, not a folder, its folder writable."""
    if os.path.isdir(out_path):
        raise RenderError(f"{out_path} is a folder; give a file name to render one input into")
    for p in in_paths:
        if os.path.exists(out_path) and os.path.exists(p) and os.path.samefile(p, out_path):
            raise RenderError(f"refusing to write over the input {p} (OUT {out_path} is the "
                              f"same file)")
    if os.path.lexists(out_path) and not force:
        raise RenderError(f"{out_path} exists; use --force to replace it")
    folder = os.path.dirname(os.path.abspath(out_path))
    if not os.path.isdir(folder):
        raise RenderError(f"output folder does not exist: {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise RenderError(f"cannot write to the folder {folder}: permission denied")


def _new_file_mode(out_path: str) -> int:
    """The mode of the file OUT replaces, or a new file's under the user's umask."""
    try:
        return os.stat(out_path).st_mode & 0o7777
    except OSError:
        from app.settings import _umask
        return 0o666 & ~_umask()


def _write_error(e: Exception, out_path: str) -> RenderError:
    """One clear line for a failed write: names OUT, never the temporary file."""
    code = getattr(e, "errno", None)
    folder = os.path.dirname(os.path.abspath(out_path))
    if code is None and "System error" in str(e):
        # libsndfile reports ENOSPC and friends as "System error."
        try:
            code = errno.ENOSPC if shutil.disk_usage(folder).free < (1 << 20) else None
        except OSError:
            code = None
    if code == errno.ENOSPC:
        return RenderError(f"cannot write {out_path}: no space left on the device "
                           f"(nothing was written)")
    if code in (errno.EROFS, errno.EACCES, errno.EPERM):
        return RenderError(f"cannot write to the folder {folder}: {os.strerror(code)}")
    if code is not None:
        return RenderError(f"cannot write {out_path}: {os.strerror(code)} (nothing was written)")
    if "System error" in str(e):
        return RenderError(f"cannot write {out_path}: the system refused the write (a full disk, "
                           f"a file size limit or a device error; nothing was written)")
    return RenderError(f"cannot write {out_path}: {_sf_reason(e)} (nothing was written)")


class _Signals:
    """While rendering in the main thread, SIGTERM and SIGHUP raise Interrupted
    (cleaned up like Ctrl-C's KeyboardInterrupt) instead of killing the process
    with a temporary file left behind."""

    SIGNALS = (signal.SIGTERM, signal.SIGHUP)

    def __enter__(self):
        self.saved = {}
        if threading.current_thread() is threading.main_thread():
            for s in self.SIGNALS:
                self.saved[s] = signal.signal(s, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        raise Interrupted(signum)

    def __exit__(self, *exc):
        for s, h in self.saved.items():
            signal.signal(s, h)
        return False


def render(in_path: str, out_path: str, values: dict, block: int = 512,
           report_path: str | None = None, progress: bool | None = None, force: bool = False,
           live_alignment: bool = False) -> dict:
    """Render IN to OUT with parameter `values`; returns a summary dict.
    `progress`: None = a bar on a terminal for files of PROGRESS_MIN_SECONDS or more."""
    if not 1 <= block <= 8192:
        raise RenderError(f"--block: {block} is out of range (1 .. 8192)")
    check_output([in_path], out_path, force)
    src = _open_input(in_path)
    with src, _Signals():
        channels = src.channels
        if channels not in (1, 2):
            raise RenderError(f"{in_path} has {channels} channels; Uplift processes mono or stereo")
        sr = src.samplerate
        if not 44100 <= sr <= 192000:
            raise RenderError(f"{in_path} is at {sr} Hz; Uplift runs at 44.1 kHz to 192 kHz")
        fmt, subtype = _output_format(out_path, src)
        frames = src.frames
        promised = _promised_frames(src)
        eng = Engine(samplerate=sr, channels=channels, max_block=block)
        eng.update(values)       # applies from the first sample (nothing glides from defaults)
        latency = eng.latency_samples
        if progress is None:
            progress = frames / sr >= PROGRESS_MIN_SECONDS and sys.stderr.isatty()
        out_dir = os.path.dirname(os.path.abspath(out_path))
        try:
            fd, tmp = tempfile.mkstemp(prefix=".uplift-render-", suffix="." + fmt.lower(),
                                       dir=out_dir)
        except OSError as e:
            raise _write_error(e, out_path) from None
        os.close(fd)
        trace = _Trace(sr, frames, delay=0 if live_alignment else latency) if report_path else None
        numbers = None
        try:
            try:
                dst = sf.SoundFile(tmp, "w", samplerate=sr, channels=channels, format=fmt,
                                   subtype=subtype)
            except (sf.LibsndfileError, RuntimeError, ValueError) as e:
                raise RenderError(f"cannot write {out_path} as {fmt} {subtype}: "
                                  f"{_sf_reason(e).replace(tmp, out_path)}") from None
            with dst:
                read = _process(src, dst, eng, block, trace, frames,
                                skip=0 if live_alignment else latency, progress=progress)
            if progress:
                sys.stderr.write("\n")
            if report_path:
                from app.report import write_report
                names = f"{os.path.basename(in_path)} \u2192 {os.path.basename(out_path)}"
                numbers = write_report(report_path, trace, in_path, tmp, title=names)
            os.chmod(tmp, _new_file_mode(out_path))
            os.replace(tmp, out_path)
        except (OSError, sf.LibsndfileError) as e:
            raise _write_error(e, out_path) from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return {"frames": read, "header_frames": max(frames, promised), "samplerate": sr, "channels": channels,
            "format": fmt, "subtype": subtype, "input_subtype": src.subtype,
            "latency_samples": latency, "aligned": not live_alignment, "report": numbers}


def _render_one(job):
    """A batch worker's job: (in, out, values, options) -> (in, summary or error text, seconds)."""
    in_path, out_path, values, options = job
    t0 = time.monotonic()
    try:
        return in_path, render(in_path, out_path, values, progress=False, **options), \
            time.monotonic() - t0
    except RenderError as e:
        return in_path, str(e), time.monotonic() - t0


def render_batch(inputs: list[str], out_dir: str, values: dict, block: int = 512, jobs: int = 1,
                 force: bool = False, live_alignment: bool = False) -> int:
    """Render every input into the folder out_dir (same file names), `jobs`
    processes at once, each result bit-identical to a single render. A line per
    file on a terminal, a summary at the end; returns the exit status (1 if any
    file failed, each failure said in its line)."""
    if not 1 <= jobs <= 64:
        raise RenderError(f"--jobs: {jobs} is out of range (1 .. 64)")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise RenderError(f"{out_dir} is a file; several inputs render into a folder")
    if not os.path.isdir(out_dir):
        parent = os.path.dirname(os.path.abspath(out_dir))
        if not os.path.isdir(parent):
            raise RenderError(f"output folder does not exist: {parent}")
        os.mkdir(out_dir)
    outs = [os.path.join(out_dir, os.path.basename(p)) for p in inputs]
    seen: dict[str, str] = {}
    for p, o in zip(inputs, outs, strict=True):
        if o in seen:
            raise RenderError(f"{seen[o]} and {p} would both render to {o}")
        seen[o] = p
    for o in outs:           # every OUT checked before anything is processed
        check_output(inputs, o, force)
    options = dict(block=block, force=force, live_alignment=live_alignment)
    work = [(p, o, values, options) for p, o in zip(inputs, outs, strict=True)]
    tty = sys.stderr.isatty()
    t0 = time.monotonic()
    failed, seconds = 0, 0.0
    if jobs == 1 or len(work) == 1:
        results = map(_render_one, work)
        pool = None
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(work)),
                                   mp_context=multiprocessing.get_context("spawn"))
        results = pool.map(_render_one, work)
    try:
        for (in_path, result, took), out in zip(results, outs, strict=True):
            if isinstance(result, str):
                failed += 1
                print(f"uplift: error: {result}", file=sys.stderr)
                continue
            audio = result["frames"] / result["samplerate"]
            seconds += audio
            if result["frames"] < result["header_frames"]:
                print(f"uplift: warning: {in_path} is truncated: rendered the "
                      f"{result['frames']} frames it holds of {result['header_frames']}",
                      file=sys.stderr)
            if tty:
                print(f"  {in_path} -> {out}: {audio:.1f} s in {took:.1f} s", file=sys.stderr)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    wall = time.monotonic() - t0
    print(f"rendered {len(work) - failed} of {len(work)} files into {out_dir}: {seconds:.1f} s "
          f"of audio in {wall:.1f} s ({seconds / max(wall, 1e-9):.0f}x realtime)")
    return 1 if failed else 0


def _process(src, dst, eng, block: int, trace, frames: int, skip: int, progress: bool) -> int:
    """Read src to its end, chunk by chunk, through the engine into dst; with
    `skip` > 0, drop the first `skip` output samples and feed `skip` frames of
    silence after the input, so dst gets the input's length, aligned. Returns
    the frames read."""
    chunk = max(1, CHUNK_FRAMES // block) * block
    channels = src.channels
    xbuf = np.zeros((chunk, channels), np.float32)
    ybuf = np.empty((chunk, channels), np.float32)
    read = 0
    flush = skip         # silence still to feed once the input has ended
    ended = False
    t0 = time.monotonic()
    while True:
        if not ended:
            n = src.read(chunk, dtype="float32", always_2d=True, out=xbuf).shape[0]
            read += n
            ended = n < chunk
            if ended:
                m = min(flush, chunk - n)
                xbuf[n:n + m] = 0.0
                n += m
                flush -= m
        else:
            n = min(flush, chunk)
            xbuf[:n] = 0.0
            flush -= n
        if n == 0:
            break
        if trace:   # the report samples the meters after every block
            for i in range(0, n, block):
                x, y = xbuf[i:min(i + block, n)], ybuf[i:min(i + block, n)]
                eng.process_into(x, y)
                trace.add(x.shape[0], eng.meters())
        else:
            eng.process_into(xbuf[:n], ybuf[:n])
        drop = min(skip, n)
        skip -= drop
        if n > drop:
            dst.write(ybuf[drop:n])
        if progress:
            _bar(min(read, frames), frames, t0)
        if ended and flush == 0:
            break
    return read


def _bar(done: int, total: int, t0: float) -> None:
    frac = done / total if total else 1.0
    width = 32
    filled = int(frac * width)
    elapsed = time.monotonic() - t0
    sys.stderr.write(f"\rrendering [{'#' * filled}{'.' * (width - filled)}] {frac * 100:5.1f}%"
                     f"  {elapsed:5.1f} s")
    sys.stderr.flush()


class _Trace:
    """What `--report` draws from the engine: per point of time, SETTLE's
    largest gain reduction and DRIFT's mean lift per band over the point's
    blocks, read from the meters after every block; and the largest gain
    reduction of all. At most POINTS points whatever the file's length (about
    10 ms each for a short file), so a long file costs no more memory. Times
    are the output file's: `delay` (the latency taken off the front) earlier
    than the engine's."""

    POINTS = 4096

    def __init__(self, samplerate: int, frames: int, delay: int = 0):
        self.samplerate = samplerate
        self.delay = delay
        span = max(frames, 1)
        self.step = max(int(0.01 * samplerate), -(-span // self.POINTS))   # samples per point
        n = -(-span // self.step)
        self.gr = np.zeros(n)
        self.lift = np.zeros((n, M.NUM_BANDS))
        self.count = np.zeros(n, np.int64)
        self.max_gr_db = None
        self._pos = 0

    def add(self, frames: int, meters) -> None:
        self._pos += frames
        gr = float(meters["settle_gr_db"])
        self.max_gr_db = gr if self.max_gr_db is None else max(self.max_gr_db, gr)
        i = min(max(self._pos - 1 - self.delay, 0) // self.step, len(self.gr) - 1)
        self.gr[i] = max(self.gr[i], gr) if self.count[i] else gr
        self.lift[i] += meters["drift_lift_db"]
        self.count[i] += 1

    def arrays(self):
        """(t, lift, gr): each point's middle in seconds, its mean lift per band, its largest reduction."""
        have = self.count > 0
        t = (np.flatnonzero(have) + 0.5) * self.step / self.samplerate
        return t, self.lift[have] / self.count[have, None], self.gr[have]
