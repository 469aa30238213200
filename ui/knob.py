"""The custom-painted knob, built from one `engine.params.Param`.

Conventions (product.md, GUI): drag to turn (up/right increases), Shift-drag
for fine, mouse wheel, double-click resets to the default, keyboard focus
with arrow keys / PageUp / PageDown / Home / End, right-click menu with
"MIDI learn" / "Forget MIDI". The value and unit are always shown under the
knob and are highlighted while the knob turns. The knob position follows the
parameter's taper (`Param.to_norm` / `from_norm`), so times and frequencies
turn logarithmically; ratio 100 reads ∞.

The knob never talks to audio: it emits `valueChanged(param_id, value)` and
the window sends that through the session.
"""
from __future__ import annotations

import math

from PyQt6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QConicalGradient, QFontMetrics, QPainter, QPainterPath, QPen, QRadialGradient
from PyQt6.QtWidgets import QInputDialog, QMenu, QSizePolicy, QWidget

from engine.params import Param

from . import theme

#: Knob sweep: from 7:30 (min) clockwise to 4:30 (max).
START_DEG = 225.0
SWEEP_DEG = 270.0

DRAG_PX_FULL = 220.0       # pixels of drag for the whole range
FINE = 0.1                 # shift multiplier
WHEEL_STEP = 0.02          # per wheel notch (norm units)
KEY_STEP = 0.01
PAGE_STEP = 0.1


def quantize(p: Param, v: float) -> float:
    """Round a knob-made value to a resolution an engineer would read."""
    if p.kind != "float":
        return float(round(v))
    v = float(v)
    if p.infinite_at_max and v >= p.max * 0.995:
        return p.max
    if p.taper == "log" or p.unit in ("ms", "Hz", ":1"):
        a = abs(v)
        if a >= 100:
            q = 1.0
        elif a >= 10:
            q = 0.1
        elif a >= 1:
            q = 0.01
        else:
            q = 0.001
        v = round(v / q) * q
    else:
        v = round(v, 1)
    v = min(max(v, p.min), p.max)
    return float(f"{v:.6g}")


def value_text(p: Param, v: float, with_unit: bool = True) -> str:
    """Readout text: the table's to_text on a display-rounded value."""
    return p.to_text(quantize(p, v), with_unit=with_unit).replace("-", "−")


class ParamControl:
    """What every parameter control offers the window and the MIDI code.

    Signals (defined on the concrete QWidget classes):
      valueChanged(str param_id, float value)   user changed the value
      midiLearnRequested(str param_id)          right-click → MIDI learn
      midiForgetRequested(str param_id)         right-click → Forget MIDI
      midiLearnCancelled(str param_id)          Escape while learning
    Methods: value(), setValue(v) (display only, no signal),
    setMidiLearning(bool), setMidiMapping(text or None).
    """

    param: Param

    @property
    def param_id(self) -> str:
        return self.param.id

    def _midi_menu(self, menu: QMenu) -> None:
        learn = menu.addAction("Cancel MIDI learn" if self._learning else "MIDI learn")
        learn.triggered.connect(self._toggle_learn)
        forget = menu.addAction("Forget MIDI" + (f" ({self._mapping})" if self._mapping else ""))
        forget.triggered.connect(lambda: self.midiForgetRequested.emit(self.param.id))

    def _toggle_learn(self) -> None:
        if self._learning:
            self.cancelMidiLearn()
        else:
            self.setMidiLearning(True)
            self.midiLearnRequested.emit(self.param.id)

    def cancelMidiLearn(self) -> None:
        if self._learning:
            self.setMidiLearning(False)
            self.midiLearnCancelled.emit(self.param.id)

    def isMidiLearning(self) -> bool:
        return self._learning

    def midiMapping(self):
        return self._mapping


class Knob(QWidget, ParamControl):
    valueChanged = pyqtSignal(str, float)
    midiLearnRequested = pyqtSignal(str)
    midiForgetRequested = pyqtSignal(str)
    midiLearnCancelled = pyqtSignal(str)
    gestureStarted = pyqtSignal(str)
    gestureEnded = pyqtSignal(str)

    def __init__(self, p: Param, parent=None, hero: bool = False, accent: QColor | None = None):
        super().__init__(parent)
        if p.kind != "float":
            raise ValueError(f"{p.id}: knobs are for continuous parameters")
        self.param = p
        self.hero = hero
        self._accent = QColor(accent) if accent is not None else theme.accent(p.group)
        self._value = float(p.default)
        self._drag_pos: QPointF | None = None
        self._drag_norm = 0.0
        self._turning = False
        self._active = True
        self._learning = False
        self._mapping: str | None = None
        self._blink = False
        self._learn_timer = QTimer(self)
        self._learn_timer.setInterval(350)
        self._learn_timer.timeout.connect(self._on_blink)
        self._settle_timer = QTimer(self)          # keeps the readout lit briefly after a turn
        self._settle_timer.setSingleShot(True)
        self._settle_timer.setInterval(700)
        self._settle_timer.timeout.connect(self._end_turn)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setAccessibleName(p.label)
        self.setObjectName(f"knob_{p.id}")
        self.setCursor(Qt.CursorShape.SizeVerCursor)
        self._update_tooltip()

    # --- public API ---
    def value(self) -> float:
        return self._value

    def setValue(self, v: float) -> None:
        """Set the displayed value from outside (presets, MIDI, engine sync); no signal."""
        v = min(max(float(v), self.param.min), self.param.max)
        if v != self._value:
            self._value = v
            self._update_tooltip()
            self.update()

    def norm(self) -> float:
        return self.param.to_norm(self._value)

    def setActive(self, active: bool) -> None:
        """Dim the knob when its stage is switched off."""
        if active != self._active:
            self._active = active
            self.update()

    def setMidiLearning(self, on: bool) -> None:
        self._learning = bool(on)
        self._blink = self._learning
        if self._learning:
            self._learn_timer.start()
        else:
            self._learn_timer.stop()
        self.update()

    def setMidiMapping(self, text) -> None:
        """Show the controller bound to this knob ("CC 21"), or None."""
        self._mapping = str(text) if text not in (None, "") else None
        self._update_tooltip()
        self.update()

    def isTurning(self) -> bool:
        return self._turning

    # --- changing the value (user) ---
    def _set_from_user(self, v: float) -> None:
        v = quantize(self.param, v)
        self._begin_turn()
        if v != self._value:
            self._value = v
            self._update_tooltip()
            self.valueChanged.emit(self.param.id, v)
        self.update()

    def _set_norm_from_user(self, u: float) -> None:
        self._set_from_user(self.param.from_norm(min(max(u, 0.0), 1.0)))

    def _step(self, du: float) -> None:
        u = self.norm() + du
        v = quantize(self.param, self.param.from_norm(min(max(u, 0.0), 1.0)))
        if v == self._value and du != 0:
            # the rounding swallowed the step: move by one display quantum instead
            nudged = self._value
            for _ in range(1000):
                u += du * 0.5
                nudged = quantize(self.param, self.param.from_norm(min(max(u, 0.0), 1.0)))
                if nudged != self._value or u <= 0.0 or u >= 1.0:
                    break
            v = nudged
        self._set_from_user(v)

    def resetToDefault(self) -> None:
        self._set_from_user(self.param.default)

    def _begin_turn(self) -> None:
        if not self._turning:
            self._turning = True
            self.gestureStarted.emit(self.param.id)
        if self._drag_pos is None:
            self._settle_timer.start()

    def _end_turn(self) -> None:
        if self._drag_pos is None and self._turning:
            self._turning = False
            self.gestureEnded.emit(self.param.id)
            self.update()

    # --- events ---
    def mousePressEvent(self, e):
        if e.button() == Qt.MouseButton.LeftButton:
            self.setFocus(Qt.FocusReason.MouseFocusReason)
            self._drag_pos = e.position()
            self._drag_norm = self.norm()
            self._turning = True
            self.gestureStarted.emit(self.param.id)
            self.update()
            e.accept()
        else:
            super().mousePressEvent(e)

    def mouseMoveEvent(self, e):
        if self._drag_pos is None:
            return
        pos = e.position()
        d = (self._drag_pos.y() - pos.y()) + (pos.x() - self._drag_pos.x())
        self._drag_pos = pos
        scale = 1.0 / DRAG_PX_FULL
        if e.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            scale *= FINE
        self._drag_norm = min(max(self._drag_norm + d * scale, 0.0), 1.0)
        self._set_norm_from_user(self._drag_norm)
        e.accept()

    def mouseReleaseEvent(self, e):
        if e.button() == Qt.MouseButton.LeftButton and self._drag_pos is not None:
            self._drag_pos = None
            self._settle_timer.start()
            e.accept()
        else:
            super().mouseReleaseEvent(e)

    def mouseDoubleClickEvent(self, e):
        if e.button() == Qt.MouseButton.LeftButton:
            self._drag_pos = None
            self.resetToDefault()
            e.accept()

    def wheelEvent(self, e):
        d = e.angleDelta()
        steps = (d.y() or d.x()) / 120.0     # Shift+wheel arrives as horizontal on some systems
        if steps == 0:
            px = e.pixelDelta()
            steps = (px.y() or px.x()) / 30.0
        if steps == 0:
            return
        step = WHEEL_STEP * (FINE if e.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1.0)
        self._step(steps * step)
        e.accept()

    def keyPressEvent(self, e):
        k = e.key()
        fine = FINE if e.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1.0
        if k == Qt.Key.Key_Escape and self._learning:
            self.cancelMidiLearn()
        elif k in (Qt.Key.Key_Up, Qt.Key.Key_Right, Qt.Key.Key_Plus):
            self._step(KEY_STEP * fine)
        elif k in (Qt.Key.Key_Down, Qt.Key.Key_Left, Qt.Key.Key_Minus):
            self._step(-KEY_STEP * fine)
        elif k == Qt.Key.Key_PageUp:
            self._step(PAGE_STEP * fine)
        elif k == Qt.Key.Key_PageDown:
            self._step(-PAGE_STEP * fine)
        elif k == Qt.Key.Key_Home:
            self._set_from_user(self.param.min)
        elif k == Qt.Key.Key_End:
            self._set_from_user(self.param.max)
        elif k in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.resetToDefault()
        elif k in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.enterValue()
        else:
            super().keyPressEvent(e)
            return
        e.accept()

    def contextMenuEvent(self, e):
        menu = QMenu(self)
        title = menu.addAction(f"{self.param.label}: {value_text(self.param, self._value)}")
        title.setEnabled(False)
        menu.addSeparator()
        self._midi_menu(menu)
        menu.addSeparator()
        menu.addAction(f"Reset to default ({value_text(self.param, self.param.default)})",
                       self.resetToDefault)
        menu.addAction("Enter value…", self.enterValue)
        menu.exec(e.globalPos())

    def enterValue(self) -> None:
        p = self.param
        text, ok = QInputDialog.getText(self, p.label, f"{p.label} ({p.range_text})",
                                        text=value_text(p, self._value, with_unit=False)
                                        .replace("−", "-"))
        if ok and text.strip():
            try:
                self._set_from_user(p.from_text(text.replace("−", "-")))
            except ValueError as err:
                self.setToolTip(str(err))

    def focusInEvent(self, e):
        self.update()
        super().focusInEvent(e)

    def focusOutEvent(self, e):
        self.update()
        super().focusOutEvent(e)

    def _on_blink(self):
        self._blink = not self._blink
        self.update()

    def _update_tooltip(self):
        p = self.param
        tip = f"<b>{p.label}</b> — {value_text(p, self._value)}<br>{p.range_text}, default " \
              f"{value_text(p, p.default)}"
        if p.notes:
            tip += f"<br><i>{p.notes}</i>"
        if self._mapping:
            tip += f"<br>MIDI: {self._mapping}"
        tip += "<br><span style='color:#8b93a3'>drag · shift-drag fine · wheel · " \
               "double-click reset · right-click MIDI</span>"
        self.setToolTip(tip)

    # --- geometry & painting ---
    def sizeHint(self) -> QSize:
        return QSize(150, 178) if self.hero else QSize(74, 90)

    def minimumSizeHint(self) -> QSize:
        if self.hero:
            return QSize(108, 150)
        # wide enough for the label at 10 px, so no label is ever cut
        # measured in the font the painter will use (the widget's own, styled font
        # resolved with the size): the application default can be narrower
        label_w = QFontMetrics(theme.ui_font(10).resolve(self.font())).horizontalAdvance(
            self.param.label) + 6
        return QSize(max(62, label_w), 84)

    VALUE_GAP = 2.0            # from the dial's lowest ink to the value's line box

    def _layout(self):
        """(cx, cy, d, label_h, value_h, top, vy): the dial's centre and diameter,
        the label's and value's line heights, the label's top and the value's.

        The value sits right under the dial's lowest ink (the body, or the
        ends of the open ring, whichever is lower), not under the ring's full
        circle: the ring is open at the bottom, so the full circle would leave
        the value nearer the next row's label than its own knob. The label,
        dial and value are centred as one block in the widget's height, so any
        height to spare goes between knobs, not between a knob and its value."""
        w, h = self.width(), self.height()
        label_h = 20 if self.hero else 15
        value_h = 22 if self.hero else 16
        avail = min(w - 6, h - label_h - value_h - 4)
        d = max(avail, 16)
        low = self._dial_low(d)
        block = label_h + 2 + d / 2.0 + low + self.VALUE_GAP + value_h
        top = max(0.0, (h - block) / 2.0)
        cx = w / 2.0
        cy = top + label_h + 2 + d / 2.0
        return cx, cy, d, label_h, value_h, top, cy + low + self.VALUE_GAP

    def _ring(self, d: float):
        """(ring width, arc radius, body radius) for a dial of diameter d."""
        ring_w = max(3.0, d * (0.075 if self.hero else 0.085))
        arc_r = d / 2.0 - ring_w / 2.0 - 1
        body_r = arc_r - ring_w / 2.0 - max(3.0, d * 0.06)
        return ring_w, arc_r, body_r

    def _dial_low(self, d: float) -> float:
        """How far below the centre the dial's ink reaches: the body's edge, or
        the ring's ends (at 7:30 and 4:30, round caps) if lower."""
        ring_w, arc_r, body_r = self._ring(d)
        end = arc_r * math.sin(math.radians(SWEEP_DEG / 2 - 90)) + ring_w / 2.0
        return max(body_r + 0.6, end)

    def parts(self) -> dict[str, QRectF]:
        """Where the label's line, the dial and the value's line are drawn
        (widget coordinates): what the layout tests measure."""
        cx, cy, d, label_h, value_h, top, vy = self._layout()
        r = d / 2.0
        return {"label": QRectF(0, top, self.width(), label_h),
                "dial": QRectF(cx - r, cy - r, d, r + self._dial_low(d)),
                "value": QRectF(0, vy, self.width(), value_h)}

    def paintEvent(self, _e):
        p = self.param
        qp = QPainter(self)
        qp.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        qp.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        cx, cy, d, label_h, value_h, top, vy = self._layout()
        r = d / 2.0
        accent = QColor(self._accent)
        if not self._active:
            accent = QColor(accent)
            accent.setHsv(accent.hue(), int(accent.saturation() * 0.25), int(accent.value() * 0.55))
        ring_w, arc_r, body_r = self._ring(d)

        # label
        label = p.label.upper() if self.hero else p.label
        px = 15 if self.hero else 11
        font = theme.ui_font(px, bold=self.hero)
        # (4 px of margin: horizontalAdvance rounds, and elidedText cuts a text that
        # fills its width exactly)
        while px > 9 and QFontMetrics(font.resolve(self.font())).horizontalAdvance(label) \
                > self.width() - 4:
            px -= 1                      # shrink a long label to fit before eliding it
            font = theme.ui_font(px, bold=self.hero)
        qp.setFont(font)
        qp.setPen(QColor(theme.TEXT if self.hero else theme.TEXT_DIM))
        fm = QFontMetrics(font.resolve(self.font()))
        label = fm.elidedText(label, Qt.TextElideMode.ElideRight, self.width() - 2)
        qp.drawText(QRectF(0, top, self.width(), label_h), Qt.AlignmentFlag.AlignCenter, label)

        arc_rect = QRectF(cx - arc_r, cy - arc_r, 2 * arc_r, 2 * arc_r)
        # track
        pen = QPen(QColor(theme.TRACK), ring_w, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
        qp.setPen(pen)
        qp.drawArc(arc_rect, int(START_DEG * 16), int(-SWEEP_DEG * 16))
        # value arc (from zero for bipolar ranges, else from min)
        u = self.norm()
        u0 = 0.0
        if p.min < 0.0 < p.max:
            u0 = p.to_norm(0.0)
        a0 = START_DEG - SWEEP_DEG * u0
        span = -SWEEP_DEG * (u - u0)
        if abs(span) > 0.2:
            pen = QPen(accent, ring_w, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
            qp.setPen(pen)
            qp.drawArc(arc_rect, int(a0 * 16), int(span * 16))

        # body
        grad = QRadialGradient(QPointF(cx - body_r * 0.35, cy - body_r * 0.45), body_r * 1.6)
        grad.setColorAt(0.0, QColor("#3b414e"))
        grad.setColorAt(0.6, QColor("#272b34"))
        grad.setColorAt(1.0, QColor("#1d2027"))
        qp.setBrush(grad)
        edge = QColor("#5a6a88") if self.hasFocus() else QColor("#0e1014")
        qp.setPen(QPen(edge, 1.2))
        qp.drawEllipse(QPointF(cx, cy), body_r, body_r)
        if self.hero:
            # subtle accent glow ring inside the body
            cg = QConicalGradient(QPointF(cx, cy), 90)
            glow = QColor(accent)
            glow.setAlpha(60)
            cg.setColorAt(0.0, glow)
            cg.setColorAt(0.5, QColor(0, 0, 0, 0))
            cg.setColorAt(1.0, glow)
            qp.setPen(QPen(cg, 2.0))
            qp.setBrush(Qt.BrushStyle.NoBrush)
            qp.drawEllipse(QPointF(cx, cy), body_r - 4, body_r - 4)

        # pointer
        ang = math.radians(START_DEG - SWEEP_DEG * u)
        p1 = QPointF(cx + math.cos(ang) * body_r * 0.30, cy - math.sin(ang) * body_r * 0.30)
        p2 = QPointF(cx + math.cos(ang) * body_r * 0.88, cy - math.sin(ang) * body_r * 0.88)
        qp.setPen(QPen(QColor("#f2f4f8") if self._active else QColor(theme.TEXT_DIM),
                       max(2.0, d * 0.04), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        qp.drawLine(p1, p2)

        # MIDI learn / mapping
        if self._learning:
            c = QColor(theme.LEARN)
            c.setAlpha(255 if self._blink else 90)
            qp.setPen(QPen(c, 2.0, Qt.PenStyle.DashLine))
            qp.setBrush(Qt.BrushStyle.NoBrush)
            # over the ring's sweep only: a full circle would run through the value below
            qp.drawArc(QRectF(cx - r + 1, cy - r + 1, d - 2, d - 2), int(START_DEG * 16),
                       int(-SWEEP_DEG * 16))
        elif self._mapping:
            qp.setBrush(QColor(theme.LEARN))
            qp.setPen(Qt.PenStyle.NoPen)
            qp.drawEllipse(QPointF(cx + r * 0.80, cy - r * 0.80), 3.0, 3.0)

        # value readout (vy: from _layout, just under the dial)
        if self._learning:
            text, colour = "MIDI learn…", QColor(theme.LEARN)
        else:
            text = value_text(p, self._value)
            colour = QColor(accent).lighter(125) if (self._turning or self.hasFocus()) \
                else QColor(theme.TEXT)
        px = 17 if self.hero else 11
        bold = self._turning or self.hero
        font = theme.ui_font(px, bold=bold)
        while px > 9 and QFontMetrics(font.resolve(self.font())).horizontalAdvance(text) \
                > self.width() - 4:
            px -= 1                      # shrink a long readout before eliding it
            font = theme.ui_font(px, bold=bold)
        qp.setFont(font)
        fm = QFontMetrics(font.resolve(self.font()))
        text = fm.elidedText(text, Qt.TextElideMode.ElideRight, self.width())
        if self._turning:
            tw = fm.horizontalAdvance(text) + 10
            bg = QRectF(cx - tw / 2, vy, tw, value_h)
            path = QPainterPath()
            path.addRoundedRect(bg, 4, 4)
            qp.fillPath(path, QColor(theme.PANEL_HI))
        qp.setPen(colour)
        qp.drawText(QRectF(0, vy, self.width(), value_h), Qt.AlignmentFlag.AlignCenter, text)
        qp.end()
