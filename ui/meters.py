"""Level meters, gain-reduction meters and the 40 DRIFT lift bars (custom painted).

Widgets here only hold numbers and paint them; the window's timer feeds them
from `session.meters()`. Peak hold is kept in the GUI (1.5 s, then falls).
"""
from __future__ import annotations

import math
import time

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, QSize, Qt
from PyQt6.QtGui import QColor, QFontMetrics, QLinearGradient, QPainter, QPen, QPixmap
from PyQt6.QtWidgets import QSizePolicy, QWidget

from . import theme

HOLD_S = 1.5
HOLD_FALL_DB_S = 20.0
FLOOR_DB = -240.0


def _fmt_db(v: float, sign: bool = False) -> str:
    if v <= -99.5:
        return "−∞"
    s = f"{v:+.1f}" if sign else f"{v:.1f}"
    return s.replace("-", "−")


class _Hold:
    """Peak hold: jumps up instantly, holds, then falls."""

    def __init__(self, floor: float):
        self.floor = floor
        self.value = floor
        self.t = 0.0
        self.last = 0.0

    def feed(self, v: float, now: float) -> float:
        if v >= self.value:
            self.value = v
            self.t = now
        elif now - self.t > HOLD_S:
            dt = now - max(self.last, self.t + HOLD_S)
            self.value = max(v, self.value - HOLD_FALL_DB_S * max(dt, 0.0))
        self.last = now
        return self.value

    def reset(self):
        self.value = self.floor


class LevelMeter(QWidget):
    """Vertical meter, one bar per channel: RMS as the solid bar, peak as a lighter
    bar above it, a peak-hold tick and the held peak (dBFS) printed on top.
    Click resets the hold."""

    def __init__(self, title: str, channels: int = 2, lo: float = -60.0, hi: float = 6.0,
                 scale: bool = True, parent=None):
        super().__init__(parent)
        self.title = title
        self.lo, self.hi = lo, hi
        self.scale = scale
        self.peak = [FLOOR_DB] * channels
        self.rms = [FLOOR_DB] * channels
        self.holds = [_Hold(FLOOR_DB) for _ in range(channels)]
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        self.setToolTip(f"{title}: peak and RMS per channel (dBFS); click resets the peak hold")
        self.setObjectName(f"meter_{title.lower()}")

    def sizeHint(self) -> QSize:
        return QSize(self._width(), 200)

    def minimumSizeHint(self) -> QSize:
        return QSize(self._width(), 120)

    def _width(self) -> int:
        return 22 + 14 * len(self.peak) + (26 if self.scale else 0)

    def set_channels(self, n: int):
        n = max(1, n)
        if n != len(self.peak):
            self.peak = [FLOOR_DB] * n
            self.rms = [FLOOR_DB] * n
            self.holds = [_Hold(FLOOR_DB) for _ in range(n)]
            self.updateGeometry()

    def set_levels(self, peak, rms, now: float | None = None):
        now = time.monotonic() if now is None else now
        if len(peak) != len(self.peak):
            self.set_channels(len(peak))
        old = (self.peak, self.rms, [h.value for h in self.holds])
        self.peak = [float(v) for v in peak]
        self.rms = [float(v) for v in rms]
        for h, v in zip(self.holds, self.peak, strict=True):
            h.feed(v, now)
        new = (self.peak, self.rms, [h.value for h in self.holds])
        if any(abs(max(a, self.lo - 1) - max(b, self.lo - 1)) > 0.05
               for o, n in zip(old, new, strict=True) for a, b in zip(o, n, strict=True)):
            self.update()

    def held(self) -> float:
        return max(h.value for h in self.holds)

    def mousePressEvent(self, e):
        for h in self.holds:
            h.reset()
        self.update()

    def _y(self, db: float, top: float, bottom: float) -> float:
        t = (min(max(db, self.lo), self.hi) - self.lo) / (self.hi - self.lo)
        return bottom - t * (bottom - top)

    def paintEvent(self, _e):
        qp = QPainter(self)
        qp.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        title_h, readout_h = 16, 16
        top = title_h + readout_h + 4
        bottom = h - 4
        qp.setFont(theme.ui_font(10, bold=True))
        qp.setPen(QColor(theme.TEXT_DIM))
        qp.drawText(QRectF(0, 0, w, title_h), Qt.AlignmentFlag.AlignCenter, self.title)
        held = self.held()
        qp.setFont(theme.ui_font(11, bold=True))
        qp.setPen(QColor(theme.ERROR) if held > -0.05 else QColor(theme.TEXT))
        qp.drawText(QRectF(0, title_h, w, readout_h), Qt.AlignmentFlag.AlignCenter,
                    _fmt_db(held))
        n = len(self.peak)
        bar_w = 10.0
        gap = 4.0
        x0 = (w - (n * bar_w + (n - 1) * gap) - (26 if self.scale else 0)) / 2.0
        grad = QLinearGradient(0, bottom, 0, top)
        g0 = self._y(-18, top, bottom)
        g1 = self._y(-6, top, bottom)
        g2 = self._y(0, top, bottom)
        span = bottom - top

        def stop(y):
            return min(max((bottom - y) / span, 0.0), 1.0)

        grad.setColorAt(0.0, theme.METER_GREEN.darker(130))
        grad.setColorAt(stop(g0), theme.METER_GREEN)
        grad.setColorAt(stop(g1), theme.METER_YELLOW)
        grad.setColorAt(stop(g2), theme.METER_RED)
        grad.setColorAt(1.0, theme.METER_RED)
        for i in range(n):
            x = x0 + i * (bar_w + gap)
            trough = QRectF(x, top, bar_w, bottom - top)
            qp.fillRect(trough, QColor(theme.TRACK))
            yp = self._y(self.peak[i], top, bottom)
            yr = self._y(self.rms[i], top, bottom)
            qp.setOpacity(0.45)
            qp.fillRect(QRectF(x, yp, bar_w, bottom - yp), grad)
            qp.setOpacity(1.0)
            qp.fillRect(QRectF(x, yr, bar_w, bottom - yr), grad)
            hv = self.holds[i].value
            if hv > self.lo:
                yh = self._y(hv, top, bottom)
                qp.fillRect(QRectF(x, yh - 1, bar_w, 2),
                            QColor(theme.ERROR) if hv > -0.05 else QColor("#f2f4f8"))
        if self.scale:
            sx = x0 + n * bar_w + (n - 1) * gap + 4
            qp.setFont(theme.ui_font(9))
            for db in (6, 0, -6, -12, -18, -24, -36, -48, -60):
                if not self.lo <= db <= self.hi:
                    continue
                y = self._y(db, top, bottom)
                qp.setPen(QColor(theme.TEXT_DIM))
                qp.drawText(QRectF(sx + 1, y - 6, 26, 12),
                            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                            f"{db:+d}".replace("-", "−") if db else "0")
        qp.end()


class GRMeter(QWidget):
    """Gain reduction (dB, positive = reduction) growing down from the top, with hold."""

    def __init__(self, title: str, colour: QColor, max_db: float = 30.0, parent=None):
        super().__init__(parent)
        self.title = title
        self.colour = QColor(colour)
        self.max_db = max_db
        self.gr = 0.0
        self.hold = _Hold(0.0)
        self.active = True
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        self.setToolTip(f"{title} gain reduction (dB); click resets the hold")
        self.setObjectName(f"gr_{title.lower()}")

    def sizeHint(self) -> QSize:
        return QSize(44, 200)

    def minimumSizeHint(self) -> QSize:
        return QSize(44, 120)

    def set_gr(self, gr: float, now: float | None = None):
        now = time.monotonic() if now is None else now
        gr = float(gr)
        if not math.isfinite(gr):
            gr = 0.0
        old = (self.gr, self.hold.value)
        self.gr = max(0.0, gr)
        self.hold.feed(self.gr, now)
        if abs(old[0] - self.gr) > 0.02 or abs(old[1] - self.hold.value) > 0.02:
            self.update()

    def set_active(self, on: bool):
        if on != self.active:
            self.active = on
            self.update()

    def mousePressEvent(self, e):
        self.hold.reset()
        self.update()

    def paintEvent(self, _e):
        qp = QPainter(self)
        qp.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        title_h, readout_h = 16, 16
        top, bottom = title_h + readout_h + 4, h - 4
        qp.setFont(theme.ui_font(10, bold=True))
        qp.setPen(QColor(theme.TEXT_DIM))
        qp.drawText(QRectF(0, 0, w, title_h), Qt.AlignmentFlag.AlignCenter, self.title)
        qp.setFont(theme.ui_font(11, bold=True))
        qp.setPen(QColor(theme.TEXT) if self.active else QColor(theme.TEXT_FAINT))
        held = self.hold.value
        qp.drawText(QRectF(0, title_h, w, readout_h), Qt.AlignmentFlag.AlignCenter,
                    "−" + f"{held:.1f}" if held >= 0.05 else "0.0")
        bar_w = 12.0
        x = (w - bar_w) / 2.0 - 6
        qp.fillRect(QRectF(x, top, bar_w, bottom - top), QColor(theme.TRACK))
        span = bottom - top

        def y(db):
            return top + min(max(db, 0.0), self.max_db) / self.max_db * span

        c = QColor(self.colour) if self.active else QColor(theme.TEXT_FAINT)
        qp.fillRect(QRectF(x, top, bar_w, y(self.gr) - top), c)
        if held > 0.05:
            qp.fillRect(QRectF(x, y(held) - 1, bar_w, 2), QColor("#f2f4f8"))
        qp.setFont(theme.ui_font(9))
        for db in range(0, int(self.max_db) + 1, 6):
            yy = y(db)
            qp.setPen(QColor(theme.TEXT_DIM))
            qp.drawText(QRectF(x + bar_w + 3, yy - 6, 22, 12),
                        Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, str(db))
        qp.end()


def erb_centres(n: int = 40, lo: float = 20.0, hi: float = 20000.0) -> np.ndarray:
    """Band centres equally spaced in ERB number, E(f) = 21.4·log10(1 + 0.00437·f)."""
    e0 = 21.4 * math.log10(1 + 0.00437 * lo)
    e1 = 21.4 * math.log10(1 + 0.00437 * hi)
    e = np.linspace(e0, e1, n)
    return (10 ** (e / 21.4) - 1) / 0.00437


def band_centres(n: int = 40) -> np.ndarray:
    """The engine's band centres when it exposes them, else the ERB formula (dsp.md)."""
    import importlib
    for modname in ("engine.drift_bank", "engine.drift"):
        try:
            mod = importlib.import_module(modname)
        except ImportError:
            continue
        for name in ("band_centres", "BAND_CENTRES", "CENTRES", "centres", "band_centers"):
            obj = getattr(mod, name, None)
            if obj is None:
                continue
            try:
                c = np.asarray(obj() if callable(obj) else obj, dtype=float).ravel()
            except (TypeError, ValueError):
                continue
            if c.size == n and np.all(np.isfinite(c)) and np.all(np.diff(c) > 0):
                return c
    return erb_centres(n)


def freq_text(f: float) -> str:
    if f >= 10000:
        return f"{f / 1000:.0f}k"
    if f >= 1000:
        return f"{f / 1000:.1f}k".replace(".0k", "k")
    return f"{f:.0f}"


class DriftBars(QWidget):
    """40 vertical lift bars (dB), coloured by each band's heat, on a frequency
    axis with round ticks; a dashed line marks the max-lift cap. Behind them,
    on a dBFS scale (right axis), each band's level going in (shaded), what
    DRIFT lifts it to (a lighter cap: level + lift) and its learned noise floor
    (a mark per band, joined by a line): a band whose level sits on its floor
    is guarded, not lifted."""

    LEVEL_MIN_DB = -120.0

    def __init__(self, centres=None, max_db: float = 30.0, parent=None):
        super().__init__(parent)
        self.centres = np.asarray(centres if centres is not None else band_centres(), float)
        n = self.centres.size
        self.lift = np.zeros(n)
        self.heat = np.zeros(n)
        self.level = np.full(n, -240.0)
        self.floor = np.full(n, -240.0)
        self.max_db = max_db
        self.cap = None
        self.active = True
        self._hover = -1
        self._bg = None              # cached static layer (grid, labels, legend)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setObjectName("drift_bars")
        self.setMinimumSize(360, 180)

    def sizeHint(self) -> QSize:
        return QSize(600, 300)

    def set_values(self, lift, heat):
        lift = np.asarray(lift, float)
        heat = np.asarray(heat, float)
        new_lift, new_heat = self.lift, self.heat
        if lift.size == self.lift.size:
            new_lift = np.nan_to_num(lift, nan=0.0, posinf=self.max_db, neginf=0.0)
        if heat.size == self.heat.size:
            new_heat = np.clip(np.nan_to_num(heat, nan=0.0), 0.0, 1.0)
        # repaint only for a visible change (keeps an idle window idle)
        if np.max(np.abs(new_lift - self.lift)) > 0.02 or np.max(np.abs(new_heat - self.heat)) > 0.004:
            self.lift, self.heat = new_lift, new_heat
            self.update()

    def set_levels(self, level_db, floor_db):
        """The bands' levels and learned floors (dBFS) from the meter snapshot."""
        level = np.asarray(level_db, float)
        floor = np.asarray(floor_db, float)
        if level.size != self.level.size or floor.size != self.floor.size:
            return
        level = np.nan_to_num(level, nan=-240.0, posinf=0.0, neginf=-240.0)
        floor = np.nan_to_num(floor, nan=-240.0, posinf=0.0, neginf=-240.0)
        if np.max(np.abs(level - self.level)) > 0.3 or np.max(np.abs(floor - self.floor)) > 0.3:
            self.level, self.floor = level, floor
            self.update()

    def _dbfs_y(self, db, top, ph):
        lo = self.LEVEL_MIN_DB
        return top + ph - (min(max(db, lo), 0.0) - lo) / -lo * ph

    def set_cap(self, cap_db):
        if cap_db != self.cap:
            self.cap = cap_db
            self._bg = None
            self.update()

    def set_active(self, on: bool):
        if on != self.active:
            self.active = on
            self.update()

    def resizeEvent(self, e):
        self._bg = None
        super().resizeEvent(e)

    TICKS_HZ = (20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)

    def tick_frequencies(self):
        """Round frequencies for the axis (the bands' own centres are 261, 458 ...)."""
        return [f for f in self.TICKS_HZ if self.centres[0] <= f <= self.centres[-1]]

    def x_of_frequency(self, f: float) -> float:
        """Where frequency f sits on the bar axis: between the bars of the band
        centres around it, by ERB number (the bands are equally spaced in it)."""
        left, top, pw, ph = self._geometry()
        slot = pw / self.centres.size
        e = 21.4 * np.log10(1.0 + 0.00437 * np.asarray(self.centres, float))
        i = float(np.interp(21.4 * np.log10(1.0 + 0.00437 * f), e, np.arange(e.size)))
        return left + (i + 0.5) * slot

    def _geometry(self):
        w, h = self.width(), self.height()
        left, right, top, bottom = 30.0, 34.0, 26.0, 22.0
        return left, top, w - left - right, h - top - bottom

    def bar_index_at(self, x: float) -> int:
        left, top, pw, ph = self._geometry()
        i = int((x - left) / (pw / self.lift.size))
        return i if 0 <= i < self.lift.size else -1

    def mouseMoveEvent(self, e):
        i = self.bar_index_at(e.position().x())
        if i != self._hover:
            self._hover = i
            if i >= 0:
                floor = (f"{self.floor[i]:.0f} dBFS" if self.floor[i] > -200 else "not learned")
                self.setToolTip(f"band {i + 1}: {self.centres[i]:.0f} Hz — lift "
                                f"{self.lift[i]:.1f} dB, heat {self.heat[i]:.2f}<br>"
                                f"level {max(self.level[i], -199):.0f} dBFS, noise floor {floor}")
            else:
                self.setToolTip("")
            self.update()

    def leaveEvent(self, e):
        self._hover = -1
        self.update()

    def _background(self) -> QPixmap:
        dpr = self.devicePixelRatioF()
        pm = QPixmap(int(self.width() * dpr), int(self.height() * dpr))
        pm.setDevicePixelRatio(dpr)
        pm.fill(Qt.GlobalColor.transparent)
        qp = QPainter(pm)
        qp.setRenderHint(QPainter.RenderHint.Antialiasing)
        left, top, pw, ph = self._geometry()
        n = self.lift.size
        qp.setFont(theme.ui_font(11, bold=True))
        qp.setPen(theme.accent("drift"))
        qp.drawText(QRectF(left, 0, pw, 20), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                    "DRIFT LIFT  ·  40 BANDS")
        lg_w = 90.0
        lx = left + pw - lg_w
        qp.setFont(theme.ui_font(9))
        qp.setPen(QColor(theme.TEXT_DIM))
        qp.drawText(QRectF(lx - 40, 0, 36, 20), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                    "heat")
        grad = QLinearGradient(lx, 0, lx + lg_w, 0)
        for t in (0.0, 0.35, 0.65, 1.0):
            grad.setColorAt(t, theme.heat_colour(t))
        qp.fillRect(QRectF(lx, 7, lg_w, 6), grad)
        slot = pw / n
        bw = max(2.0, slot * 0.72)
        trough = QColor(theme.TRACK)
        trough.setAlpha(110)
        for i in range(n):
            x = left + i * slot + (slot - bw) / 2
            qp.fillRect(QRectF(x, top, bw, ph), trough)
        step = 6 if self.max_db <= 36 else 12
        for db in range(0, int(self.max_db) + 1, step):
            y = top + ph - db / self.max_db * ph
            qp.setPen(QPen(QColor(theme.BORDER), 1, Qt.PenStyle.SolidLine if db == 0
                           else Qt.PenStyle.DotLine))
            qp.drawLine(QPointF(left, y), QPointF(left + pw, y))
            qp.setPen(QColor(theme.TEXT_DIM))
            qp.drawText(QRectF(0, y - 7, left - 5, 14),
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                        f"+{db}" if db else "0")
        qp.setPen(QColor(theme.TEXT_FAINT))
        qp.drawText(QRectF(0, top - 18, left + 20, 12),
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, "dB")
        qp.drawText(QRectF(left + pw + 2, top - 18, 40, 12),
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, "dBFS")
        for db in range(int(self.LEVEL_MIN_DB), 1, 30):
            y = self._dbfs_y(db, top, ph)
            qp.drawText(QRectF(left + pw + 3, y - 7, 32, 14),
                        Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, str(db))
        if self.cap is not None and 0 < self.cap <= self.max_db:
            y = top + ph - self.cap / self.max_db * ph
            qp.setPen(QPen(theme.accent("drift"), 1, Qt.PenStyle.DashLine))
            qp.drawLine(QPointF(left, y), QPointF(left + pw, y))
            qp.setFont(theme.ui_font(9))
            qp.drawText(QRectF(left + pw - 90, y - 14, 88, 12),
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                        f"max lift {self.cap:.0f} dB")
        qp.setFont(theme.ui_font(9))
        fm = QFontMetrics(qp.font())
        lw = fm.horizontalAdvance("20k") + 8
        last = -1e9
        for f in self.tick_frequencies():
            cx = self.x_of_frequency(f)
            if cx - last < lw:
                continue                      # no room: the next round frequency
            last = cx
            qp.setPen(QColor(theme.TEXT_DIM))
            qp.drawText(QRectF(cx - lw / 2, top + ph + 4, lw, 14), Qt.AlignmentFlag.AlignCenter,
                        freq_text(f))
            qp.setPen(QPen(QColor(theme.TEXT_FAINT), 1))
            qp.drawLine(QPointF(cx, top + ph), QPointF(cx, top + ph + 3))
        qp.end()
        return pm

    def paintEvent(self, _e):
        if self._bg is None or self._bg.deviceIndependentSize().toSize() != self.size():
            self._bg = self._background()
        qp = QPainter(self)
        qp.drawPixmap(0, 0, self._bg)
        left, top, pw, ph = self._geometry()
        n = self.lift.size
        slot = pw / n
        bw = max(2.0, slot * 0.72)
        faint = QColor(theme.TEXT_FAINT)
        # behind the bars: band levels (dBFS) and the learned floors
        shade = QColor(theme.TEXT_FAINT)
        shade.setAlpha(45)
        floor_pts = []
        after = QColor(theme.TEXT)
        after.setAlpha(90)
        for i in range(n):
            x = left + i * slot + (slot - bw) / 2
            if self.level[i] > self.LEVEL_MIN_DB:
                y = self._dbfs_y(self.level[i], top, ph)
                qp.fillRect(QRectF(x, y, bw, top + ph - y), shade)
                if self.lift[i] > 0.05:       # the band after DRIFT: its level plus its lift
                    ya = self._dbfs_y(self.level[i] + self.lift[i], top, ph)
                    qp.fillRect(QRectF(x, ya, bw, max(1.0, y - ya)), after)
            if self.floor[i] > self.LEVEL_MIN_DB:
                floor_pts.append(QPointF(left + (i + 0.5) * slot,
                                         self._dbfs_y(self.floor[i], top, ph)))
        if floor_pts:
            guard = QColor(theme.TEXT_DIM)
            qp.setPen(QPen(guard, 1, Qt.PenStyle.DotLine))
            for a, b in zip(floor_pts[:-1], floor_pts[1:], strict=True):
                qp.drawLine(a, b)
            qp.setPen(QPen(guard, 2))
            for pt in floor_pts:
                qp.drawLine(QPointF(pt.x() - bw / 2, pt.y()), QPointF(pt.x() + bw / 2, pt.y()))
        for i in range(n):
            v = min(max(self.lift[i], 0.0), self.max_db)
            bh = v / self.max_db * ph
            if bh < 0.3:
                continue
            x = left + i * slot + (slot - bw) / 2
            c = theme.heat_colour(self.heat[i]) if self.active else faint
            qp.fillRect(QRectF(x, top + ph - bh, bw, bh), c.darker(135))
            qp.fillRect(QRectF(x, top + ph - bh, bw, min(bh, 3.0)), c.lighter(115))
        if 0 <= self._hover < n:
            x = left + self._hover * slot + (slot - bw) / 2
            qp.setPen(QPen(QColor(theme.TEXT), 1))
            qp.drawRect(QRectF(x - 1, top, bw + 2, ph))
        qp.end()
