"""The Uplift main window.

Every control is generated from the one parameter table (engine/params.py);
the only presentation rules here are where a parameter goes (its group's
panel; `<group>_on` becomes the panel's power switch; global switches go to
the header; AMOUNT is the hero knob).

The window works with any *session-like* object: `set(id, value)`, `get(id)`,
`values()`, `meters()`, `latency_samples` (an `engine.Engine` or an
`app.session.live.LiveSession`; optional: `io_latency_samples`, `stats()`,
`samplerate`/`engine.samplerate`, `stop()`). Parameter changes go only
through `session.set` (the lock-free ring); meters are read by a QTimer from
`session.meters()` (a seqlock snapshot), so nothing here can make audio wait.
"""
from __future__ import annotations

import contextlib
import importlib
import math
import time

from PyQt6.QtCore import QSize, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QSizePolicy,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.params import BY_ID, GROUP_TITLES, PARAMS, Param

from . import theme
from .ab import ABCompare
from .audio_menu import AudioMenu
from .audio_menu import samplerate as _samplerate
from .curve import TransferCurve
from .header import ElidedToolButton, Header
from .history import HistoryPlot
from .knob import Knob
from .meters import DriftBars, GRMeter, LevelMeter
from .midi_learn import MidiLearn
from .osc_setting import OscControl, OscDialog
from .preset_menu import PresetMenu
from .switches import EnumMenuButton, EnumSwitch, PowerSwitch, ToggleSwitch
from .undo import UndoStack

METER_HZ = 30                 # meter timer rate (30..60 Hz)
MIN_WIDTH, MIN_HEIGHT = 1024, 640   # the window's minimum; smaller than its content, it scrolls
SYNC_EVERY = 5                # read session.values() every N meter ticks (external changes)
KNOB_ROWS = 3
HERO_ID = "amount"

PANEL_ORDER = ("input", "gate", "drift", "settle", "output")
SEGMENTS_MAX = 3              # enums with more choices are a menu button (SETTLE's style)
PANEL_TITLES = dict(GROUP_TITLES, input="INPUT")


def placement(p: Param) -> tuple[str, str]:
    """(panel, role) for a parameter; role is knob, hero, power, switch or header."""
    if p.group == "global":
        if p.kind != "float":
            return "header", "header"
        return ("input" if p.id.startswith("input") else "output"), "knob"
    if p.kind == "bool" and p.id == f"{p.group}_on":
        return p.group, "power"
    if p.kind == "bool" and p.id.endswith("_on") and p.id[:-3] in {"limiter", "gate", "drift",
                                                                    "settle"}:
        return p.group, "power"
    if p.kind != "float":
        return p.group, "switch"
    if p.id == HERO_ID:
        return p.group, "hero"
    return p.group, "knob"


def _load_presets_module():
    try:
        return importlib.import_module("app.presets")
    except ImportError:
        return None


class Panel(QFrame):
    """One stage: title (+ power switch), knob grid, switch column."""

    def __init__(self, key: str, title: str, parent=None):
        super().__init__(parent)
        self.key = key
        self.setObjectName("panel")
        self.accent = theme.accent(key)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(5, 8, 5, 8)
        lay.setSpacing(4)
        head = QHBoxLayout()
        head.setSpacing(6)
        self.title = QLabel(title)
        self.title.setObjectName("panelTitle")
        self.title.setStyleSheet(f"color: {self.accent.name()};")
        head.addWidget(self.title)
        head.addStretch(1)
        lay.addLayout(head)
        self.head = head
        self.body = QHBoxLayout()
        self.body.setSpacing(6)
        lay.addLayout(self.body, 1)
        self.power: PowerSwitch | None = None
        self.knobs: list[Knob] = []

    def set_power(self, sw: PowerSwitch):
        self.power = sw
        self.head.addWidget(sw)

    def build(self, hero: Knob | None, knobs: list[Knob], switches: list[QWidget]):
        if hero is not None:
            self.body.addWidget(hero, 0, Qt.AlignmentFlag.AlignVCenter)
            self.knobs.append(hero)
        if knobs:
            grid = QGridLayout()
            grid.setHorizontalSpacing(0)
            grid.setVerticalSpacing(2)
            cols = max(1, math.ceil(len(knobs) / KNOB_ROWS))
            for i, k in enumerate(knobs):
                grid.addWidget(k, i // cols, i % cols)
                self.knobs.append(k)
            for r in range(KNOB_ROWS):
                grid.setRowStretch(r, 1)
            self.body.addLayout(grid, cols)
        if switches:
            col = QVBoxLayout()
            col.setSpacing(8)
            col.addStretch(1)
            for s in switches:
                col.addWidget(s)
            col.addStretch(1)
            self.body.addLayout(col)

    def set_active(self, on: bool):
        for k in self.knobs:
            k.setActive(on)
        c = self.accent if on else theme.accent(self.key).darker(170)
        self.title.setStyleSheet(f"color: {c.name()};")


class Readout(QWidget):
    """Key over value, for the header (latency, load, xruns)."""

    def __init__(self, key: str, value: str = "—", tip: str = "", parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 0, 6, 0)
        lay.setSpacing(0)
        self.key = QLabel(key)
        self.key.setObjectName("readoutKey")
        self.value = QLabel(value)
        self.value.setObjectName("readoutValue")
        lay.addWidget(self.key)
        lay.addWidget(self.value)
        if tip:
            self.setToolTip(tip)

    def set(self, text: str, colour: str | None = None):
        if self.value.text() != text:
            self.value.setText(text)
        self.value.setStyleSheet(f"color: {colour};" if colour else "")


class MainWindow(QMainWindow):
    # Aggregated control signals for the MIDI code (app/control/midi.py).
    midiLearnRequested = pyqtSignal(str)
    midiForgetRequested = pyqtSignal(str)
    midiLearnCancelled = pyqtSignal(str)
    #: Emit from any thread to show an externally made change (e.g. MIDI) on its control.
    externalValue = pyqtSignal(str, float)
    #: Emitted after the user changed a parameter through the window (id, value).
    parameterChanged = pyqtSignal(str, float)
    #: Emitted after the session was replaced (device / block size change).
    sessionChanged = pyqtSignal(object)
    #: Emit from any thread when MIDI learn bound (param_id, channel 0..15, cc).
    midiLearned = pyqtSignal(str, int, int)

    def __init__(self, session, session_factory=None, session_info: dict | None = None,
                 note: str | None = None, owns_session: bool = False, presets="auto",
                 curve_fn="auto", meter_hz: int = METER_HZ):
        super().__init__()
        self.session = session
        self.session_factory = session_factory
        self.session_info = dict(session_info or {})
        self.owns_session = owns_session
        self.presets = _load_presets_module() if presets == "auto" else presets
        self.meter_hz = max(30, min(60, meter_hz))
        self.preset_name: str | None = None
        self.preset_modified = False
        self.controls: dict[str, object] = {}
        self.panels: dict[str, Panel] = {}
        self._values = self._read_values()
        self._tick_count = 0
        self._midi = None
        self.midi_learn = MidiLearn(self)
        self.preset_ui = PresetMenu(self)
        self.undo = UndoStack(self._apply_from_history)
        self.osc = OscControl(lambda: self.session)
        self._last_meters: dict = {}
        self._curve_fn = curve_fn
        self._stats: dict = {}
        self.setWindowTitle("Uplift")
        # below the content's own size (about 1240×720) the window scrolls rather
        # than squeezing knobs and labels: usable and legible down to 1024×640
        self.setMinimumSize(MIN_WIDTH, MIN_HEIGHT)
        self.resize(1280, 800)
        self._build()
        self.ab = ABCompare(self)
        self._build_menus()
        self._sync_controls(self._values, force=True)
        self.externalValue.connect(self.set_param_display)
        self.midiLearned.connect(self.midi_learn.learned)
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(int(round(1000 / self.meter_hz)))
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self.status_note = QLabel("")
        self.statusBar().addPermanentWidget(self.status_note)
        self.set_note(note)
        self.refresh()

    # ------------------------------------------------------------------ build
    def _build(self):
        central = QWidget()
        central.setObjectName("central")
        self.scroll = QScrollArea()
        self.scroll.setObjectName("centralScroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidget(central)
        self.setCentralWidget(self.scroll)
        root = QVBoxLayout(central)
        root.setContentsMargins(6, 8, 6, 6)
        root.setSpacing(8)
        root.addWidget(self._build_header())

        # top: transfer curve | drift bars | meters
        top = QHBoxLayout()
        top.setSpacing(8)
        curve_frame = QFrame()
        curve_frame.setObjectName("panel")
        cl = QVBoxLayout(curve_frame)
        cl.setContentsMargins(6, 6, 8, 4)
        self.curve = TransferCurve(curve_fn=self._curve_fn)
        self.history = HistoryPlot(rate_hz=self.meter_hz)
        self.views = QTabWidget()
        self.views.setDocumentMode(True)
        self.views.addTab(self.curve, "Curve")
        self.views.addTab(self.history, "History (10 s)")
        cl.addWidget(self.views)
        curve_frame.setMinimumWidth(300)
        curve_frame.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        top.addWidget(curve_frame, 4)

        bars_frame = QFrame()
        bars_frame.setObjectName("panel")
        bl = QVBoxLayout(bars_frame)
        bl.setContentsMargins(8, 8, 8, 6)
        self.bars = DriftBars()
        bl.addWidget(self.bars)
        top.addWidget(bars_frame, 7)

        meters_frame = QFrame()
        meters_frame.setObjectName("panel")
        ml = QHBoxLayout(meters_frame)
        ml.setContentsMargins(8, 8, 8, 8)
        ml.setSpacing(6)
        ch = len(self._last_meters.get("in_peak_db", [0, 0])) or 2
        self.in_meter = LevelMeter("IN", channels=ch)
        self.gate_gr = GRMeter("GATE", theme.GATE_GR_COLOUR)
        self.settle_gr = GRMeter("SETTLE", theme.GR_COLOUR)
        self.out_meter = LevelMeter("OUT", channels=ch)
        for w in (self.in_meter, self.gate_gr, self.settle_gr, self.out_meter):
            ml.addWidget(w)
        meters_frame.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        top.addWidget(meters_frame, 0)
        root.addLayout(top, 10)

        # bottom: the parameter panels, in signal-chain order
        bottom = QHBoxLayout()
        bottom.setSpacing(6)
        by_panel: dict[str, dict[str, list]] = {k: {"hero": [], "knob": [], "switch": [],
                                                   "power": []} for k in PANEL_ORDER}
        header_params = []
        for p in PARAMS:
            panel, role = placement(p)
            if panel == "header":
                header_params.append(p)
                continue
            by_panel.setdefault(panel, {"hero": [], "knob": [], "switch": [], "power": []})
            by_panel[panel][role].append(p)
        for key in list(by_panel):
            # a panel's own parameters first (table order), then the global ones placed there
            for role in by_panel[key]:
                by_panel[key][role].sort(key=lambda q: (q.group != key, PARAMS.index(q)))
        for key in by_panel:
            parts = by_panel[key]
            if not any(parts.values()):
                continue
            panel = Panel(key, PANEL_TITLES.get(key, key.upper()))
            for p in parts["power"]:
                sw = PowerSwitch(p, theme.accent(key))
                panel.set_power(sw)
                self._register(sw)
            hero = None
            for p in parts["hero"]:
                hero = Knob(p, hero=True, accent=theme.accent(key))
                self._register(hero)
            knobs = []
            for p in parts["knob"]:
                k = Knob(p, accent=theme.accent(key))
                self._register(k)
                knobs.append(k)
            switches = []
            for p in parts["switch"]:
                if p.kind != "enum":
                    w = ToggleSwitch(p)
                elif len(p.choices) <= SEGMENTS_MAX:
                    w = EnumSwitch(p)
                else:
                    w = EnumMenuButton(p)     # a row of four segments would widen the panel
                self._register(w)
                switches.append(w)
            panel.build(hero, knobs, switches)
            self.panels[key] = panel
            stretch = max(1, math.ceil(len(knobs) / KNOB_ROWS)) + (2 if hero else 0) + \
                (2 if switches else 0)
            bottom.addWidget(panel, stretch)
        root.addLayout(bottom, 9)
        for p in header_params:
            if p.kind == "enum":
                b = EnumMenuButton(p)
            else:
                b = ToggleSwitch(p, text=p.label.upper(), object_name=p.id)
                b.setToolTip(f"<b>{p.label}</b>: {p.notes}")
            b.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            self._register(b)
            self.header_switches.addWidget(b)
            if p.id == "match":
                self.match_readout = Readout("MATCH", tip="The level match's correction: the "
                                             "gain that holds the output at the dry input's "
                                             "loudness (BS.1770, 3 s)")
                self.header_switches.addWidget(self.match_readout)

    def _build_header(self) -> QFrame:
        head = Header()
        head.setObjectName("header")
        lay = QHBoxLayout(head)
        lay.setContentsMargins(12, 6, 12, 6)
        lay.setSpacing(8)
        mark = QLabel("UPLIFT")
        mark.setObjectName("wordmark")
        lay.addWidget(mark)
        sub = QLabel("DRIFT ↑  ·  SETTLE ↓")
        sub.setObjectName("dim")
        lay.addWidget(sub)
        head.optional.append(sub)
        lay.addSpacing(12)
        self.preset_button = ElidedToolButton(min_width=240)
        self.preset_button.setObjectName("presetButton")
        self.preset_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.preset_button.setToolTip("Presets: factory and user; Save as…")
        lay.addWidget(self.preset_button)
        self.audio_button = ElidedToolButton(min_width=110)
        self.audio_button.setObjectName("audioButton")
        self.audio_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.audio_button.setToolTip("Audio device and block size")
        lay.addWidget(self.audio_button)
        lay.addStretch(1)
        self.latency_readout = Readout("LATENCY", tip="Algorithmic latency of the chain "
                                       "(DRIFT's lookahead + SETTLE's + the limiter's); with I/O "
                                       "buffers when the audio backend reports them")
        self.load_readout = Readout("LOAD", tip="Audio callback load (time used / time "
                                    "available per block)")
        self.xrun_readout = Readout("XRUNS", tip="Buffer under/overruns since start")
        for r in (self.latency_readout, self.load_readout, self.xrun_readout):
            lay.addWidget(r)
        lay.addSpacing(6)
        self.header_switches = QHBoxLayout()
        self.header_switches.setSpacing(6)
        lay.addLayout(self.header_switches)
        return head

    def _register(self, w):
        self.controls[w.param.id] = w
        w.valueChanged.connect(self._on_control)
        w.midiLearnRequested.connect(self.midi_learn.requested)
        w.midiForgetRequested.connect(self.midiForgetRequested)
        w.midiLearnCancelled.connect(self.midiLearnCancelled)

    # ------------------------------------------------------------------ menus
    def _build_menus(self):
        mb = self.menuBar()
        app_menu = mb.addMenu("&Uplift")
        quit_ = QAction("&Quit", self)
        quit_.setShortcut(QKeySequence("Ctrl+Q"))
        quit_.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        quit_.triggered.connect(self.close)
        app_menu.addAction(quit_)
        self.quit_action = quit_
        self.preset_menu = QMenu("&Preset", self)
        self.preset_menu.aboutToShow.connect(self.preset_ui.fill_menu)
        self.audio = AudioMenu(self)
        self.audio_menu = self.audio.menu
        self.device_menu = self.audio.device_menu
        self.block_menu = self.audio.block_menu
        if self.presets is not None:
            mb.addMenu(self.preset_menu)
            self.preset_button.setMenu(self.preset_menu)
        else:
            self.preset_button.hide()
        mb.addMenu(self.audio_menu)
        self.audio_button.setMenu(self.audio_menu)
        edit = mb.addMenu("&Edit")
        self.undo_action = QAction("&Undo", self)
        self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
        self.undo_action.triggered.connect(self.undo.undo)
        edit.addAction(self.undo_action)
        self.redo_action = QAction("&Redo", self)
        self.redo_action.setShortcut(QKeySequence("Ctrl+Shift+Z"))
        self.redo_action.triggered.connect(self.undo.redo)
        edit.addAction(self.redo_action)
        edit.addSeparator()
        for src, dst in ((0, 1), (1, 0)):
            act = QAction(f"Copy {'AB'[src]} to {'AB'[dst]}", self)
            act.triggered.connect(lambda _=False, s=src, d=dst: self.ab.copy(s, d))
            edit.addAction(act)
        control = mb.addMenu("&Control")
        act = QAction("OSC…", self)
        act.triggered.connect(self.edit_osc)
        control.addAction(act)
        view = mb.addMenu("&View")
        act = QAction("Reset meter peak holds", self)
        act.setShortcut(QKeySequence("Ctrl+R"))
        act.triggered.connect(self.reset_holds)
        view.addAction(act)
        self.preset_ui.fill_menu()
        self.preset_ui.update_button()
        self.audio.update_button()

    def _read_values(self) -> dict:
        try:
            v = dict(self.session.values())
        except Exception:                 # a stopped session: the table's defaults
            v = {}
        for p in PARAMS:
            if p.id not in v:
                try:
                    v[p.id] = float(self.session.get(p.id))
                except Exception:         # a stopped session: the table's defaults
                    v[p.id] = p.default
        return {k: float(x) for k, x in v.items() if k in BY_ID}

    def _on_control(self, pid: str, value: float):
        """A control moved: send it through the session (validated, lock-free ring)."""
        try:
            v = self.session.set(pid, value)
        except Exception as e:            # out of range, a dead session: said in the status bar
            self.show_error(str(e))
            with contextlib.suppress(Exception):
                self.controls[pid].setValue(self.session.get(pid))
            return
        v = float(v) if isinstance(v, (int, float)) else float(value)
        self._note(pid, self._values.get(pid), v)
        self._values[pid] = v
        if self.preset_name and pid not in self._session_only():
            self.preset_ui.value_changed()
        self._after_values_changed({pid})
        self.parameterChanged.emit(pid, v)

    def set_param_display(self, pid: str, value: float):
        """Show a value set elsewhere (MIDI, presets, scripts) on its control; no send."""
        if pid not in BY_ID:
            return
        value = float(value)
        self._note(pid, self._values.get(pid), value)
        self._values[pid] = value
        c = self.controls.get(pid)
        if c is not None:
            c.setValue(value)
        self._after_values_changed({pid})

    def set_param(self, pid: str, value) -> float:
        """Set a parameter through the session and show it (as if turned)."""
        v = float(self.session.set(pid, value))
        self.set_param_display(pid, v)
        return v

    def apply_values(self, values: dict):
        """Send a set of values (e.g. a preset) through the session and show them."""
        for k, v in values.items():
            self.session.set(k, v)
        self._sync_controls(self._read_values(), force=True)

    def _sync_controls(self, values: dict, force: bool = False):
        changed = set()
        for pid, v in values.items():
            if not force and self._values.get(pid) == v:
                continue
            c = self.controls.get(pid)
            if c is not None and not force and isinstance(c, Knob) and c.isTurning():
                continue          # the user's hand wins while the knob turns
            self._note(pid, self._values.get(pid), v)
            self._values[pid] = v
            if c is not None:
                c.setValue(v)
            changed.add(pid)
        if changed or force:
            self._after_values_changed(changed or set(values))

    def _note(self, pid: str, old, new) -> None:
        """A value changed (any source): into the undo history, unless it is a
        monitoring switch or the A/B choice."""
        if old is not None and pid not in self._session_only():
            self.undo.note(pid, float(old), float(new))

    def _apply_from_history(self, values: dict) -> None:
        self.apply_values(values)

    def _after_values_changed(self, ids: set):
        v = self._values
        if "ab" in ids and hasattr(self, "ab"):
            self.ab.check()

        def on(k):                            # a value not given yet is the table's default
            return v.get(k, BY_ID[k].default) >= 0.5
        for panel in self.panels.values():
            if panel.power is not None:
                panel.set_active(on(panel.power.param.id))
        # the RMS window only matters to the RMS detector
        rms = self.controls.get("rms_window")
        if rms is not None:
            rms.setActive(on("settle_on")
                          and v.get("detector", 0.0) == BY_ID["detector"].choices.index("rms"))
        # in bypass the meters still show the processing, but it is not heard: dimmed
        heard = not on("bypass")
        self.gate_gr.set_active(on("gate_on") and heard)
        self.settle_gr.set_active(on("settle_on") and heard)
        self.bars.set_active(on("drift_on") and heard)
        self.bars.set_cap(v.get("drift_max_lift"))
        self.curve.set_values(v)
        self._update_latency()

    def values(self) -> dict:
        return dict(self._values)

    # ------------------------------------------------------------------ presets (ui/preset_menu.py)
    def load_preset(self, name: str) -> bool:
        return self.preset_ui.load(name)

    def save_preset_as(self, name: str | None = None, overwrite: bool | None = None):
        """Save the current values as a user preset; asks for a name when none is given."""
        return self.preset_ui.save_as(name, overwrite)

    def delete_preset(self, name: str):
        self.preset_ui.delete(name)

    def _session_only(self):
        return self.preset_ui.session_only()

    # ------------------------------------------------------------------ session
    def restart_session(self, **changes) -> bool:
        """Replace the live session (device / block size); ui/audio_menu.py."""
        return self.audio.restart_session(**changes)

    def set_note(self, note: str | None, error: bool = False):
        self.status_note.setText(note or "")
        self.status_note.setStyleSheet(f"color: {theme.ERROR if error else theme.WARN};"
                                       if note else "")

    # ------------------------------------------------------------------ meters
    def refresh(self):
        """Timer tick: copy the meter snapshot into the widgets."""
        self._tick_count += 1
        try:
            m = self.session.meters()
        except Exception as e:            # a dead session: said, the window keeps running
            self.statusBar().showMessage(f"meters unavailable: {e}", 2000)
            return
        self._last_meters = m
        now = time.monotonic()
        if "in_peak_db" in m:
            self.in_meter.set_levels(m["in_peak_db"], m.get("in_rms_db", m["in_peak_db"]), now)
        if "out_peak_db" in m:
            self.out_meter.set_levels(m["out_peak_db"], m.get("out_rms_db", m["out_peak_db"]), now)
        self.gate_gr.set_gr(m.get("gate_gr_db", 0.0), now)
        self.settle_gr.set_gr(m.get("settle_gr_db", 0.0), now)
        if "drift_lift_db" in m:
            self.bars.set_values(m["drift_lift_db"], m.get("drift_heat", [0.0] * 40))
            if "drift_level_db" in m:
                self.bars.set_levels(m["drift_level_db"], m["drift_floor_db"])
        det = m.get("detector_db")
        self.curve.set_detector(det if det is not None and det > -200 else None)
        if hasattr(self, "match_readout"):
            on = self._values.get("match", 0.0) >= 0.5
            self.match_readout.set(f"{m.get('match_db', 0.0):+.1f} dB" if on else "off")
        self.history.push(m)
        if self.views.currentWidget() is self.history:
            self.history.redraw()
        self._update_status(m)
        if self._tick_count % SYNC_EVERY == 0:
            self._sync_controls(self._read_values())

    def _update_latency(self):
        sr = _samplerate(self.session)
        try:
            lat = int(self.session.latency_samples)
        except Exception:                 # a dead session: the readout keeps its value
            return
        io = getattr(self.session, "io_latency_samples", None)
        try:
            io = int(io) if io is not None else None
        except (TypeError, ValueError):
            io = None
        text = f"{lat / sr * 1000:.2f} ms"
        tip = f"algorithmic: {lat} samples = {lat / sr * 1000:.3f} ms at {sr:g} Hz"
        if io:
            # the session reports the whole path: engine latency plus the I/O buffers
            total = io if io >= lat else lat + io
            text = f"{lat / sr * 1000:.2f} · {total / sr * 1000:.2f} ms"
            tip += f"\nwith I/O buffers: {total} samples = {total / sr * 1000:.3f} ms"
            self.latency_readout.key.setText("LATENCY · WITH I/O")
        else:
            self.latency_readout.key.setText("LATENCY")
        self.latency_readout.set(text)
        self.latency_readout.setToolTip(tip)

    def _update_status(self, m: dict):
        stats = {}
        if hasattr(self.session, "stats") and self._tick_count % 4 == 1:
            try:
                stats = dict(self.session.stats())
            except Exception:         # a dead session: no statistics
                stats = {}
            self._stats = stats
        else:
            stats = getattr(self, "_stats", {})
        if stats and stats.get("waiting"):
            self.set_note(f"Audio stopped: {stats['error']}", error=True)
        elif stats and stats.get("running") is False and stats.get("error"):
            self.set_note(f"Audio stopped: {stats['error']} — Audio ▸ Restart audio", error=True)
        elif stats.get("reconnects", 0) > getattr(self, "_reconnects_seen", 0):
            self._reconnects_seen = stats["reconnects"]
            self.set_note("The JACK server is back: running again with the same settings")
        load = stats.get("load", m.get("load"))
        xruns = stats.get("xruns", m.get("xruns"))
        # An offline Engine never runs a callback: its load/xrun slots hold the snapshot's
        # "no value" fill (negative), shown as a dash.
        if load is not None and math.isfinite(load) and load >= 0:
            self.load_readout.set(f"{load * 100:.0f} %",
                                  theme.ERROR if load > 0.8 else theme.WARN if load > 0.5 else None)
        else:
            self.load_readout.set("—")
        if xruns is not None and xruns >= 0:
            self.xrun_readout.set(str(int(xruns)), theme.WARN if xruns else None)
        else:
            self.xrun_readout.set("—")
        if self._tick_count % 10 == 1:
            self._update_latency()

    def reset_holds(self):
        for w in (self.in_meter, self.out_meter):
            for h in w.holds:
                h.reset()
        for w in (self.gate_gr, self.settle_gr):
            w.hold.reset()

    # ------------------------------------------------------------------ MIDI (ui/midi_learn.py)
    def cancel_midi_learn(self):
        """Cancel any pending learn (Escape)."""
        return self.midi_learn.cancel()

    def set_midi_learning(self, pid: str, on: bool):
        self.midi_learn.set_learning(pid, on)

    def set_midi_mapping(self, pid: str, text):
        """Show which controller is bound to a parameter (None clears)."""
        self.midi_learn.set_mapping(pid, text)

    def attach_midi(self, ctl):
        """Wire an app.control.midi.MidiController (see MidiLearn.attach)."""
        self.midi_learn.attach(ctl)
        self._midi = ctl

    def refresh_midi_mappings(self):
        self.midi_learn.refresh_mappings()

    def keyPressEvent(self, e):
        if e.key() == Qt.Key.Key_Escape and self.cancel_midi_learn():
            e.accept()
            return
        super().keyPressEvent(e)

    # ------------------------------------------------------------------ misc
    def show_error(self, msg: str, dialog: bool = False):
        self.statusBar().showMessage(msg, 8000)
        if dialog and self.isVisible():
            box = QMessageBox(QMessageBox.Icon.Warning, "Uplift", msg,
                              QMessageBox.StandardButton.Ok, self)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()

    def sizeHint(self) -> QSize:
        return QSize(1280, 800)

    def edit_osc(self):
        """The OSC setting (ui/osc_setting.py): applied and saved on OK."""
        dlg = OscDialog(self.osc, self)
        if dlg.exec() == OscDialog.DialogCode.Accepted:
            self.apply_osc(*dlg.choice())

    def apply_osc(self, enabled: bool, port: int, host: str) -> bool:
        ok = self.osc.apply(enabled, port, host)
        if ok:
            self.statusBar().showMessage(self.osc.status(), 5000)
        else:
            self.show_error(self.osc.status(), dialog=True)
        return ok

    def closeEvent(self, e):
        self.timer.stop()
        self.osc.stop()
        if self.owns_session and hasattr(self.session, "stop"):
            with contextlib.suppress(Exception):
                self.session.stop()
        super().closeEvent(e)
