"""The last 10 s, scrolling: input and output level, SETTLE's gain reduction and
what DRIFT adds overall, drawn from the meter snapshots the window already
reads (nothing more is asked of the audio thread)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from app.session.headless import overall_lift_db

from . import theme
from .pens import ScaledPens

SECONDS = 10.0


class HistoryPlot(pg.GraphicsLayoutWidget):
    """Two stacked plots over the same time axis: levels (dBFS) on top, SETTLE's
    reduction (down) and DRIFT's lift (up) in dB below."""

    pens: ScaledPens | None = None

    def __init__(self, rate_hz: float = 30.0, parent=None):
        super().__init__(parent)
        self.setObjectName("history")
        self.setBackground(None)
        self.pens = ScaledPens(self)
        self.n = int(SECONDS * rate_hz)
        self.t = np.linspace(-SECONDS, 0.0, self.n)
        self.data = {k: np.full(self.n, np.nan) for k in ("in", "out", "gr", "lift")}
        self.levels = self.addPlot(row=0, col=0)
        self.dyn = self.addPlot(row=1, col=0)
        for p in (self.levels, self.dyn):
            p.setMouseEnabled(x=False, y=False)
            p.hideButtons()
            p.setMenuEnabled(False)
            p.setXRange(-SECONDS, 0.0, padding=0)
            p.showGrid(x=True, y=True, alpha=0.15)
        self.levels.setYRange(-72.0, 0.0, padding=0)
        self.levels.setLabel("left", "dBFS")
        self.dyn.setYRange(-18.0, 18.0, padding=0)
        self.dyn.setLabel("left", "dB")
        self.dyn.setLabel("bottom", "s")
        self.levels.getAxis("bottom").setStyle(showValues=False)
        self.levels.addLegend(offset=(6, 4), labelTextSize="8pt")
        self.dyn.addLegend(offset=(6, 4), labelTextSize="8pt")
        self.curves = {}
        for key, plot, colour, width, name in (
                ("in", self.levels, theme.TEXT_DIM, 1.0, "in"),
                ("out", self.levels, theme.accent("output"), 1.5, "out"),
                ("gr", self.dyn, theme.GR_COLOUR, 1.5, "SETTLE −GR"),
                ("lift", self.dyn, theme.accent("drift"), 1.5, "DRIFT lift")):
            self.curves[key] = plot.plot(name=name, antialias=True)
            self.pens.add(self.curves[key].setPen, colour, width)
        for plot in (self.levels, self.dyn):
            for side in ("left", "bottom"):
                self.pens.add(plot.getAxis(side).setPen, theme.TEXT_DIM)

    def event(self, e):
        if self.pens is not None:        # events arrive from within super().__init__
            self.pens.follow(e)
        return super().event(e)

    def push(self, m: dict) -> None:
        """One meter snapshot (Engine.meters() form)."""
        if not m or "in_peak_db" not in m:
            return
        values = {"in": max(m["in_peak_db"]), "out": max(m.get("out_peak_db") or [-240.0]),
                  "gr": -max(0.0, m.get("settle_gr_db", 0.0)), "lift": overall_lift_db(m)}
        for k, v in values.items():
            d = self.data[k]
            d[:-1] = d[1:]
            d[-1] = max(v, -200.0)

    def redraw(self) -> None:
        for k, c in self.curves.items():
            c.setData(self.t, self.data[k], connect="finite")
