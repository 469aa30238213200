"""Switches for `bool` and `enum` parameters (same API as `Knob`)."""
from __future__ import annotations

from PyQt6.QtCore import QRectF, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QPainter, QPainterPath, QPen
from PyQt6.QtWidgets import (
    QAbstractButton,
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.params import Param

from . import theme
from .knob import ParamControl


class _MidiMixin(ParamControl):
    def _init_midi(self):
        self._learning = False
        self._mapping = None

    def setMidiLearning(self, on: bool) -> None:
        self._learning = bool(on)
        self._refresh_midi()

    def setMidiMapping(self, text) -> None:
        self._mapping = str(text) if text not in (None, "") else None
        self._refresh_midi()

    def _refresh_midi(self):
        tip = f"<b>{self.param.label}</b> ({self.param.range_text})"
        if self.param.notes:
            tip += f"<br><i>{self.param.notes}</i>"
        if self._mapping:
            tip += f"<br>MIDI: {self._mapping}"
        if self._learning:
            tip += "<br>MIDI learn: move a controller (Esc cancels)"
        self.setToolTip(tip)
        self.update()

    def _context_menu(self, pos):
        menu = QMenu(self)
        self._midi_menu(menu)
        menu.addSeparator()
        menu.addAction("Reset to default", self.resetToDefault)
        menu.exec(self.mapToGlobal(pos))

    def _midi_key(self, e) -> bool:
        if e.key() == Qt.Key.Key_Escape and self._learning:
            self.cancelMidiLearn()
            e.accept()
            return True
        return False


class _CheckableMixin:
    """A bool parameter on a checkable button: value 0/1, quiet programmatic sets."""

    def value(self) -> float:
        return 1.0 if self.isChecked() else 0.0

    def setValue(self, v: float) -> None:
        self._quiet = True
        try:
            self.setChecked(float(v) >= 0.5)
        finally:
            self._quiet = False

    def resetToDefault(self) -> None:
        self.setChecked(self.param.default >= 0.5)

    def _on_toggled(self, on: bool):
        self.update()
        if not self._quiet:
            self.valueChanged.emit(self.param.id, 1.0 if on else 0.0)


class ToggleSwitch(_CheckableMixin, QPushButton, _MidiMixin):
    """A checkable button for a bool parameter (label on the button)."""
    valueChanged = pyqtSignal(str, float)
    midiLearnRequested = pyqtSignal(str)
    midiForgetRequested = pyqtSignal(str)
    midiLearnCancelled = pyqtSignal(str)

    def __init__(self, p: Param, parent=None, text: str | None = None, object_name: str = ""):
        super().__init__(text if text is not None else p.label, parent)
        assert p.kind == "bool", p.id
        self.param = p
        self._init_midi()
        self.setCheckable(True)
        self.setChecked(p.default >= 0.5)
        if object_name:
            self.setObjectName(object_name)
        self.setAccessibleName(p.label)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self.toggled.connect(self._on_toggled)
        self._quiet = False
        self._refresh_midi()

    def keyPressEvent(self, e):
        if not self._midi_key(e):
            super().keyPressEvent(e)

    def paintEvent(self, e):
        super().paintEvent(e)
        qp = QPainter(self)
        qp.setRenderHint(QPainter.RenderHint.Antialiasing)
        if not self.objectName():
            # a panel toggle (auto makeup) shows a small switch, so it does not
            # read as a one-shot button: the dot sits right and lit when on
            h = 10.0
            track = QRectF(8, (self.height() - h) / 2, 20, h)
            on = self.isChecked()
            qp.setPen(Qt.PenStyle.NoPen)
            qp.setBrush(theme.accent(self.param.group) if on else QColor(theme.TRACK))
            qp.drawRoundedRect(track, h / 2, h / 2)
            qp.setBrush(QColor(theme.TEXT if on else theme.TEXT_DIM))
            x = track.right() - h + 1 if on else track.left() + 1
            qp.drawEllipse(QRectF(x, track.top() + 1, h - 2, h - 2))
        if self._learning or self._mapping:
            qp.setPen(Qt.PenStyle.NoPen)
            qp.setBrush(QColor(theme.LEARN))
            qp.drawEllipse(QRectF(self.width() - 8, 3, 5, 5))
        qp.end()


class PowerSwitch(_CheckableMixin, QAbstractButton, _MidiMixin):
    """A stage on/off pill for a panel title (gate_on, drift_on, ...): lit when on."""
    valueChanged = pyqtSignal(str, float)
    midiLearnRequested = pyqtSignal(str)
    midiForgetRequested = pyqtSignal(str)
    midiLearnCancelled = pyqtSignal(str)

    def __init__(self, p: Param, accent: QColor, parent=None):
        super().__init__(parent)
        assert p.kind == "bool", p.id
        self.param = p
        self._accent = QColor(accent)
        self._init_midi()
        self.setCheckable(True)
        self.setChecked(p.default >= 0.5)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setAccessibleName(p.label)
        self.setObjectName(f"power_{p.id}")
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self.toggled.connect(self._on_toggled)
        self._quiet = False
        self._refresh_midi()

    def sizeHint(self) -> QSize:
        return QSize(50, 20)

    def keyPressEvent(self, e):
        if not self._midi_key(e):
            super().keyPressEvent(e)

    def paintEvent(self, _e):
        qp = QPainter(self)
        qp.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(0.5, 0.5, self.width() - 1, self.height() - 1)
        on = self.isChecked()
        path = QPainterPath()
        path.addRoundedRect(r, r.height() / 2, r.height() / 2)
        fill = QColor(self._accent)
        fill.setAlpha(55 if on else 0)
        qp.fillPath(path, fill if on else QColor(theme.BG))
        border = QColor(self._accent) if on else QColor(theme.BORDER)
        if self.hasFocus():
            border = border.lighter(130)
        qp.setPen(QPen(border, 1.0))
        qp.drawPath(path)
        led = QColor(self._accent) if on else QColor(theme.TEXT_FAINT)
        qp.setPen(Qt.PenStyle.NoPen)
        qp.setBrush(led)
        h = r.height()
        qp.drawEllipse(QRectF(r.left() + h * 0.32, r.top() + h * 0.32, h * 0.36, h * 0.36))
        qp.setPen(QColor(theme.TEXT) if on else QColor(theme.TEXT_DIM))
        qp.setFont(theme.ui_font(10, bold=True))
        qp.drawText(QRectF(r.left() + h * 0.75, r.top(), r.width() - h * 0.9, h),
                    Qt.AlignmentFlag.AlignCenter, "ON" if on else "OFF")
        if self._learning or self._mapping:
            qp.setBrush(QColor(theme.LEARN))
            qp.setPen(Qt.PenStyle.NoPen)
            qp.drawEllipse(QRectF(r.right() - 6, r.top() + 1, 4, 4))
        qp.end()


class EnumSwitch(QWidget, _MidiMixin):
    """A labelled segmented control for an enum parameter (one button per choice)."""
    valueChanged = pyqtSignal(str, float)
    midiLearnRequested = pyqtSignal(str)
    midiForgetRequested = pyqtSignal(str)
    midiLearnCancelled = pyqtSignal(str)

    def __init__(self, p: Param, parent=None):
        super().__init__(parent)
        assert p.kind == "enum", p.id
        self.param = p
        self._init_midi()
        self.setObjectName(f"enum_{p.id}")
        self.setAccessibleName(p.label)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        self.label = QLabel(p.label)
        self.label.setObjectName("switchLabel")
        lay.addWidget(self.label)
        row = QHBoxLayout()
        row.setSpacing(0)
        lay.addLayout(row)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: list[QPushButton] = []
        n = len(p.choices)
        for i, choice in enumerate(p.choices):
            b = QPushButton(choice)
            b.setObjectName("segment")
            b.setCheckable(True)
            b.setProperty("first", i == 0)
            b.setProperty("last", i == n - 1)
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            b.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            b.customContextMenuRequested.connect(
                lambda pos, b=b: self._context_menu(b.mapTo(self, pos)))
            self.group.addButton(b, i)
            row.addWidget(b)
            self.buttons.append(b)
        self._index = int(p.default)
        self.buttons[self._index].setChecked(True)
        self.group.idClicked.connect(self._on_clicked)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self._refresh_midi()

    def value(self) -> float:
        return float(self._index)

    def setValue(self, v: float) -> None:
        i = int(round(float(v)))
        if 0 <= i < len(self.buttons):
            self._index = i
            self.buttons[i].setChecked(True)

    def resetToDefault(self) -> None:
        self._on_clicked(int(self.param.default))

    def _on_clicked(self, i: int):
        self.buttons[i].setChecked(True)
        if i != self._index:
            self._index = i
            self.valueChanged.emit(self.param.id, float(i))

    def keyPressEvent(self, e):
        if not self._midi_key(e):
            super().keyPressEvent(e)

    def _refresh_midi(self):
        super()._refresh_midi()
        if hasattr(self, "label"):
            mark = "  ●" if (self._learning or self._mapping) else ""
            self.label.setText(self.param.label + mark)


class EnumMenuButton(QToolButton, _MidiMixin):
    """A header-sized control for an enum parameter: one button showing
    "LABEL · CHOICE" that opens a menu of the choices; lit while the choice is
    not the default (e.g. LISTEN · DRIFT). Same API as EnumSwitch."""
    valueChanged = pyqtSignal(str, float)
    midiLearnRequested = pyqtSignal(str)
    midiForgetRequested = pyqtSignal(str)
    midiLearnCancelled = pyqtSignal(str)

    def __init__(self, p: Param, parent=None):
        super().__init__(parent)
        assert p.kind == "enum", p.id
        self.param = p
        self._init_midi()
        self.setObjectName(p.id)
        self.setAccessibleName(p.label)
        self.setCheckable(True)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self)
        menu.aboutToShow.connect(self._fill_menu)     # MIDI entries read the learn state
        self.setMenu(menu)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._context_menu)
        self._index = int(p.default)
        self._show()
        self._refresh_midi()

    def _fill_menu(self):
        menu = self.menu()
        menu.clear()
        for i, choice in enumerate(self.param.choices):
            a = menu.addAction(choice)
            a.setCheckable(True)
            a.setChecked(i == self._index)
            a.triggered.connect(lambda _=False, i=i: self._on_chosen(i))
        menu.addSeparator()
        self._midi_menu(menu)

    def value(self) -> float:
        return float(self._index)

    def setValue(self, v: float) -> None:
        i = int(round(float(v)))
        if 0 <= i < len(self.param.choices):
            self._index = i
            self._show()

    def resetToDefault(self) -> None:
        self._on_chosen(int(self.param.default))

    def _on_chosen(self, i: int):
        if i != self._index:
            self._index = i
            self._show()
            self.valueChanged.emit(self.param.id, float(i))

    def _show(self):
        self.setText(f"{self.param.label.upper()} · {self.param.choices[self._index].upper()}")
        self.setChecked(self._index != int(self.param.default))

    def keyPressEvent(self, e):
        if not self._midi_key(e):
            super().keyPressEvent(e)
