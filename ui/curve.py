"""The transfer curve: the whole chain's static input→output curve for a steady
signal (engine/curve.py), redrawn when a parameter changes, with the live
detector dot riding on it.

The curve itself comes only from the engine's static-curve function; if that
module is not available the plot shows its frame, the unity line and the
stage thresholds, and says the curve is unavailable — it never draws an
invented curve.
"""
from __future__ import annotations

import importlib

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QColor, QFont
from PyQt6.QtWidgets import QSizePolicy

from engine.params import BY_ID

from . import theme
from .pens import ScaledPens

X_MIN, X_MAX = -96.0, 0.0
Y_MIN, Y_MAX = -96.0, 6.0
STEP_DB = 0.5

#: Pre-SETTLE settings: the chain up to SETTLE's detector (input gain, GATE, DRIFT).
PRE_DETECTOR = {"settle_on": 0.0, "limiter_on": 0.0, "mix": 100.0, "output_gain": 0.0,
                "listen": 0.0, "bypass": 0.0}


def find_curve_function():
    """f(values: dict, levels_db: ndarray) -> output dBFS, from engine/curve.py
    (chain_curve_db(levels_db, values)); None while that module is missing."""
    try:
        mod = importlib.import_module("engine.curve")
    except ImportError:
        return None
    fn = getattr(mod, "chain_curve_db", None)
    if not callable(fn):
        return None

    def curve(values, levels):
        lv = np.asarray(levels, dtype=float)
        return np.asarray(fn(lv, values), dtype=float).reshape(lv.shape)
    curve.__name__ = "engine.curve.chain_curve_db"
    return curve


class TransferCurve(pg.PlotWidget):
    pens: ScaledPens | None = None

    def __init__(self, curve_fn="auto", parent=None):
        super().__init__(parent=parent, background=theme.PANEL)
        self.curve_fn = find_curve_function() if curve_fn == "auto" else curve_fn
        self.setObjectName("transfer_curve")
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 220)
        self.pens = ScaledPens(self)
        pi = self.getPlotItem()
        pi.setMenuEnabled(False)
        pi.hideButtons()
        self.setMouseEnabled(False, False)
        pi.showGrid(x=True, y=True, alpha=0.12)
        pi.setRange(xRange=(X_MIN, X_MAX), yRange=(Y_MIN, Y_MAX), padding=0.0)
        font = QFont()
        font.setPixelSize(10)
        for side in ("left", "bottom"):
            ax = pi.getAxis(side)
            self.pens.add(ax.setPen, theme.BORDER)
            ax.setTextPen(pg.mkPen(theme.TEXT_DIM))
            ax.setStyle(tickFont=font, tickLength=-4)
            ax.setTickSpacing(24, 12)
        pi.getAxis("left").setWidth(32)
        pi.getAxis("bottom").setHeight(22)
        pi.setTitle(f"<span style='color:{theme.TEXT_DIM};font-size:11px;font-weight:700;"
                    f"letter-spacing:2px'>TRANSFER CURVE</span>"
                    f"<span style='color:{theme.TEXT_FAINT};font-size:10px'>"
                    f"&nbsp;&nbsp;in → out · dBFS</span>")
        self.unity = pi.plot([X_MIN, X_MAX], [X_MIN, X_MAX])
        self.pens.add(self.unity.setPen, theme.TEXT_FAINT, 1, style=Qt.PenStyle.DashLine)
        self.markers = {}
        for key, group in (("gate", "gate"), ("drift", "drift"), ("settle", "settle"),
                           ("settle2", "settle")):
            c = theme.accent(group)
            c.setAlpha(90)
            line = pg.InfiniteLine(angle=90, movable=False)
            self.pens.add(line.setPen, c, 1, style=Qt.PenStyle.DotLine)
            line.setVisible(False)
            pi.addItem(line)
            self.markers[key] = line
        self.ceiling_line = pg.InfiniteLine(angle=0, movable=False)
        self.pens.add(self.ceiling_line.setPen, QColor(198, 146, 234, 90), 1, style=Qt.PenStyle.DotLine)
        self.ceiling_line.setVisible(False)
        pi.addItem(self.ceiling_line)
        glow = QColor(theme.ACCENT["drift"])
        self.curve_item = pi.plot([], [], antialias=True)
        self.pens.add(self.curve_item.setPen, glow, 2.5)
        self.dot = pg.ScatterPlotItem(size=13, pen=pg.mkPen("#ffffff", width=1.5),
                                      brush=pg.mkBrush(theme.ACCENT["settle"]), antialias=True)
        pi.addItem(self.dot)
        self.det_line = pg.InfiniteLine(angle=90, movable=False)
        self.pens.add(self.det_line.setPen, QColor(255, 255, 255, 70), 1)
        self.det_line.setVisible(False)
        pi.addItem(self.det_line)
        self.message = pg.TextItem("", color=theme.TEXT_DIM, anchor=(0.5, 0.5))
        self.message.setPos((X_MIN + X_MAX) / 2, (Y_MIN + Y_MAX) / 2 + 12)
        pi.addItem(self.message)
        self._x = np.arange(X_MIN, X_MAX + STEP_DB / 2, STEP_DB)
        self._y = None
        self._pre = None
        self._y_version = 0
        self._det_key = None
        self._det_version = -1
        self.error = None
        self._pending = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(25)
        self._timer.timeout.connect(self._recompute)
        if self.curve_fn is None:
            self.message.setText("static curve not available\n(engine.curve missing)")

    def event(self, e):
        if self.pens is not None:        # events arrive from within super().__init__
            self.pens.follow(e)
        return super().event(e)

    # --- data ---
    def set_curve_function(self, fn) -> None:
        self.curve_fn = fn
        self.message.setText("" if fn else "static curve not available\n(engine.curve missing)")

    def set_values(self, values: dict, now: bool = False) -> None:
        """Parameters changed: redraw (debounced, so a fast drag stays smooth)."""
        self._pending = dict(values)
        self._update_markers(self._pending)
        if now:
            self._recompute()
        elif not self._timer.isActive():
            self._timer.start()

    def _update_markers(self, v: dict):
        def show(key, on, x):
            m = self.markers[key]
            m.setVisible(bool(on))
            if on:
                m.setValue(x)
        def val(k):                       # a value not given yet is the table's default
            return v.get(k, BY_ID[k].default)
        show("gate", val("gate_on") >= 0.5, val("gate_threshold"))
        show("drift", val("drift_on") >= 0.5, val("drift_threshold"))
        show("settle", val("settle_on") >= 0.5, val("threshold"))
        show("settle2", val("settle_on") >= 0.5 and val("ratio2") > 1.0, val("threshold2"))
        lim = val("limiter_on") >= 0.5
        self.ceiling_line.setVisible(lim)
        if lim:
            self.ceiling_line.setValue(val("ceiling"))

    def _recompute(self):
        if self._pending is None or self.curve_fn is None:
            return
        values, self._pending = self._pending, None
        try:
            y = np.asarray(self.curve_fn(values, self._x), dtype=float)
            pre = np.asarray(self.curve_fn(dict(values, **PRE_DETECTOR), self._x), dtype=float)
            self.error = None
        except Exception as e:       # a curve bug must not take the window down
            self.error = f"{type(e).__name__}: {e}"
            self.message.setText("static curve failed:\n" + self.error[:80])
            return
        self.message.setText("")
        self._y = y
        # SETTLE's detector sees the level after input gain, GATE and DRIFT: map it back
        # to the chain input through that (monotone) part of the same curve
        ok_pre = np.isfinite(pre)
        self._pre = pre if ok_pre.all() and np.all(np.diff(pre) >= -1e-9) else None
        self._y_version += 1
        ok = np.isfinite(y)
        self.curve_item.setData(self._x[ok], np.clip(y[ok], Y_MIN - 24, Y_MAX + 24))

    def curve_data(self):
        """(input dBFS, output dBFS) as plotted."""
        x, y = self.curve_item.getData()
        return (np.asarray(x) if x is not None else np.array([]),
                np.asarray(y) if y is not None else np.array([]))

    def input_for_detector(self, det_db: float) -> float:
        """Chain input level whose steady sine gives this detector level."""
        if self._pre is not None and self._pre[-1] > self._pre[0]:
            x = float(np.interp(det_db, self._pre, self._x))
        else:
            x = det_db
        return min(max(x, X_MIN), X_MAX)

    def output_at(self, x_db: float):
        if self._y is None:
            return None
        return float(np.interp(x_db, self._x, self._y))

    # --- the live dot ---
    def set_detector(self, det_db: float | None) -> None:
        key = None if det_db is None or not np.isfinite(det_db) or det_db < X_MIN \
            else round(float(det_db) * 10)          # 0.1 dB: no repaint for invisible moves
        if key == self._det_key and self._y_version == self._det_version:
            return
        self._det_key, self._det_version = key, self._y_version
        if key is None:
            self.dot.setData([], [])
            self.det_line.setVisible(False)
            return
        x = self.input_for_detector(float(det_db))
        y = self.output_at(x)
        if y is None:
            self.dot.setData([], [])
            self.det_line.setVisible(True)
            self.det_line.setValue(x)
            return
        self.det_line.setVisible(False)
        self.dot.setData([x], [min(max(y, Y_MIN), Y_MAX)])

    def dot_position(self):
        pts = self.dot.data
        if len(pts) == 0:
            return None
        return float(pts[0]["x"]), float(pts[0]["y"])
