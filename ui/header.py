"""Header buttons whose text gives way before the window has to scroll.

The preset and audio buttons carry texts of any length (a user preset's name,
"Demo · JACK · 48 kHz · 64 frames", a device name). As plain QToolButtons
their full text was their minimum width, so a long one pushed the header past
1280 px and the whole window scrolled sideways. `ElidedToolButton` asks for
its full text's width, takes less when the header is short of room, and then
shows the text with single spaces, or if that is still too long cut with "…"
(the menu arrow kept); `text()` is always the
full text, which the tooltip also shows. Before any text is cut, `Header`
hides what is only decoration.
"""
from __future__ import annotations

from PyQt6.QtCore import QSize, Qt
from PyQt6.QtWidgets import QFrame, QSizePolicy, QToolButton

ARROW = "▾"


class ElidedToolButton(QToolButton):
    def __init__(self, min_width: int = 100, parent=None):
        super().__init__(parent)
        self._full = ""
        self._tip = ""
        self._min_width = min_width
        # a QToolButton is Fixed: it could never be narrower than its text
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def text(self) -> str:
        return self._full

    def setText(self, text: str) -> None:
        self._full = text
        self._refresh_tip()
        self._elide()
        self.updateGeometry()

    def setToolTip(self, tip: str) -> None:
        self._tip = tip
        self._refresh_tip()

    def _refresh_tip(self) -> None:
        shown = self._full.replace(ARROW, "").strip()
        super().setToolTip(f"{shown}<br>{self._tip}" if shown and self._tip else self._tip or shown)

    def _padding(self) -> int:
        """What the button adds around its text (frame, style sheet padding)."""
        return super().sizeHint().width() - self.fontMetrics().horizontalAdvance(super().text())

    def sizeHint(self) -> QSize:
        s = super().sizeHint()
        return QSize(self._padding() + self.fontMetrics().horizontalAdvance(self._full), s.height())

    def minimumSizeHint(self) -> QSize:
        return QSize(min(self._min_width, self.sizeHint().width()), super().minimumSizeHint().height())

    def resizeEvent(self, e):
        super().resizeEvent(e)
        self._elide()

    def _elide(self) -> None:
        fm = self.fontMetrics()
        room = self.width() - self._padding()
        text = self._full
        if fm.horizontalAdvance(text) > room:
            text = " ".join(text.split())          # first the double spaces go
        if fm.horizontalAdvance(text) > room:
            body, arrow = text, ""
            if text.rstrip().endswith(ARROW):
                body = text.rstrip()[:-1].rstrip()
                arrow = " " + ARROW
            text = fm.elidedText(body, Qt.TextElideMode.ElideRight,
                                 max(0, room - fm.horizontalAdvance(arrow))) + arrow
        if super().text() != text:
            super().setText(text)


class Header(QFrame):
    """The header bar: when it is short of room, its `optional` widgets (the
    word mark's subtitle) are hidden first, before the buttons cut their texts."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.optional: list = []

    def resizeEvent(self, e):
        super().resizeEvent(e)
        self.fit()

    def fit(self) -> None:
        lay = self.layout()
        if lay is None:
            return
        need = lay.sizeHint().width() + sum(w.sizeHint().width() + lay.spacing()
                                            for w in self.optional if w.isHidden())
        show = need <= self.width()
        for w in self.optional:
            if w.isHidden() == show:
                w.setVisible(show)
