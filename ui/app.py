"""GUI entry points.

`main(args)` — `uplift` with a display (app/cli.py): creates the QApplication,
opens the live session the way `uplift run` does (app.session.run.open_session:
PortAudio's default device, or what --backend/--device ask for; with no
audio device at all, a private JACK dummy server playing the built-in demo),
and shows the window. If the default device exists but cannot be opened
(busy, wrong rate) and the user did not ask for a specific one, the GUI also
falls back to the demo and says why in the status bar. Only if even that is
impossible (no jackd) does it show an offline engine fed with a generated
demo (nothing audible, said so).

`run_session(session, args)` — the window on an already started session
(app.session.run.run calls it for `uplift run` with a display); returns when the
window closes. The caller stops the session it passed in; a session the
window started itself (device or block-size change) is stopped here.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import signal
import sys

from app.text import one_line

RUN_KEYS = ("backend", "device", "samplerate", "blocksize", "channels", "sidechain",
            "client_name", "no_connect", "demo")


def _parse(args) -> argparse.Namespace:
    if isinstance(args, argparse.Namespace):
        return args
    ap = argparse.ArgumentParser(prog="uplift")
    from app.session.run import add_run_arguments
    add_run_arguments(ap)
    return ap.parse_args(list(args) if args is not None else [])


def session_info(session, ns=None) -> dict:
    """What the window shows and restarts with: backend, device, blocksize, demo."""
    info = {}
    if ns is not None:
        for k in RUN_KEYS:
            v = getattr(ns, k, None)
            if v not in (None, False):
                info[k] = v
    for k in ("backend", "device", "blocksize"):
        v = getattr(session, k, None)
        if v is not None and not callable(v):
            info[k] = v
    if getattr(session, "demo", False):
        info["demo"] = True
        info["backend"] = "jack"
    return info


def describe(session, reason: str | None = None) -> str | None:
    """Status-bar note for a demo session (None for real audio)."""
    if getattr(session, "demo", False):
        why = f"{reason}: " if reason else "No audio device: "
        return why + "playing the built-in demo through a private JACK dummy server"
    if getattr(session, "offline_demo", False):
        why = f"{reason}: " if reason else "No audio: "
        return why + "the engine runs on a generated demo signal; nothing is audible"
    return None


def open_session(ns, values: dict | None = None, fallback: bool = True):
    """(started session, note) for the run arguments; see the module docstring."""
    from app.session import run as runcmd
    notes: list[str] = []
    try:
        s = runcmd.open_session(ns, values, note=notes.append)
        reason = None
        if notes:
            reason = notes[-1].removeprefix("uplift: ").split(";")[0]
            reason = reason[:1].upper() + reason[1:]
        return s, describe(s, reason)
    except (KeyError, ValueError):
        raise
    except Exception as e:   # any device failure: fall back to the demo, say why
        explicit = any(getattr(ns, k, None) for k in ("backend", "device", "demo"))
        if not fallback or explicit:
            raise
        err = one_line(e)
    demo_ns = copy.copy(ns)
    demo_ns.demo = True
    try:
        s = runcmd.open_session(demo_ns, values)
        return s, describe(s, f"Audio device failed ({err})")
    except Exception as e2:  # the demo failed too: said, the window shows why
        err = f"{err}; demo: {one_line(e2)}"
    from .demo import OfflineDemoSession
    s = OfflineDemoSession(channels=getattr(ns, "channels", None) or 2).start()
    return s, describe(s, f"No audio ({err})")


def make_factory(ns, window_ref: list):
    """factory(**info) -> (session, info, note) for device / block-size changes."""
    def factory(**info):
        new_ns = copy.copy(ns)
        for k in RUN_KEYS:
            setattr(new_ns, k, info.get(k))
        if info.get("backend") == "jack" and not info.get("demo"):
            new_ns.device = None
        new_ns.channels = info.get("channels") or getattr(ns, "channels", None) or 2
        new_ns.client_name = info.get("client_name") or getattr(ns, "client_name", None) or "uplift"
        values = window_ref[0].values() if window_ref else None
        s, note = open_session(new_ns, values, fallback=False)
        return s, session_info(s, new_ns), note
    return factory


def _qapp():
    from PyQt6.QtWidgets import QApplication

    from . import theme
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Uplift")
    app.setApplicationDisplayName("Uplift")
    theme.apply(app)
    return app


def attach_midi(window, ns=None):
    """MIDI learn and control (app.session.run.start_midi): the native JACK midi_in and,
    with --midi-in, an rtmidi input; learned mappings and MIDI moves show on the knobs."""
    from app.session.run import start_midi
    try:
        ctl, inputs, errors = start_midi(window.session, getattr(ns, "midi_in", None),
                                         on_change=window.externalValue.emit,
                                         on_learned=window.midiLearned.emit,
                                         values=window.values(),
                                         out_spec=getattr(ns, "midi_out", None),
                                         current=lambda: window.session)
    except Exception as e:   # MIDI is optional: said, the window runs
        window.show_error(f"MIDI unavailable: {one_line(e)}")
        return None
    window.attach_midi(ctl)
    window._midi_inputs = inputs
    if errors:
        window.show_error("; ".join(errors)[:200])
    return ctl


def build_window(session, ns, note=None, owns_session=False):
    from .window import MainWindow
    ref: list = []
    win = MainWindow(session, session_factory=make_factory(ns, ref),
                     session_info=session_info(session, ns), note=note,
                     owns_session=owns_session)
    ref.append(win)
    preset = getattr(ns, "preset", None)
    if preset and win.presets is not None:
        try:
            name = win.presets.find_preset(preset)[0]
        except ValueError:
            name = preset
        win.preset_name = name
        try:
            win.preset_ui.loaded = dict(win.presets.load_preset(name))
        except ValueError:
            win.preset_ui.loaded = {}
        win.preset_ui.value_changed()          # --set on top of the preset: modified
    attach_midi(win, ns)
    return win


def _exec(app, win, ns) -> int:
    from PyQt6.QtCore import QTimer
    win.show()
    old = signal.signal(signal.SIGINT, lambda *_: win.close())   # Ctrl-C closes cleanly
    keepalive = QTimer()
    keepalive.timeout.connect(lambda: None)                      # lets Python see SIGINT
    keepalive.start(200)
    duration = getattr(ns, "duration", None)
    if duration:
        QTimer.singleShot(int(duration * 1000), lambda: (win.close(), app.quit()))
    try:
        return int(app.exec())
    finally:
        keepalive.stop()
        signal.signal(signal.SIGINT, old)
        for i in getattr(win, "_midi_inputs", []):
            with contextlib.suppress(Exception):
                i.stop()


def run_session(session, args) -> int:
    """The window on a started session (app.session.run.run); the caller stops `session`."""
    ns = _parse(args)
    app = _qapp()
    win = build_window(session, ns, note=describe(session), owns_session=False)
    try:
        return _exec(app, win, ns)
    finally:
        if win.session is not session:
            _stop(win.session)


STARTING = "starting audio — preparing the realtime engine…"


def _splash():
    """A small window saying what happens while the audio engine loads (a second), or
    is built for this machine the first time (half a minute, with progress)."""
    from PyQt6.QtCore import Qt
    from PyQt6.QtWidgets import QApplication, QLabel

    from . import theme
    w = QLabel()
    w.setWindowFlags(Qt.WindowType.SplashScreen | Qt.WindowType.FramelessWindowHint)
    w.setAlignment(Qt.AlignmentFlag.AlignCenter)
    w.setFixedSize(420, 150)
    w.setStyleSheet(f"background: {theme.PANEL}; border: 1px solid {theme.BORDER};")
    w.setText(f"<div style='font-size:22px;font-weight:800;letter-spacing:5px;"
              f"color:{theme.TEXT}'>UPLIFT</div><div style='color:{theme.TEXT_DIM};"
              f"font-size:12px;margin-top:10px'>{STARTING}</div>")
    w.show()
    for _ in range(5):
        QApplication.processEvents()
    return w


def _build_engine(splash):
    """The first time on this machine (or source version), build the engine with
    its progress on the splash; later starts load it and skip this."""
    from PyQt6.QtWidgets import QApplication

    from app import build
    from engine.build import is_built
    if is_built():
        return
    original = splash.text()

    def report(done, expected):
        pct = min(99, int(100 * done / expected))
        splash.setText(original.replace(
            STARTING, f"building the audio engine for this machine, once: {pct} %"))
        QApplication.processEvents()

    report(0, 1)
    build.build_all(report)
    splash.setText(original)
    QApplication.processEvents()


def main(args=None) -> int:
    """`uplift` with a display."""
    ns = _parse(args)
    app = _qapp()
    splash = _splash()
    _build_engine(splash)
    try:
        from app.session.run import values_from
        values = values_from(ns)
    except ImportError:
        values = None
    try:
        session, note = open_session(ns, values)
    finally:
        splash.close()
    if note:
        print(f"uplift: {note}", file=sys.stderr)
    win = build_window(session, ns, note=note, owns_session=True)
    if getattr(ns, "osc", None) is not None:
        # --osc wins for this run and is not saved
        if not win.osc.start(ns.osc, ns.osc_host):
            print(f"uplift: {win.osc.error}", file=sys.stderr)
            win.statusBar().showMessage(win.osc.error)
    elif not win.osc.start_from_settings() and win.osc.error:
        print(f"uplift: {win.osc.error}", file=sys.stderr)
        win.statusBar().showMessage(win.osc.error)
    try:
        return _exec(app, win, ns)
    finally:
        win.osc.stop()
        _stop(win.session)


def _stop(session):
    try:
        if hasattr(session, "stop"):
            session.stop()
    except Exception:        # stopping at exit: nothing left to tell anyone
        pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
