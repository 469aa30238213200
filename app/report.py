"""`render --report PNG`: what a render did, readable at a glance.

One picture, WIDTH × HEIGHT pixels:

- the numbers of the input and the output (and their difference): peak and
  RMS in dBFS, integrated loudness in LUFS, noise floor in dBFS, and SETTLE's
  largest gain reduction;
- the peak level of the input (filled) and the output (line) over time, on a
  fixed WAVE_MIN_DB .. 0 dBFS scale;
- DRIFT's lift per band over time as a heat map, with the band axis labelled
  at round frequencies and a colour bar of 0 .. LIFT_MAX_DB dB;
- SETTLE's gain reduction over time on a fixed 0 .. GR_MAX_DB dB scale (the
  same for every file, so two reports compare; more than that is drawn at
  GR_MAX_DB, marked and said).

The figures (`measure`), all over the whole file and all its channels:

- peak: the largest sample magnitude, in dBFS;
- RMS: the root mean square of every sample, in dBFS (a full-scale sine is
  -3.0 dBFS);
- integrated loudness: ITU-R BS.1770-4 as pyloudnorm measures it
  (`pyloudnorm.Meter(rate).integrated_loudness`); a file longer than
  LOUDNESS_IN_MEMORY samples is measured in blocks with pyloudnorm's own
  K-weighting filters and the same gating, so memory stays small. Shorter
  than one 400 ms gating block, or silent (nothing over the -70 LUFS gate):
  no figure ("—");
- noise floor: the FLOOR_PERCENTILE th percentile of the RMS levels of
  FLOOR_WINDOW_S windows, leaving out digital silence (windows under
  SILENCE_DB);
- maximum gain reduction: the largest SETTLE gain reduction the engine
  metered at the end of any block.

Drawn with QPainter on a QImage (offscreen Qt platform when there is no
display), so it needs nothing beyond the GUI stack; the input and output are
read back from their files a chunk at a time.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np
import soundfile as sf

WIDTH, HEIGHT = 1600, 1000
LIFT_MAX_DB = 18.0           # the colour bar's top (DRIFT's largest lift)
GR_MAX_DB = 24.0             # the gain reduction panel's fixed bottom
WAVE_MIN_DB = -60.0          # the waveform panel's fixed bottom
SILENCE_DB = -120.0          # a floor window under this is digital silence
FLOOR_WINDOW_S = 0.05
FLOOR_PERCENTILE = 10.0
LOUDNESS_IN_MEMORY = 1 << 23  # samples (all channels) pyloudnorm gets in one array
CHUNK = 65536

BG, PANEL, FG, DIM, GRID = "#15171c", "#1b1e25", "#e2e6ee", "#9aa3b2", "#2f3440"
IN_COLOUR, OUT_COLOUR, GR_COLOUR, WARN = "#4f6a93", "#7fe0c4", "#f0a050", "#ff5a5a"
DASH = "—"

# Layout (pixels). Panels share the time axis between PLOT_LEFT and PLOT_RIGHT.
PLOT_LEFT, PLOT_RIGHT = 96, WIDTH - 124
PLOT_W = PLOT_RIGHT - PLOT_LEFT
NUMBERS_TOP = 50
WAVE = (264, 452)
LIFT = (502, 794)
GR = (844, 966)
TIME_LABELS_Y = GR[1] + 8
FONT_PX, SMALL_PX, TITLE_PX = 14, 12, 19

#: inferno, in nine steps (0 = nothing lifted, dark; top = LIFT_MAX_DB, pale yellow)
_INFERNO = np.array([(0, 0, 4), (31, 12, 72), (85, 15, 109), (136, 34, 106), (186, 54, 85),
                     (227, 89, 51), (249, 140, 10), (249, 201, 50), (252, 255, 164)], float)


# ---------------------------------------------------------------- the figures

def db(x: float) -> float | None:
    """20·log10(x), or None for nothing (x ≤ 0)."""
    return 20.0 * math.log10(x) if x > 0 else None


@dataclass
class Measured:
    """One file's figures (dBFS / LUFS, None where there is no figure) and its
    peak envelope: the largest magnitude in each of `columns` equal slices."""
    frames: int
    samplerate: int
    channels: int
    peak_db: float | None
    rms_db: float | None
    lufs: float | None
    floor_db: float | None
    envelope: np.ndarray = field(repr=False)


def measure(path: str, columns: int = PLOT_W, in_memory: int = LOUDNESS_IN_MEMORY,
            chunk: int = CHUNK) -> Measured:
    """Read `path` a chunk at a time and measure it (see the module's docstring)."""
    with sf.SoundFile(path) as f:
        rate, ch, total = f.samplerate, f.channels, max(f.frames, 0)
        whole = np.empty((total, ch)) if total * ch <= in_memory else None
        streamed = None if whole is not None else _StreamedLoudness(rate, ch, total)
        win = max(1, int(round(FLOOR_WINDOW_S * rate)))
        carry = np.zeros((0, ch))
        windows: list[np.ndarray] = []
        env = np.zeros(max(columns, 1))
        peak, sumsq, pos = 0.0, 0.0, 0
        while True:
            x = f.read(chunk, dtype="float64", always_2d=True)
            n = x.shape[0]
            if n == 0:
                break
            if whole is not None:
                whole[pos:pos + n] = x
            else:
                streamed.add(x)
            a = np.max(np.abs(x), axis=1)
            peak = max(peak, float(a.max()))
            sumsq += float(np.sum(x * x))
            if total > 0 and columns > 0:
                cols = (np.arange(pos, pos + n, dtype=np.int64) * columns) // max(total, pos + n)
                starts = np.flatnonzero(np.r_[True, cols[1:] != cols[:-1]])
                np.maximum.at(env, cols[starts], np.maximum.reduceat(a, starts))
            fr = np.concatenate([carry, x]) if carry.size else x
            k = fr.shape[0] // win * win
            if k:
                windows.append(np.mean(fr[:k].reshape(-1, win * ch) ** 2, axis=1))
            carry = fr[k:]
            pos += n
    frames = pos
    if frames == 0:
        return Measured(0, rate, ch, None, None, None, None, env)
    # a file shorter than one window is one window
    ms = np.concatenate(windows) if windows else np.array([float(np.mean(carry * carry))])
    with np.errstate(divide="ignore"):
        wdb = 10.0 * np.log10(np.asarray(ms, float))
    heard = wdb[wdb > SILENCE_DB]
    floor = float(np.percentile(heard, FLOOR_PERCENTILE)) if heard.size else None
    lufs = _pyloudnorm(whole[:frames], rate) if whole is not None else streamed.integrated(frames)
    rms = math.sqrt(sumsq / (frames * ch))
    return Measured(frames, rate, ch, db(peak), db(rms), lufs, floor, _fill(env, columns, frames))


def _fill(env: np.ndarray, columns: int, frames: int) -> np.ndarray:
    """A file with fewer frames than columns leaves columns without a sample:
    each takes the sample before it."""
    if frames >= columns:
        return env
    owner = (np.arange(columns) * frames) // columns      # the frame under each column
    first = (np.arange(frames) * columns) // frames       # the column each frame went to
    return env[first[owner]]


def _finite(v: float) -> float | None:
    return float(v) if v is not None and np.isfinite(v) else None


def _pyloudnorm(x: np.ndarray, rate: int) -> float | None:
    import pyloudnorm
    meter = pyloudnorm.Meter(rate)
    if x.shape[0] < meter.block_size * rate:
        return None                # shorter than one gating block: no figure
    return _finite(meter.integrated_loudness(x[:, 0] if x.shape[1] == 1 else x))


class _StreamedLoudness:
    """pyloudnorm's integrated loudness a chunk at a time: its K-weighting
    filters (state carried from chunk to chunk), its 400 ms blocks at 75 %
    overlap with the same sample bounds, its two gates. Equal to
    `Meter.integrated_loudness` of the whole file (tests/test_render.py)."""

    def __init__(self, rate: int, channels: int, frames: int):
        import pyloudnorm
        from scipy.signal import lfilter
        self.lfilter = lfilter
        meter = pyloudnorm.Meter(rate)
        self.rate, self.tg, step = rate, meter.block_size, 1.0 - meter.overlap
        self.filters = [(f.b, f.a, f.passband_gain) for f in meter._filters.values()]
        self.zi = [[np.zeros(max(len(a), len(b)) - 1) for b, a, _ in self.filters]
                   for _ in range(channels)]
        blocks = int(np.round((frames / rate - self.tg) / (self.tg * step))) + 1
        j = np.arange(max(blocks, 0))
        # the same float expressions as pyloudnorm, so the same bounds
        self.lo = np.array([int(self.tg * (k * step) * rate) for k in j], np.int64)
        self.hi = np.array([int(self.tg * (k * step + 1) * rate) for k in j], np.int64)
        self.z = np.zeros((channels, j.size))
        self.pos = 0

    def add(self, x: np.ndarray) -> None:
        n = x.shape[0]
        s, e = self.pos, self.pos + n
        sel = np.flatnonzero((self.lo < e) & (self.hi > s))
        for c in range(x.shape[1]):
            y = x[:, c]
            for i, (b, a, g) in enumerate(self.filters):
                y, self.zi[c][i] = self.lfilter(b, a, y, zi=self.zi[c][i])
                y = g * y
            cs = np.concatenate([[0.0], np.cumsum(y * y)])
            lo = np.clip(self.lo[sel] - s, 0, n)
            hi = np.clip(self.hi[sel] - s, 0, n)
            self.z[c, sel] += cs[hi] - cs[lo]
        self.pos = e

    def integrated(self, frames: int) -> float | None:
        if frames < self.tg * self.rate:
            return None
        return _gated(self.z / (self.tg * self.rate))


def _gated(z: np.ndarray) -> float | None:
    """BS.1770-4 gating of the blocks' mean squares z[channel, block] (channel
    gains 1 for up to three channels), as pyloudnorm does it."""
    with np.errstate(divide="ignore", invalid="ignore"):
        lj = -0.691 + 10.0 * np.log10(np.sum(z, axis=0))
        above = lj >= -70.0
        if not above.any():
            return None
        gamma_r = -0.691 + 10.0 * np.log10(np.sum(np.mean(z[:, above], axis=1))) - 10.0
        keep = (lj > gamma_r) & (lj > -70.0)
        if not keep.any():
            return None
        return _finite(-0.691 + 10.0 * np.log10(np.sum(np.mean(z[:, keep], axis=1))))


def report_numbers(inp: Measured, out: Measured, max_gr_db: float | None) -> dict:
    """The numbers panel: input and output figures and SETTLE's largest gain reduction."""
    d = {}
    for key in ("peak_db", "rms_db", "lufs", "floor_db"):
        d["in_" + key] = getattr(inp, key)
        d["out_" + key] = getattr(out, key)
    d["max_gr_db"] = max_gr_db
    return d


# ---------------------------------------------------------------- the axes

def time_ticks(duration: float) -> tuple[float, list[float]]:
    """Round ticks for 0 .. duration: a step of 1, 2 or 5 × 10^k seconds (whole
    minutes, 1 2 5 10 15 30 60, from a minute up), the largest that still
    gives 5 ticks or more."""
    duration = duration if duration > 0 else 1.0
    steps = [m * 10.0 ** k for k in range(-4, 2) for m in (1, 2, 5)]
    steps = [s for s in steps if s < 60] + [60 * m for m in (1, 2, 5, 10, 15, 30, 60, 120, 300)]
    step = steps[0]
    for s in steps:
        if math.floor(duration / s + 1e-9) + 1 >= 5:
            step = s
    n = math.floor(duration / step + 1e-9)
    return step, [round(i * step, 6) for i in range(n + 1)]


def time_label(t: float, step: float) -> str:
    if step >= 60:
        h, rest = divmod(int(round(t)), 3600)
        m, s = divmod(rest, 60)
        return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return f"{t:.{decimals}f}"


def time_x(t, duration: float):
    return PLOT_LEFT + PLOT_W * np.asarray(t, float) / (duration if duration > 0 else 1.0)


def wave_y(level_db):
    """Waveform panel: 0 dBFS at its top, WAVE_MIN_DB (and anything quieter) at its bottom."""
    top, bottom = WAVE
    v = np.clip(np.asarray(level_db, float), WAVE_MIN_DB, 0.0)
    return top + (bottom - top) * v / WAVE_MIN_DB


def gr_y(gr_db):
    """Gain reduction panel: 0 dB at its top, GR_MAX_DB at its bottom, for
    every file; more than GR_MAX_DB is drawn at the bottom."""
    top, bottom = GR
    return top + (bottom - top) * np.clip(np.asarray(gr_db, float), 0.0, GR_MAX_DB) / GR_MAX_DB


FREQ_TICKS = (50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)
LABEL_ORDER = (1000, 100, 10000, 500, 5000, 200, 2000, 20000, 50)


def band_position(f, centres) -> np.ndarray:
    """Where frequency f sits on the band axis (band b's centre at b), by ERB
    number, in which the bands are equally spaced."""
    from engine.drift_bank import erb_number
    return np.interp(erb_number(f), erb_number(centres), np.arange(len(centres)))


def band_y(pos, nbands: int):
    """Heat map: band 0 (lowest) at the bottom; pos is a band position."""
    top, bottom = LIFT
    return bottom - (bottom - top) * (np.asarray(pos, float) + 0.5) / nbands


def freq_label(f: float) -> str:
    return f"{f / 1000:g}k" if f >= 1000 else f"{f:g}"


def freq_ticks(centres, min_gap: float) -> list[tuple[float, float, bool]]:
    """(frequency, y, labelled) for the round frequencies within the bands,
    top down. Labels go on in the order of LABEL_ORDER (1k, 100, 10k first),
    each only where it is min_gap pixels or more from every label already on;
    a tick without its label stays."""
    ys = {f: float(band_y(band_position(f, centres), len(centres)))
          for f in FREQ_TICKS if centres[0] <= f <= centres[-1]}
    on: list[float] = []
    for f in LABEL_ORDER:
        if f in ys and all(abs(ys[f] - y) >= min_gap for y in on):
            on.append(ys[f])
    return [(f, ys[f], ys[f] in on) for f in sorted(ys, reverse=True)]


def heat_rgb(lift_db) -> np.ndarray:
    """The colour scale: 0 .. LIFT_MAX_DB dB to inferno (uint8 RGB)."""
    v = np.clip(np.asarray(lift_db, float) / LIFT_MAX_DB, 0.0, 1.0) * (len(_INFERNO) - 1)
    i = np.minimum(v.astype(int), len(_INFERNO) - 2)
    f = (v - i)[..., None]
    return np.round(_INFERNO[i] * (1 - f) + _INFERNO[i + 1] * f).astype(np.uint8)


def _columns(t, values, duration: float, reduce: str) -> np.ndarray:
    """Trace points into PLOT_W pixel columns (mean or max of the points in a
    column; a column with none takes its neighbour's)."""
    values = np.asarray(values, float)
    shape = (PLOT_W,) + values.shape[1:]
    if len(t) == 0:
        return np.zeros(shape)
    col = np.clip((np.asarray(t, float) / (duration if duration > 0 else 1.0) * PLOT_W).astype(int),
                  0, PLOT_W - 1)
    count = np.bincount(col, minlength=PLOT_W)
    if reduce == "max":
        out = np.full(shape, -np.inf)
        np.maximum.at(out, col, values)
    else:
        out = np.zeros(shape)
        np.add.at(out, col, values)
        out /= np.maximum(count, 1).reshape((-1,) + (1,) * (values.ndim - 1))
    have = np.flatnonzero(count)
    nearest = have[np.clip(np.searchsorted(have, np.arange(PLOT_W)), 0, have.size - 1)]
    return out[nearest]


# ---------------------------------------------------------------- drawing

def _app():
    # A full QApplication (not QGuiApplication), so a GUI later in the same
    # process can still use the instance.
    from PyQt6.QtWidgets import QApplication
    if QApplication.instance() is None:
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        _app.ref = QApplication([])
    return QApplication.instance()


def write_report(path: str, trace, in_path: str, out_path: str, title: str | None = None) -> dict:
    """Measure IN and OUT, draw the report to `path` (PNG) and return its numbers."""
    inp, out = measure(in_path), measure(out_path)
    t, lift, gr = trace.arrays()
    numbers = report_numbers(inp, out, trace.max_gr_db)
    duration = inp.frames / inp.samplerate
    ch = {1: "mono", 2: "stereo"}.get(inp.channels, f"{inp.channels} ch")
    head = title or os.path.basename(in_path)
    draw_report(path, f"{head}  ·  {_duration_text(duration)}  ·  {inp.samplerate / 1000:g} kHz {ch}",
                duration, inp.envelope, out.envelope, t, lift, gr, numbers)
    return numbers


def _duration_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.2f} s"
    m, s = divmod(seconds, 60)
    return f"{int(m)} min {s:04.1f} s"


def _fmt(v: float | None, unit: str, signed: bool = False) -> str:
    if v is None:
        return DASH
    text = f"{v:+.1f}" if signed else f"{v:.1f}"
    return text.replace("-", "\u2212") + " " + unit


def draw_report(path: str, title: str, duration: float, in_env, out_env, t, lift, gr,
                numbers: dict) -> None:
    """Draw the report: `in_env`/`out_env` peak magnitudes per pixel column,
    `t`/`lift`/`gr` the trace's points (seconds, dB per band, dB)."""
    from PyQt6.QtCore import QPointF, QRectF, Qt
    from PyQt6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPainterPath, QPen

    _app()
    img = QImage(WIDTH, HEIGHT, QImage.Format.Format_RGB32)
    img.fill(QColor(BG))
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    AL, AR, AC = Qt.AlignmentFlag.AlignLeft, Qt.AlignmentFlag.AlignRight, Qt.AlignmentFlag.AlignHCenter
    VC = Qt.AlignmentFlag.AlignVCenter

    def font(px, bold=False):
        f = QFont()
        f.setPixelSize(px)
        f.setBold(bold)
        return f

    def text(x, y, w, h, s, align=AL, px=FONT_PX, colour=FG, bold=False):
        p.setFont(font(px, bold))
        p.setPen(QColor(colour))
        p.drawText(QRectF(x, y, w, h), align | VC, s)

    duration = duration if duration > 0 else 1.0
    text(24, 10, WIDTH - 48, 28, f"Uplift render report  —  {title}", px=TITLE_PX, bold=True)

    # ---- numbers
    y0 = NUMBERS_TOP
    p.fillRect(QRectF(24, y0, WIDTH - 48, 158), QColor(PANEL))
    cols = [("peak", "peak_db", "dBFS"), ("RMS", "rms_db", "dBFS"),
            ("integrated loudness", "lufs", "LUFS"), ("noise floor", "floor_db", "dBFS")]
    x_row, cw = 40, 190
    for i, (name, _, _) in enumerate(cols):
        text(x_row + 100 + i * cw, y0 + 8, cw - 16, 22, name, AR, px=SMALL_PX, colour=DIM)
    rows = [("input", "in_", IN_COLOUR), ("output", "out_", OUT_COLOUR), ("change", None, DIM)]
    for r, (name, prefix, colour) in enumerate(rows):
        yy = y0 + 32 + r * 28
        p.fillRect(QRectF(x_row, yy + 7, 10, 10), QColor(colour))
        text(x_row + 18, yy, 90, 24, name, px=FONT_PX)
        for i, (_, key, unit) in enumerate(cols):
            if prefix:
                s = _fmt(numbers.get(prefix + key), unit)
            else:
                a, b = numbers.get("in_" + key), numbers.get("out_" + key)
                s = _fmt(None if a is None or b is None else b - a, "dB" if unit != "LUFS" else "LU",
                         signed=True)
            text(x_row + 100 + i * cw, yy, cw - 16, 24, s, AR, px=16, bold=prefix == "out_")
    gx = x_row + 100 + len(cols) * cw + 40
    p.setPen(QPen(QColor(GRID), 1))
    p.drawLine(QPointF(gx - 20, y0 + 10), QPointF(gx - 20, y0 + 112))
    text(gx, y0 + 8, 300, 22, "max gain reduction (SETTLE)", px=SMALL_PX, colour=DIM)
    text(gx, y0 + 32, 300, 40, _fmt(numbers.get("max_gr_db"), "dB"), px=30, bold=True,
         colour=GR_COLOUR)
    text(gx, y0 + 78, WIDTH - 40 - gx, 22, f"metered after every block · the panel below is "
         f"drawn on a fixed 0–{GR_MAX_DB:g} dB scale", px=SMALL_PX, colour=DIM)
    defs = (f"peak: largest sample · RMS: all samples, all channels · loudness: ITU-R BS.1770-4 "
            f"integrated (pyloudnorm), {DASH} under the gate or shorter than 0.4 s · noise floor: "
            f"{FLOOR_PERCENTILE:g}th percentile of the RMS of {FLOOR_WINDOW_S * 1000:g} ms "
            f"windows, digital silence (under \u2212{-SILENCE_DB:g} dBFS) left out")
    text(40, y0 + 122, WIDTH - 80, 28, defs, px=SMALL_PX, colour=DIM)

    # ---- panel frames, titles, time grid
    step, ticks = time_ticks(duration)
    tx = time_x(ticks, duration)

    def frame(top, bottom, title_text):
        p.fillRect(QRectF(PLOT_LEFT, top, PLOT_W, bottom - top), QColor(PANEL))
        text(PLOT_LEFT, top - 28, PLOT_W, 24, title_text, px=15, bold=True)
        p.setPen(QPen(QColor(GRID), 1))
        for x in tx:
            p.drawLine(QPointF(x, top), QPointF(x, bottom))

    def hgrid(y, label, top, bottom):
        p.setPen(QPen(QColor(GRID), 1))
        p.drawLine(QPointF(PLOT_LEFT, y), QPointF(PLOT_RIGHT, y))
        text(PLOT_LEFT - 66, y - 10, 58, 20, label, AR, px=SMALL_PX, colour=DIM)

    # ---- waveforms (dBFS)
    top, bottom = WAVE
    frame(top, bottom, "Peak level (dBFS)")
    for level in range(int(WAVE_MIN_DB), 1, 10):
        hgrid(float(wave_y(level)), f"{level}".replace("-", "\u2212"), top, bottom)
    xs = PLOT_LEFT + np.arange(PLOT_W) + 0.5
    with np.errstate(divide="ignore"):
        in_db = 20 * np.log10(np.maximum(np.asarray(in_env, float), 1e-12))
        out_db = 20 * np.log10(np.maximum(np.asarray(out_env, float), 1e-12))
    if len(in_db) == PLOT_W:
        path_in = QPainterPath(QPointF(PLOT_LEFT, bottom))
        for x, y in zip(xs, wave_y(in_db), strict=True):
            path_in.lineTo(QPointF(x, y))
        path_in.lineTo(QPointF(PLOT_RIGHT, bottom))
        path_in.closeSubpath()
        p.fillPath(path_in, QColor(IN_COLOUR))
    if len(out_db) == PLOT_W:
        path_out = QPainterPath()
        for i, (x, y) in enumerate(zip(xs, wave_y(out_db), strict=True)):
            if i == 0:
                path_out.moveTo(QPointF(x, y))
            else:
                path_out.lineTo(QPointF(x, y))
        p.setPen(QPen(QColor(OUT_COLOUR), 1.3))
        p.drawPath(path_out)
    # legend, right-aligned in the title row
    lx = PLOT_RIGHT - 250
    p.fillRect(QRectF(lx, top - 20, 22, 12), QColor(IN_COLOUR))
    text(lx + 28, top - 26, 90, 24, "input", px=FONT_PX)
    p.setPen(QPen(QColor(OUT_COLOUR), 2.0))
    p.drawLine(QPointF(lx + 120, top - 14), QPointF(lx + 142, top - 14))
    text(lx + 148, top - 26, 100, 24, "output", px=FONT_PX)

    # ---- lift heat map
    top, bottom = LIFT
    frame(top, bottom, "DRIFT lift per band")
    lift = np.asarray(lift, float)
    nb = lift.shape[1] if lift.ndim == 2 and lift.shape[1] else 40
    from engine.drift_bank import band_centres
    centres = band_centres()
    if lift.ndim == 2 and len(t):
        cols_lift = _columns(t, lift, duration, "mean")             # [PLOT_W, bands]
        rgb = np.ascontiguousarray(heat_rgb(cols_lift.T[::-1]))     # top row = highest band
        himg = QImage(rgb.data, PLOT_W, nb, 3 * PLOT_W, QImage.Format.Format_RGB888)
        p.drawImage(QRectF(PLOT_LEFT, top, PLOT_W, bottom - top), himg)
    p.setPen(QPen(QColor(GRID), 1))
    for x in tx:
        p.drawLine(QPointF(x, top), QPointF(x, top + 4))
        p.drawLine(QPointF(x, bottom - 4), QPointF(x, bottom))
    fm = QFontMetricsF(font(SMALL_PX))
    for f, y, labelled in freq_ticks(centres, fm.height() + 2):
        p.setPen(QPen(QColor(DIM), 1))
        p.drawLine(QPointF(PLOT_LEFT - 5, y), QPointF(PLOT_LEFT, y))
        if labelled:
            text(PLOT_LEFT - 66, y - 10, 58, 20, freq_label(f), AR, px=SMALL_PX, colour=DIM)
    text(PLOT_LEFT - 66, top - 28, 58, 24, "Hz", AR, px=SMALL_PX, colour=DIM)
    # colour bar
    bx, bw = PLOT_RIGHT + 22, 16
    ramp = heat_rgb(np.linspace(LIFT_MAX_DB, 0.0, bottom - top))[:, None, :].repeat(bw, axis=1)
    ramp = np.ascontiguousarray(ramp)
    p.drawImage(QRectF(bx, top, bw, bottom - top),
                QImage(ramp.data, bw, bottom - top, 3 * bw, QImage.Format.Format_RGB888))
    p.setPen(QPen(QColor(GRID), 1))
    p.drawRect(QRectF(bx, top, bw, bottom - top))
    text(bx - 8, top - 28, 80, 24, "lift (dB)", px=SMALL_PX, colour=DIM)
    for v in range(0, int(LIFT_MAX_DB) + 1, 3):
        y = bottom - (bottom - top) * v / LIFT_MAX_DB
        p.setPen(QPen(QColor(DIM), 1))
        p.drawLine(QPointF(bx + bw, y), QPointF(bx + bw + 4, y))
        text(bx + bw + 7, y - 10, 40, 20, f"{v}", px=SMALL_PX, colour=DIM)

    # ---- gain reduction, fixed scale
    top, bottom = GR
    gr = np.asarray(gr, float)
    over = bool(len(gr)) and float(np.max(gr)) > GR_MAX_DB
    frame(top, bottom, "SETTLE gain reduction (dB)")
    if over:
        text(PLOT_LEFT + 260, top - 28, PLOT_W - 260, 24,
             f"over {GR_MAX_DB:g} dB (up to {float(np.max(gr)):.1f} dB) drawn at {GR_MAX_DB:g}, "
             f"marked red", AR, px=SMALL_PX, colour=WARN)
    for v in range(0, int(GR_MAX_DB) + 1, 6):
        hgrid(float(gr_y(v)), f"{v}", top, bottom)
    if len(t):
        g = _columns(t, gr, duration, "max")
        area = QPainterPath(QPointF(PLOT_LEFT, top))
        for x, y in zip(xs, gr_y(g), strict=True):
            area.lineTo(QPointF(x, y))
        area.lineTo(QPointF(PLOT_RIGHT, top))
        area.closeSubpath()
        fill = QColor(GR_COLOUR)
        fill.setAlpha(90)
        p.fillPath(area, fill)
        line = QPainterPath(QPointF(PLOT_LEFT, float(gr_y(g[0]))))
        for x, y in zip(xs, gr_y(g), strict=True):
            line.lineTo(QPointF(x, y))
        p.setPen(QPen(QColor(GR_COLOUR), 1.5))
        p.drawPath(line)
        for x in xs[g > GR_MAX_DB]:
            p.fillRect(QRectF(x - 0.5, bottom - 5, 1.0, 5), QColor(WARN))

    # ---- time axis
    for x, v in zip(tx, ticks, strict=True):
        p.setPen(QPen(QColor(DIM), 1))
        p.drawLine(QPointF(x, GR[1]), QPointF(x, GR[1] + 5))
        text(x - 50, TIME_LABELS_Y, 100, 20, time_label(v, step), AC, px=SMALL_PX, colour=DIM)
    unit = "time (m:ss)" if step >= 60 else "time (s)"
    text(0, TIME_LABELS_Y, PLOT_LEFT - 28, 20, unit, AR, px=SMALL_PX, colour=DIM)
    p.end()
    if not img.save(path, "PNG"):
        raise OSError(f"cannot write report {path}")
