"""GUI tests (pytest-qt, offscreen): controls from the table, knob gestures reach
the engine, presets round-trip through the window, meters follow a running
engine, the transfer curve is the engine's static curve, MIDI hooks, layout."""
from __future__ import annotations

import gc
import math

import numpy as np
import pytest
from PyQt6.QtCore import QPoint, QPointF, Qt
from PyQt6.QtGui import QMouseEvent, QWheelEvent
from PyQt6.QtWidgets import QApplication, QMenu, QToolButton

from engine import Engine
from engine.params import BY_ID, PARAMS
from ui import theme
from ui.knob import Knob, quantize, value_text
from ui.switches import EnumMenuButton, EnumSwitch, PowerSwitch, ToggleSwitch
from ui.window import MainWindow

NO_MOD = Qt.KeyboardModifier.NoModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture(autouse=True)
def _windows_go_with_their_test(qtbot):
    """Each test's windows are closed (qtbot) and then collected here, between
    tests: left to Python's cycle collector they went at a random moment of a
    later test, and pyqtgraph then laid out a title whose Qt item was gone."""
    yield
    QApplication.processEvents()
    gc.collect()
    QApplication.processEvents()


@pytest.fixture(scope="module")
def engine_factory():
    made = []

    def make(**kw):
        e = Engine(**kw)
        made.append(e)
        return e
    yield make


@pytest.fixture
def win(qtbot, engine_factory, tmp_path, monkeypatch):
    monkeypatch.setenv("UPLIFT_CONFIG_DIR", str(tmp_path / "config"))
    theme.apply(QApplication.instance())
    eng = engine_factory()
    w = MainWindow(eng)
    w.timer.stop()              # tests drive refresh() themselves
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    w.engine = eng
    return w


# --- event helpers (sent straight to the widget: no window manager involved) ---

def _mouse(widget, kind, pos, button=LEFT, buttons=None, mods=NO_MOD):
    buttons = LEFT if buttons is None else buttons
    p = QPointF(pos)
    ev = QMouseEvent(kind, p, widget.mapToGlobal(p), button, buttons, mods)
    QApplication.sendEvent(widget, ev)


def drag(widget, dy, dx=0, mods=NO_MOD, steps=10):
    c = QPointF(widget.width() / 2, widget.height() / 2)
    _mouse(widget, QMouseEvent.Type.MouseButtonPress, c, mods=mods)
    for i in range(1, steps + 1):
        _mouse(widget, QMouseEvent.Type.MouseMove,
               QPointF(c.x() + dx * i / steps, c.y() - dy * i / steps),
               button=Qt.MouseButton.NoButton, mods=mods)
    _mouse(widget, QMouseEvent.Type.MouseButtonRelease, QPointF(c.x() + dx, c.y() - dy),
           buttons=Qt.MouseButton.NoButton, mods=mods)


def wheel(widget, notches, mods=NO_MOD):
    c = QPointF(widget.width() / 2, widget.height() / 2)
    ev = QWheelEvent(c, widget.mapToGlobal(c), QPoint(0, 0), QPoint(0, int(120 * notches)),
                     Qt.MouseButton.NoButton, mods, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, ev)


def dclick(widget):
    c = QPointF(widget.width() / 2, widget.height() / 2)
    _mouse(widget, QMouseEvent.Type.MouseButtonPress, c)
    _mouse(widget, QMouseEvent.Type.MouseButtonRelease, c, buttons=Qt.MouseButton.NoButton)
    _mouse(widget, QMouseEvent.Type.MouseButtonDblClick, c)
    _mouse(widget, QMouseEvent.Type.MouseButtonRelease, c, buttons=Qt.MouseButton.NoButton)


# --- every parameter has a control ---------------------------------------------

def test_every_parameter_has_a_control(win):
    assert set(win.controls) == {p.id for p in PARAMS}
    for p in PARAMS:
        c = win.controls[p.id]
        if p.kind == "float":
            assert isinstance(c, Knob), p.id
        elif p.kind == "enum" and (p.group == "global" or len(p.choices) > 3):   # a menu button
            assert isinstance(c, EnumMenuButton), p.id
            assert c.text() == f"{p.label.upper()} · {p.choices[int(p.default)].upper()}"
        elif p.kind == "enum":
            assert isinstance(c, EnumSwitch), p.id
            assert [b.text() for b in c.buttons] == list(p.choices)
        else:
            assert isinstance(c, (ToggleSwitch, PowerSwitch)), p.id
        assert c.isVisible(), p.id
        assert c.value() == pytest.approx(win.engine.get(p.id)), p.id
    assert win.controls["amount"].hero
    # the stage switches sit in their panels' titles, bypass/listen/match in the header
    for g in ("gate", "drift", "settle"):
        assert win.panels[g].power is win.controls[f"{g}_on"]
    assert win.panels["output"].power is win.controls["limiter_on"]
    assert win.controls["bypass"].text() == "BYPASS"


def test_knob_readouts_use_the_table(win):
    k = win.controls["ratio"]
    k.setValue(100.0)
    assert value_text(k.param, k.value()) == "∞:1"
    assert value_text(BY_ID["gate_ratio"], 100.0) == "∞:1"
    assert value_text(BY_ID["threshold"], -18.0) == "−18 dBFS"
    assert value_text(BY_ID["sc_hpf"], 123.456) == "123 Hz"
    # log taper: the middle of an attack knob is the geometric mean of its range
    p = BY_ID["attack"]
    assert p.taper == "log"
    assert p.from_norm(0.5) == pytest.approx(math.sqrt(p.min * p.max))


# --- gestures reach the engine ----------------------------------------------------

def test_drag_turns_knob_and_sets_engine(win, qtbot):
    k = win.controls["threshold"]
    before = win.engine.get("threshold")
    drag(k, dy=44)                                  # up = more
    up = win.engine.get("threshold")
    assert up > before
    assert k.value() == pytest.approx(up)
    # 44 px of a 220 px full-range drag = 1/5 of the range
    p = k.param
    assert p.to_norm(up) - p.to_norm(before) == pytest.approx(0.2, abs=0.01)
    drag(k, dy=-88)
    assert win.engine.get("threshold") < up
    # shift-drag is ten times finer
    start = win.engine.get("threshold")
    drag(k, dy=44, mods=SHIFT)
    fine = win.engine.get("threshold") - start
    assert 0 < fine < (up - before) / 5


def test_drag_follows_log_taper(win):
    k = win.controls["release"]
    p = k.param
    u0 = p.to_norm(win.engine.get("release"))
    drag(k, dy=22)                                  # +0.1 in knob position
    v = win.engine.get("release")
    assert v == pytest.approx(p.from_norm(u0 + 0.1), rel=0.01)


def test_wheel_and_keys(win, qtbot):
    k = win.controls["makeup"]
    wheel(k, 3)
    assert win.engine.get("makeup") == pytest.approx(
        BY_ID["makeup"].from_norm(BY_ID["makeup"].to_norm(0.0) + 0.06), abs=0.05)
    wheel(k, -3)
    assert win.engine.get("makeup") == pytest.approx(0.0, abs=0.05)
    k.setFocus()
    before = win.engine.get("makeup")
    qtbot.keyClick(k, Qt.Key.Key_Up)
    assert win.engine.get("makeup") > before
    qtbot.keyClick(k, Qt.Key.Key_Down)
    qtbot.keyClick(k, Qt.Key.Key_Down)
    assert win.engine.get("makeup") < before
    qtbot.keyClick(k, Qt.Key.Key_End)
    assert win.engine.get("makeup") == BY_ID["makeup"].max
    qtbot.keyClick(k, Qt.Key.Key_Home)
    assert win.engine.get("makeup") == BY_ID["makeup"].min


def test_double_click_resets_to_default(win):
    for pid in ("amount", "gate_release", "ceiling"):
        k = win.controls[pid]
        drag(k, dy=-30)
        assert win.engine.get(pid) != pytest.approx(BY_ID[pid].default)
        dclick(k)
        assert win.engine.get(pid) == pytest.approx(BY_ID[pid].default)
        assert k.value() == pytest.approx(BY_ID[pid].default)


def test_switches_set_engine(win, qtbot):
    det = win.controls["detector"]
    qtbot.mouseClick(det.buttons[1], LEFT)
    assert win.engine.get("detector") == 1.0
    qtbot.mouseClick(det.buttons[0], LEFT)
    assert win.engine.get("detector") == 0.0
    gate = win.controls["gate_on"]
    assert win.engine.get("gate_on") == 0.0
    qtbot.mouseClick(gate, LEFT)
    assert win.engine.get("gate_on") == 1.0
    assert win.controls["gate_threshold"]._active
    bypass = win.controls["bypass"]
    qtbot.mouseClick(bypass, LEFT)
    assert win.engine.get("bypass") == 1.0
    listen = win.controls["listen"]
    listen.menu().aboutToShow.emit()
    drift = next(a for a in listen.menu().actions() if a.text() == "drift")
    drift.trigger()
    assert win.engine.get("listen") == 2.0
    assert listen.text() == "LISTEN · DRIFT" and listen.isChecked()
    win.engine.set("listen", "settle")          # from elsewhere (MIDI, OSC): the button follows
    win._sync_controls(win._read_values())
    assert listen.text() == "LISTEN · SETTLE"
    qtbot.mouseClick(win.controls["auto_makeup"], LEFT)
    assert win.engine.get("auto_makeup") == 1.0


def test_stage_off_dims_its_knobs(win, qtbot):
    qtbot.mouseClick(win.controls["settle_on"], LEFT)
    assert win.engine.get("settle_on") == 0.0
    assert not win.controls["ratio"]._active
    assert not win.settle_gr.active


# --- values changed elsewhere are shown --------------------------------------------

def test_external_changes_are_shown(win):
    win.externalValue.emit("amount", 72.0)          # MIDI thread's hook (queued-safe)
    QApplication.processEvents()
    assert win.controls["amount"].value() == 72.0
    win.engine.set("ratio", 8.0)                     # someone else set it on the session
    for _ in range(10):
        win.refresh()
    assert win.controls["ratio"].value() == 8.0


# --- presets ------------------------------------------------------------------------

def test_preset_save_load_round_trip(win, tmp_path):
    presets = pytest.importorskip("app.presets")
    assert win.presets is presets
    drag(win.controls["amount"], dy=30)
    win.controls["topology"].buttons[1].click()
    saved = win.values()
    path = win.save_preset_as("My take")
    assert path is not None and str(path).startswith(str(tmp_path))
    assert win.preset_name == "My take"
    win.preset_ui.fill_menu()
    names = [a.text() for a in win.preset_menu.actions()]
    assert "My take" in names and "Save as…" in names
    for n in presets.factory_presets():
        assert n in names
    # change things, then load it back through the menu
    dclick(win.controls["amount"])
    win.controls["topology"].buttons[0].click()
    assert win.engine.get("amount") != saved["amount"]
    act = next(a for a in win.preset_menu.actions() if a.text() == "My take")
    act.trigger()
    for pid in ("amount", "topology", "threshold"):
        assert win.engine.get(pid) == pytest.approx(saved[pid])
        assert win.controls[pid].value() == pytest.approx(saved[pid])
    assert "My take" in win.preset_button.text()


def test_factory_preset_loads_and_keeps_monitoring(win, qtbot):
    presets = pytest.importorskip("app.presets")
    qtbot.mouseClick(win.controls["bypass"], LEFT)
    name = next(iter(presets.factory_presets()))
    assert win.load_preset(name)
    want = presets.load_preset(name)
    for pid, v in want.items():
        if pid in ("bypass", "listen"):
            continue
        assert win.engine.get(pid) == pytest.approx(v), pid
        assert win.controls[pid].value() == pytest.approx(v), pid
    assert win.engine.get("bypass") == 1.0            # monitoring state survives a preset
    assert not win.load_preset("no such preset")
    assert win.preset_name == name


def test_no_presets_module_hides_the_menu(qtbot, engine_factory):
    w = MainWindow(engine_factory(), presets=None)
    qtbot.addWidget(w)
    w.timer.stop()
    assert w.preset_menu.menuAction() not in w.menuBar().actions()
    assert not w.preset_button.isVisible()


# --- meters ---------------------------------------------------------------------------

def _sine(sr, seconds, db, f=1000.0, ch=2):
    t = np.arange(int(sr * seconds)) / sr
    x = 10 ** (db / 20) * np.sin(2 * np.pi * f * t)
    return np.stack([x] * ch, axis=1).astype(np.float32)


def test_meters_follow_a_running_engine(win):
    win.refresh()
    assert max(win.in_meter.peak) < -100
    eng = win.engine
    eng.set("threshold", -30.0)
    eng.set("ratio", 4.0)
    x = _sine(eng.samplerate, 0.5, -6.0)
    for i in range(0, x.shape[0], 256):
        eng.process(x[i:i + 256])
    win.refresh()
    m = eng.meters()
    assert win.in_meter.peak[0] == pytest.approx(m["in_peak_db"][0])
    assert -8 < win.in_meter.peak[0] < -4
    assert win.in_meter.held() >= win.in_meter.peak[0]
    assert win.out_meter.peak[0] == pytest.approx(m["out_peak_db"][0])
    assert win.settle_gr.gr == pytest.approx(max(0.0, m["settle_gr_db"]))
    assert win.settle_gr.gr > 3.0                  # -6 dBFS into -30 dB / 4:1
    assert np.allclose(win.bars.lift, m["drift_lift_db"])
    assert np.allclose(win.bars.heat, np.clip(m["drift_heat"], 0, 1))
    assert win.latency_readout.value.text() == \
        f"{eng.latency_samples / eng.samplerate * 1000:.2f} ms"
    # silence: the bars fall, the hold stays for a while
    held = win.in_meter.held()
    z = np.zeros((48000, 2), np.float32)
    eng.process(z)
    win.refresh()
    assert win.in_meter.peak[0] < -12
    assert win.in_meter.held() == pytest.approx(held)


def test_status_with_live_session_stats(qtbot, engine_factory):
    eng = engine_factory()

    class FakeLive:
        samplerate = 48000
        latency_samples = 96
        io_latency_samples = 128

        def set(self, k, v):
            return eng.set(k, v)

        def get(self, k):
            return eng.get(k)

        def values(self):
            return eng.values()

        def meters(self):
            return dict(eng.meters(), load=0.25, xruns=3, callbacks=1000)

        def stats(self):
            return {"callbacks": 1000, "xruns": 3, "load": 0.25}

    w = MainWindow(FakeLive())
    qtbot.addWidget(w)
    w.timer.stop()
    w.refresh()
    assert w.load_readout.value.text() == "25 %"
    assert w.xrun_readout.value.text() == "3"
    assert w.latency_readout.key.text() == "LATENCY · WITH I/O"
    assert w.latency_readout.value.text() == f"{96 / 48:.2f} · {128 / 48:.2f} ms"
    # the server goes away: the status bar says so
    FakeLive.stats = lambda self: {"callbacks": 1000, "xruns": 3, "load": 0.0,
                                   "running": False, "error": "the JACK server went away"}
    for _ in range(4):
        w.refresh()
    assert "JACK server went away" in w.status_note.text()


def test_block_size_menu_restarts_the_session(qtbot, engine_factory):
    made = []

    def factory(**info):
        e = engine_factory()
        made.append((e, info))
        return e, info, None

    first = engine_factory()
    w = MainWindow(first, session_factory=factory, session_info={"backend": "portaudio",
                                                                 "blocksize": 64})
    qtbot.addWidget(w)
    w.timer.stop()
    drag(w.controls["amount"], dy=40)
    amount = first.get("amount")
    w.audio.fill_block_menu()
    act = next(a for a in w.block_menu.actions() if a.text().startswith("128 frames"))
    act.trigger()
    assert made and made[-1][1]["blocksize"] == 128
    assert w.session is made[-1][0]
    assert w.session.get("amount") == pytest.approx(amount)      # parameters carried over
    assert "128 frames" in w.audio_button.text()


# --- transfer curve ----------------------------------------------------------------------

def test_transfer_curve_is_the_engines(win):
    curve = pytest.importorskip("engine.curve")
    assert win.curve.curve_fn is not None
    drag(win.controls["threshold"], dy=-30)
    drag(win.controls["ratio"], dy=40)
    win.controls["gate_on"].click()
    win.curve._recompute()
    x, y = win.curve.curve_data()
    values = win.engine.values()
    for xin in (-80.0, -40.0, -20.0, -6.0, 0.0):
        i = int(np.argmin(np.abs(x - xin)))
        assert x[i] == pytest.approx(xin)
        assert y[i] == pytest.approx(float(curve.chain_curve_db([xin], values)[0]), abs=1e-6)
    # redrawn on a parameter change
    before = y.copy()
    drag(win.controls["makeup"], dy=40)
    win.curve._recompute()
    x2, y2 = win.curve.curve_data()
    assert np.max(np.abs(y2 - before)) > 1.0
    # the live dot sits on the curve, at the input whose level the detector reads
    win.engine.set("input_gain", 6.0)
    win.set_param_display("input_gain", 6.0)
    win.curve._recompute()
    x, y = win.curve.curve_data()
    win.curve.set_detector(-24.0)
    dx, dy = win.curve.dot_position()
    pre = curve.chain_curve_db([dx], dict(win.engine.values(), settle_on=0, limiter_on=0,
                                          mix=100, output_gain=0))[0]
    assert pre == pytest.approx(-24.0, abs=0.3)
    assert dy == pytest.approx(float(np.interp(dx, x, y)), abs=1e-6)


# --- MIDI hooks ------------------------------------------------------------------------------

def test_midi_learn_and_forget_hooks(win, qtbot):
    k = win.controls["amount"]
    menu = QMenu()
    k._midi_menu(menu)
    texts = [a.text() for a in menu.actions()]
    assert "MIDI learn" in texts and any(t.startswith("Forget MIDI") for t in texts)
    with qtbot.waitSignal(win.midiLearnRequested) as blocker:
        next(a for a in menu.actions() if a.text() == "MIDI learn").trigger()
    assert blocker.args == ["amount"]
    assert k.isMidiLearning()
    # learning another knob cancels the first
    with qtbot.waitSignal(win.midiLearnCancelled):
        win.controls["ratio"]._toggle_learn()
    assert not k.isMidiLearning() and win.controls["ratio"].isMidiLearning()
    # Escape cancels a pending learn
    with qtbot.waitSignal(win.midiLearnCancelled) as blocker:
        qtbot.keyClick(win, Qt.Key.Key_Escape)
    assert blocker.args == ["ratio"]
    assert not win.controls["ratio"].isMidiLearning()
    with qtbot.waitSignal(win.midiForgetRequested) as blocker:
        next(a for a in menu.actions() if a.text().startswith("Forget MIDI")).trigger()
    assert blocker.args == ["amount"]
    # the MIDI code's side: mapping badge, learned callback from any thread
    win.midiLearned.emit("ratio", 0, 21)
    assert win.controls["ratio"].midiMapping() == "CC 21 · ch 1"
    # every switch offers the same menu
    for pid in ("gate_on", "detector", "bypass"):
        m = QMenu()
        win.controls[pid]._midi_menu(m)
        assert "MIDI learn" in [a.text() for a in m.actions()]


def test_attach_midi_controller(win, tmp_path):
    midi = pytest.importorskip("app.control.midi")
    if not hasattr(midi, "MidiController"):
        pytest.skip("app.control.midi has no MidiController yet")
    ctl = midi.MidiController(setter=win.session.set, values=win.values(), persist=False)
    win.attach_midi(ctl)
    win.controls["amount"]._toggle_learn()
    assert ctl.learning == "amount"
    # the learned CC, then it drives the knob (soft takeover: it must pass 30 % first)
    for v in (10, 30, 50, 80, 127):
        ctl.feed(bytes([0xB0, 21, v]))
    QApplication.processEvents()
    assert ctl.binding("amount") == (0, 21)
    assert not win.controls["amount"].isMidiLearning()
    assert win.controls["amount"].midiMapping() == "CC 21 · ch 1"
    assert win.engine.get("amount") == pytest.approx(100.0)
    assert win.controls["amount"].value() == pytest.approx(100.0)
    win.midiForgetRequested.emit("amount")
    assert ctl.binding("amount") is None
    assert win.controls["amount"].midiMapping() is None


# --- layout ------------------------------------------------------------------------------------

def test_layout_at_1280x800_has_no_overlaps(win):
    win.resize(1280, 800)
    QApplication.processEvents()
    rects = {}
    for pid, c in win.controls.items():
        assert c.isVisible()
        r = c.rect().translated(c.mapTo(win, QPoint(0, 0)))
        assert win.rect().contains(r), pid
        assert c.width() >= c.minimumSizeHint().width() - 1, pid
        assert c.height() >= c.minimumSizeHint().height() - 1, pid
        rects[pid] = r
    ids = list(rects)
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            assert not rects[a].intersects(rects[b]), (a, b)
    for w in (win.curve, win.bars, win.in_meter, win.out_meter, win.gate_gr, win.settle_gr):
        r = w.rect().translated(w.mapTo(win, QPoint(0, 0)))
        assert win.rect().contains(r)
        for pid, cr in rects.items():
            assert not r.intersects(cr), (w.objectName(), pid)


def test_quantize_stays_in_range():
    for p in PARAMS:
        if p.kind != "float":
            continue
        for u in np.linspace(0, 1, 41):
            v = quantize(p, p.from_norm(u))
            assert p.min <= v <= p.max, (p.id, u, v)
            p.validate(v)


# --- a real live session on a private JACK dummy server ---------------------------------------

def test_window_on_a_live_jack_session(qtbot, jack_server):
    live = pytest.importorskip("app.session.live")
    from app.hosts import jack as jack_host
    from app.session.demo import generate
    s = live.LiveSession(backend="jack", blocksize=64, no_connect=True,
                         client_name="uplift-guitest").start()
    player = None
    try:
        player = jack_host.NativePlayer(generate(48000), name="uplift-guidemo")
        player.start([f"{s.port_names['in_1'].split(':')[0]}:in_1",
                      f"{s.port_names['in_1'].split(':')[0]}:in_2"])
        w = MainWindow(s, session_info={"backend": "jack", "blocksize": s.blocksize})
        qtbot.addWidget(w)
        w.show()
        drag(w.controls["amount"], dy=40)
        assert s.get("amount") == pytest.approx(w.controls["amount"].value())
        assert s.get("amount") > 30
        qtbot.waitUntil(lambda: max(w.in_meter.peak) > -50, timeout=5000)
        qtbot.waitUntil(lambda: w.load_readout.value.text().endswith("%"), timeout=3000)
        assert w.xrun_readout.value.text().isdigit()
        assert "WITH I/O" in w.latency_readout.key.text()
        assert "JACK" in w.audio_button.text() and "64 frames" in w.audio_button.text()
        w.timer.stop()
    finally:
        if player is not None:
            player.close()
        s.stop()


def test_drift_bars_are_labelled_with_the_band_centres(win):
    from ui.meters import erb_centres
    c = win.bars.centres
    assert c.size == 40 and c[0] == pytest.approx(20, rel=1e-3) and c[-1] == pytest.approx(20000, rel=1e-3)
    assert np.allclose(c, erb_centres(40), rtol=1e-3)
    e = 21.4 * np.log10(1 + 0.00437 * c)
    assert np.allclose(np.diff(e), np.diff(e)[0], rtol=1e-3)       # equal ERB steps


def test_drift_bars_show_band_levels_and_learned_floors(win):
    """Behind the lift bars: each band's level and its learned noise floor (dBFS)."""
    eng = win.engine
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((3 * 48000, 2)) * 10 ** (-70 / 20)).astype(np.float32)
    for i in range(0, x.shape[0], 4096):
        eng.process(x[i:i + 4096])
    win.refresh()
    m = eng.meters()
    assert np.allclose(win.bars.level, m["drift_level_db"], atol=0.31)
    assert np.allclose(win.bars.floor, m["drift_floor_db"], atol=0.31)
    assert np.all(win.bars.floor > -110) and np.all(win.bars.floor <= win.bars.level + 0.5)
    assert m["drift_guarded"] >= 35
    win.bars.grab()                    # paints without error, floors included
    win.bars.mouseMoveEvent(QMouseEvent(
        QMouseEvent.Type.MouseMove, QPointF(win.bars.width() / 2, win.bars.height() / 2),
        QPointF(win.bars.width() / 2, win.bars.height() / 2), Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton, NO_MOD))
    assert "noise floor" in win.bars.toolTip()


# --- the entry point -----------------------------------------------------------------------------

def test_main_falls_back_to_the_demo_when_the_device_fails(qapp, monkeypatch, engine_factory,
                                                          tmp_path):
    runcmd = pytest.importorskip("app.session.run")
    import ui.app as uiapp
    monkeypatch.setenv("UPLIFT_CONFIG_DIR", str(tmp_path / "config"))
    calls, built = [], []

    from ui.demo import EngineSession

    class FakeDemo(EngineSession):
        demo = True
        backend, device, blocksize = "jack", None, 64

        def __init__(self, values):
            self.engine = engine_factory()
            for k, v in (values or {}).items():
                self.engine.set(k, v)
            self.samplerate = self.engine.samplerate
            self.stopped = False

        def stop(self):
            self.stopped = True

    def fake_open(ns, values=None, note=None):
        calls.append(bool(getattr(ns, "demo", False)))
        if not getattr(ns, "demo", False):
            raise RuntimeError("audio device 'USB' is busy")
        return FakeDemo(values)

    real_build = uiapp.build_window

    def spy(session, ns, note=None, owns_session=False):
        w = real_build(session, ns, note=note, owns_session=owns_session)
        built.append((w, note))
        return w

    monkeypatch.setattr(runcmd, "open_session", fake_open)
    monkeypatch.setattr(uiapp, "build_window", spy)
    rc = uiapp.main(["--preset", "Bus glue", "--set", "amount=55", "--duration", "0.3"])
    assert rc == 0
    assert calls == [False, True]
    w, note = built[0]
    assert "busy" in note and "demo" in note
    assert w.status_note.text() == note
    assert w.preset_name == "Bus glue" and w.preset_modified
    assert w.session.get("amount") == 55.0 and w.controls["amount"].value() == 55.0
    assert w.session.stopped
    # an explicit device that fails is an error, not a silent demo
    with pytest.raises(RuntimeError):
        uiapp.main(["--backend", "portaudio", "--device", "USB", "--duration", "0.1"])


def _free_udp_port():
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_osc_is_a_gui_setting_kept_across_restarts(win, qtbot, monkeypatch):
    """Control ▸ OSC…: on, port, local only; real UDP reaches the session; the
    choice is saved and comes back with the next window; off closes the port."""
    from pythonosc.udp_client import SimpleUDPClient

    from app.settings import load_settings
    from ui import osc_setting
    port = _free_udp_port()

    def fake_exec(dlg):
        assert not dlg.enabled.isChecked() and dlg.port.value() == osc_setting.DEFAULT_PORT
        dlg.enabled.setChecked(True)
        dlg.port.setValue(port)
        return osc_setting.OscDialog.DialogCode.Accepted
    monkeypatch.setattr(osc_setting.OscDialog, "exec", fake_exec)
    win.edit_osc()
    assert win.osc.running and win.osc.server.address == ("127.0.0.1", port)
    assert load_settings()["osc"] == {"enabled": True, "port": port, "host": "127.0.0.1"}
    SimpleUDPClient("127.0.0.1", port).send_message("/uplift/param/amount", 42.0)
    qtbot.waitUntil(lambda: win.engine.get("amount") == 42.0, timeout=3000)
    win.osc.stop()
    again = MainWindow(win.engine, presets=None)
    qtbot.addWidget(again)
    assert again.osc.start_from_settings() and again.osc.server.address[1] == port
    assert again.apply_osc(False, port, "127.0.0.1")
    assert not again.osc.running and load_settings()["osc"]["enabled"] is False
    assert not again.osc.start_from_settings()
    # a port that is taken: said plainly, nothing else changes
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        assert not again.osc.start(busy.getsockname()[1])
        assert "cannot listen for OSC" in again.osc.status()


def test_quit_preset_marker_and_dimmed_controls(win, qtbot):
    """Quit (Ctrl+Q) is in the menu; the preset menu opens on its first heading,
    not a separator; the modified marker goes away when the value is set back;
    the RMS window dims in peak mode; the meters dim in bypass."""
    assert win.quit_action.shortcut().toString() == "Ctrl+Q"
    win.preset_ui.fill_menu()
    first = win.preset_menu.actions()[0]
    assert not first.isSeparator() and first.text() == "FACTORY"
    assert win.load_preset("Vocal tracking")
    start = win._values["amount"]
    win._on_control("amount", start + 10.0)
    assert "*" in win.preset_button.text()
    win._on_control("amount", start)
    assert "*" not in win.preset_button.text()
    win._on_control("detector", 0.0)
    assert not win.controls["rms_window"]._active
    win._on_control("detector", 1.0)
    assert win.controls["rms_window"]._active
    assert win.bars.active and win.settle_gr.active
    win._on_control("bypass", 1.0)
    assert not win.bars.active and not win.settle_gr.active
    win._on_control("bypass", 0.0)
    assert win.bars.active
    win.quit_action.trigger()
    assert not win.isVisible()


def test_undo_redo_take_drags_presets_midi_and_osc_as_steps(win):
    """Ctrl+Z / Ctrl+Shift+Z: a drag (one parameter changing in a run) is one
    step, a preset load is one step, MIDI and OSC changes are steps too; more
    than 100 steps are kept."""
    eng = win.engine
    assert win.undo_action.shortcut().toString() == "Ctrl+Z"
    assert win.redo_action.shortcut().toString() == "Ctrl+Shift+Z"
    a0 = win._values["amount"]
    for v in (a0 + 5, a0 + 10, a0 + 20):             # one drag
        win._on_control("amount", v)
    assert len(win.undo.undo_steps) == 1
    win.undo_action.trigger()
    assert eng.get("amount") == a0 and win._values["amount"] == a0
    win.redo_action.trigger()
    assert eng.get("amount") == a0 + 20
    t0 = eng.get("threshold")
    assert win.load_preset("Bus glue")
    assert eng.get("threshold") != t0 or eng.get("ratio") != 3.0
    before = len(win.undo.undo_steps)
    win.undo.undo()                                   # the whole preset at once
    assert eng.get("threshold") == t0 and eng.get("amount") == a0 + 20
    assert len(win.undo.undo_steps) == before - 1
    eng.set("release", 333.0)                         # MIDI: the controller sets the session,
    win.set_param_display("release", 333.0)           # then the window shows it
    eng.set("knee", 12.0)                             # OSC sets the session directly
    win._sync_controls(win._read_values())            # the window's periodic sync
    win.undo.undo()
    assert eng.get("knee") != 12.0
    win.undo.undo()
    assert win._values["release"] != 333.0
    for i in range(150):                              # alternating ids: 150 steps
        if i % 2:
            win._on_control("mix", float(i % 100))
        else:
            win._on_control("output_gain", float(i % 40 - 20))
    assert len(win.undo.undo_steps) >= 100
    for _ in range(100):
        assert win.undo.undo()


def test_ab_compare_switches_copies_and_is_kept(win, qtbot):
    """Two complete settings: the A/B switch (a header switch, so MIDI and OSC
    reach it like bypass) stores one and plays the other; copy A→B; both come
    back with the next window; a switch is not an edit."""
    eng = win.engine
    assert "ab" in BY_ID and "ab" in win.controls
    win._on_control("amount", 40.0)
    steps = len(win.undo.undo_steps)
    win._on_control("ab", 1.0)                        # to B: starts as a copy of A
    assert eng.get("amount") == 40.0
    assert len(win.undo.undo_steps) == steps          # a switch is not an edit
    win._on_control("amount", 70.0)
    eng.set("ab", 0.0)                                # back to A the way MIDI does it:
    win.set_param_display("ab", 0.0)                  # the session first, then the window
    assert eng.get("amount") == 40.0
    steps = len(win.undo.undo_steps)
    win._on_control("ab", 1.0)
    assert eng.get("amount") == 70.0
    assert len(win.undo.undo_steps) == steps
    win._on_control("ab", 0.0)
    win.ab.copy(0, 1)
    win._on_control("ab", 1.0)
    assert eng.get("amount") == 40.0
    win._on_control("amount", 55.0)
    win._on_control("ab", 0.0)
    again = MainWindow(engine_for_second_window(win), presets=None)
    qtbot.addWidget(again)
    assert again.ab.slots[1]["amount"] == 55.0


def engine_for_second_window(win):
    from engine import Engine
    return Engine(win.engine.samplerate, win.engine.channels)


def test_undo_stack_coalesces_a_run_of_one_parameter_only():
    from ui.undo import COALESCE_S, UndoStack
    now = [0.0]
    applied = []
    u = UndoStack(applied.append, clock=lambda: now[0])
    u.note("amount", 30.0, 31.0)
    now[0] += COALESCE_S / 2
    u.note("amount", 31.0, 32.0)                      # same drag
    now[0] += COALESCE_S * 2
    u.note("amount", 32.0, 40.0)                      # a new gesture
    u.note("mix", 100.0, 50.0)
    u.note("mix", 50.0, 50.0)                         # no change: nothing
    assert [list(s.items()) for s in u.undo_steps] == [
        [("amount", (30.0, 32.0))], [("amount", (32.0, 40.0))], [("mix", (100.0, 50.0))]]
    assert u.undo() and applied[-1] == {"mix": 100.0}
    assert u.redo() and applied[-1] == {"mix": 50.0}
    u.note("knee", 6.0, 7.0)                          # a new edit drops the redo branch
    assert not u.redo_steps


def test_history_scrolls_the_last_ten_seconds_from_the_meters(win):
    """History tab: input and output level, SETTLE's reduction and DRIFT's overall
    lift over the last 10 s, filled from the meter snapshots the window reads."""
    eng = win.engine
    h = win.history
    assert h.n == int(10 * win.meter_hz)
    x = _sine(eng.samplerate, 0.2, -12.0)
    eng.set("threshold", -30.0)
    for _ in range(5):
        for i in range(0, x.shape[0], 512):
            eng.process(x[i:i + 512])
        win.refresh()
    win.views.setCurrentWidget(h)
    win.refresh()
    assert np.isfinite(h.data["in"][-6:]).all() and abs(h.data["in"][-1] - (-12.0)) < 1.0
    assert h.data["gr"][-1] < -3.0                       # reduction drawn downwards
    xs, ys = h.curves["out"].getData()
    assert len(xs) == h.n and np.isclose(ys[-1], h.data["out"][-1])
    assert np.isnan(h.data["in"][0])                     # older than the run: empty


def test_drift_bars_axis_has_round_frequencies_at_their_place(win):
    """The axis is labelled 20, 50, 100 ... 20k (not the bands' 261, 458, 734),
    each where it falls between the bands (by ERB number)."""
    b = win.bars
    ticks = b.tick_frequencies()
    assert ticks[0] == 20 and ticks[-1] == 20000 and 1000 in ticks
    xs = [b.x_of_frequency(f) for f in ticks]
    assert all(x1 < x2 for x1, x2 in zip(xs[:-1], xs[1:], strict=True))
    left, top, pw, ph = b._geometry()
    slot = pw / b.centres.size
    i = int(np.argmin(np.abs(b.centres - 978.0)))          # the band centred at 978 Hz
    assert left + (i + 0.5) * slot < b.x_of_frequency(1000) < left + (i + 1.5) * slot
    b.set_values(np.full(40, 6.0), np.zeros(40))
    b.set_levels(np.full(40, -60.0), np.full(40, -90.0))
    b.grab()                                                # levels, lifts, floors, ticks


@pytest.mark.parametrize("size", [(1024, 640), (1366, 700)])
def test_laptop_sizes_scroll_instead_of_squeezing(win, size):
    """At 1024×640 (and 1366×768 less a panel) the window takes that size and
    scrolls: every control keeps at least its minimum size, so no knob label or
    value is cut, and every control can be scrolled into view."""
    win.resize(*size)
    QApplication.processEvents()
    assert (win.width(), win.height()) == size
    for pid, c in win.controls.items():
        assert c.width() >= c.minimumSizeHint().width() - 1, pid
        assert c.height() >= c.minimumSizeHint().height() - 1, pid
        win.scroll.ensureWidgetVisible(c)
        QApplication.processEvents()
        r = c.rect().translated(c.mapTo(win.scroll.viewport(), QPoint(0, 0)))
        assert win.scroll.viewport().rect().contains(r), pid


def test_auto_makeup_reads_as_a_switch(win):
    """The auto makeup toggle shows a small switch whose dot moves and lights when
    on (it looked like a one-shot button)."""
    b = win.controls["auto_makeup"]
    assert not b.objectName()
    b.setChecked(False)
    off = b.grab().toImage()
    b.setChecked(True)
    on = b.grab().toImage()
    assert win.engine.get("auto_makeup") == 1.0
    y = b.height() // 2
    # the dot: left when off, right when on
    assert off.pixelColor(11, y) != on.pixelColor(11, y)
    assert off.pixelColor(24, y) != on.pixelColor(24, y)


@pytest.mark.parametrize("size", [(1024, 640), (1366, 768), (1920, 1200)])
def test_a_knobs_value_sits_with_its_own_knob(win, size):
    """Each knob's value is nearer its own dial than the label of the knob
    under it (at 1920×1200 the value sat under the ring's full circle, which is
    open at the bottom, and nearly touched the next row's label)."""
    win.resize(*size)
    QApplication.processEvents()

    def parts(k):
        o = QPointF(k.mapTo(win, QPoint(0, 0)))
        return {n: r.translated(o) for n, r in k.parts().items()}
    knobs = [c for c in win.controls.values() if isinstance(c, Knob) and not c.hero]
    pairs = 0
    for a in knobs:
        pa = parts(a)
        below = [parts(b) for b in knobs if b.parent() is a.parent() and b is not a
                 and abs(parts(b)["dial"].center().x() - pa["dial"].center().x()) < 2
                 and parts(b)["label"].top() > pa["value"].bottom() - 1]
        if not below:
            continue
        pb = min(below, key=lambda p: p["label"].top())
        to_own = pa["value"].top() - pa["dial"].bottom()
        to_next = pb["label"].top() - pa["value"].bottom()
        assert 0 <= to_own < to_next - 4, (a.param.id, to_own, to_next)
        pairs += 1
    assert pairs >= 10


def test_plot_lines_keep_their_width_on_a_hidpi_screen(win, monkeypatch):
    """pyqtgraph draws its (cosmetic) pens in device pixels: on a 2× screen the
    transfer curve and the history lines are drawn at twice their width, like
    the rest of the window, not half as thick."""
    from PyQt6.QtGui import QShowEvent
    curve, history = win.curve, win.history
    assert curve.curve_item.opts["pen"].widthF() == pytest.approx(2.5 * curve.devicePixelRatioF())
    for w in (curve, history):
        monkeypatch.setattr(w, "devicePixelRatioF", lambda: 2.0)
        QApplication.sendEvent(w, QShowEvent())
    assert curve.curve_item.opts["pen"].widthF() == pytest.approx(5.0)
    assert curve.unity.opts["pen"].widthF() == pytest.approx(2.0)
    assert history.curves["out"].opts["pen"].widthF() == pytest.approx(3.0)
    assert history.curves["in"].opts["pen"].widthF() == pytest.approx(2.0)


def test_match_shows_its_correction_beside_bypass(win, qtbot):
    """The MATCH switch in the header, and beside it the gain the level match
    applies, read from the engine's meter; "off" while it is off."""
    eng = win.engine
    header = win.header_switches
    widgets = [header.itemAt(i).widget() for i in range(header.count())]
    assert widgets.index(win.match_readout) == widgets.index(win.controls["match"]) + 1
    win.refresh()
    assert win.match_readout.value.text() == "off"
    eng.set("output_gain", 9.0)
    qtbot.mouseClick(win.controls["match"], LEFT)
    assert eng.get("match") == 1.0
    rng = np.random.default_rng(1)
    x = (0.05 * rng.standard_normal((int(eng.samplerate) * 2, 2))).astype(np.float32)
    for i in range(0, x.shape[0], 512):
        eng.process(x[i:i + 512])
    win.refresh()
    shown = float(win.match_readout.value.text().split()[0])
    assert shown == pytest.approx(eng.meters()["match_db"], abs=0.05) and shown < -5.0


def test_header_gives_way_before_the_window_scrolls(win):
    """A long audio label or preset name no longer widens the header past the
    window: at 1280×800 the header needs no more than the window's width; the
    subtitle goes first, then the buttons cut their texts with "…" (the menu
    arrow kept), and the full text stays in text() and the tooltip."""
    header = win.preset_button.parentWidget()

    def header_fits():
        # given the window's width less its outer margins (the width it gets
        # unless something else in the window is wider), the header needs no more
        header.resize(1280 - 12, header.height())
        return header.minimumSizeHint().width() <= 1280 - 12
    win.resize(1280, 800)
    win.audio_button.setText("  ·  ".join(["Demo", "JACK", "48 kHz", "64 frames"]) + "  ▾")
    QApplication.processEvents()
    assert header_fits()
    name = "A very long user preset name for the evening's second set, take 4"
    win.preset_button.setText(f"Preset:  {name}  ▾")
    win.audio_button.setText("  ·  ".join(["Focusrite Scarlett 18i20 USB (hw:2,0)", "ALSA",
                                           "48 kHz", "256 frames"]) + "  ▾")
    QApplication.processEvents()
    assert header_fits()
    for b in (win.preset_button, win.audio_button):
        shown = QToolButton.text(b)
        assert "…" in shown and shown.endswith("▾"), shown
        assert b.width() >= b.fontMetrics().horizontalAdvance(shown)
    assert name in win.preset_button.text() and name in win.preset_button.toolTip()
    win.resize(1900, 800)
    QApplication.processEvents()
    assert "…" not in QToolButton.text(win.preset_button)
