"""The last 10 s, scrolling: input and output level, SETTLE's gain reduction and
what DRIFT adds overall, drawn from the meter snapshots the window already
reads (nothing more is asked of the audio thread)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from app.session.headless import overall_lift_db

from . import theme

SECONDS = 10.0


class HistoryPlot(pg.GraphicsLayoutWidget):
    """Two stacked plots over the same time axis: levels (dBFS) on top, SETTLE's
    reduction (down) and DRIFT's lift (up) in dB below."""

    def __init__(self, rate_hz: float = 30.0, parent=None):
        super().__init__(parent)
        self.setObjectName("history")
        self.setBackground(None)
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
        self.curves = {
            "in": self.levels.plot(pen=pg.mkPen(theme.TEXT_DIM, width=1), name="in"),
            "out": self.levels.plot(pen=pg.mkPen(theme.accent("output"), width=1.5), name="out"),
            "gr": self.dyn.plot(pen=pg.mkPen(theme.GR_COLOUR, width=1.5), name="SETTLE −GR"),
            "lift": self.dyn.plot(pen=pg.mkPen(theme.accent("drift"), width=1.5), name="DRIFT lift"),
        }

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
