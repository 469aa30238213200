"""pyqtgraph pens whose widths are in the window's own (logical) pixels.

pyqtgraph's pens are cosmetic, and Qt draws a cosmetic pen's width in device
pixels: on a 2× (HiDPI) screen a 1.5 px curve came out half as thick as
everything else in the window, whose QPainter-drawn parts scale. `ScaledPens`
keeps a widget's pyqtgraph pens at width × the widget's device pixel ratio,
and follows the ratio when the window moves to another screen.
"""
from __future__ import annotations

import pyqtgraph as pg
from PyQt6.QtCore import QEvent

#: events after which the widget's device pixel ratio may have changed
RATIO_EVENTS = tuple(t for t in (getattr(QEvent.Type, "DevicePixelRatioChange", None),
                                 QEvent.Type.Show) if t is not None)


class ScaledPens:
    def __init__(self, widget):
        self.widget = widget
        self._items: list = []
        self.ratio = self._ratio()

    def _ratio(self) -> float:
        return float(self.widget.devicePixelRatioF() or 1.0)

    def add(self, set_pen, colour, width: float = 1.0, **kw) -> None:
        """Give an item (its setPen, or any setter taking a pen) a pen of
        `width` logical pixels, now and whenever the ratio changes."""
        self._items.append((set_pen, colour, width, kw))
        set_pen(pg.mkPen(colour, width=width * self.ratio, **kw))

    def follow(self, event) -> None:
        """Call from the widget's event(): re-apply the pens if its ratio changed."""
        if event.type() in RATIO_EVENTS:
            ratio = self._ratio()
            if ratio != self.ratio:
                self.ratio = ratio
                for set_pen, colour, width, kw in self._items:
                    set_pen(pg.mkPen(colour, width=width * ratio, **kw))
