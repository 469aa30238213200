"""`ui.app.main(args)`: the GUI entry (`uplift` with a display).

Creates the QApplication, opens the live session (app.live.LiveSession on the
default device, or what the arguments ask for); if that fails, the
live-session code's fallback (a private JACK dummy server playing the built-in
demo) is used and the status bar says so; only if that is missing too, an
offline engine is fed with a generated demo (nothing audible). Then the
window, MIDI (app.midi) and the Qt event loop.
"""
from __future__ import annotations

import argparse
import importlib
import signal
import sys

RUN_KEYS = ("backend", "device", "samplerate", "blocksize", "channels", "sidechain",
            "client_name", "no_connect")
FALLBACK_NAMES = ("demo_session", "open_demo_session", "start_demo", "fallback_session",
                  "open_fallback", "demo")


def _parse(args) -> argparse.Namespace:
    if isinstance(args, argparse.Namespace):
        return args
    ap = argparse.ArgumentParser(prog="uplift-gui")
    ap.add_argument("--backend", choices=("portaudio", "jack"))
    ap.add_argument("--device")
    ap.add_argument("--samplerate", type=int)
    ap.add_argument("--blocksize", type=int)
    ap.add_argument("--channels", type=int, choices=(1, 2))
    ap.add_argument("--sidechain", action="store_true")
    ap.add_argument("--client-name", dest="client_name")
    ap.add_argument("--no-connect", dest="no_connect", action="store_true")
    ap.add_argument("--preset")
    ap.add_argument("--set", action="append", default=[], metavar="ID=VALUE")
    ap.add_argument("--midi-in", dest="midi_in")
    ap.add_argument("--demo", action="store_true", help="skip the device, play the demo")
    return ap.parse_args(list(args) if args is not None else [])


def session_kwargs(ns) -> dict:
    kw = {}
    for k in RUN_KEYS:
        v = getattr(ns, k, None)
        if v not in (None, False):
            kw[k] = v
    return kw


def _try_import(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _demo_fallback(kw: dict, reason: str):
    """The live-session code's fallback (private JACK dummy server + demo), if it has one."""
    for modname in ("app.live", "app.runcmd", "app.demo"):
        mod = _try_import(modname)
        if mod is None:
            continue
        for fname in FALLBACK_NAMES:
            fn = getattr(mod, fname, None)
            if not callable(fn):
                continue
            try:
                out = fn(**{k: v for k, v in kw.items() if k in ("blocksize", "channels",
                                                                  "samplerate", "client_name")})
            except TypeError:
                out = fn()
            session = out[0] if isinstance(out, tuple) else out
            if hasattr(session, "start") and not getattr(session, "running", False):
                try:
                    session.start()
                except Exception:
                    pass
            return session, f"No audio device ({reason}): playing the built-in demo through " \
                            f"a private JACK dummy server"
    return None


def open_session(ns_or_kw, allow_fallback: bool = True):
    """(session, info, note) for the run arguments."""
    kw = ns_or_kw if isinstance(ns_or_kw, dict) else session_kwargs(ns_or_kw)
    demo_only = bool(kw.pop("demo", False))
    reason = "demo requested"
    if not demo_only:
        live = _try_import("app.live")
        if live is not None and hasattr(live, "LiveSession"):
            try:
                s = live.LiveSession(**{k: v for k, v in kw.items() if v is not None})
                s.start()
                return s, _info(s, kw), None
            except Exception as e:
                reason = str(e).splitlines()[0] if str(e) else type(e).__name__
                if not allow_fallback:
                    raise
        else:
            reason = "live audio is not available in this build"
    fb = _demo_fallback(kw, reason)
    if fb is not None:
        s, note = fb
        return s, _info(s, dict(kw, backend="jack")), note
    from .demo import OfflineDemoSession
    s = OfflineDemoSession(samplerate=kw.get("samplerate") or 48000,
                           channels=kw.get("channels") or 2).start()
    return s, {"backend": None}, f"No audio ({reason}): showing the engine on a generated " \
                                 f"demo signal — nothing is audible"


def _info(session, kw: dict) -> dict:
    info = dict(kw)
    for k in ("backend", "device", "blocksize"):
        v = getattr(session, k, None)
        if v is not None and not callable(v):
            info[k] = v
    return info


def apply_startup_values(window, ns) -> None:
    """--preset (else the default preset) then --set ID=VALUE."""
    preset = getattr(ns, "preset", None)
    presets = window.presets
    if preset:
        if not window.load_preset(preset):
            raise ValueError(f"preset {preset!r} could not be loaded")
    elif presets is not None and getattr(presets, "DEFAULT_PRESET", None):
        window.load_preset(presets.DEFAULT_PRESET)
    from engine.params import parse_assignment
    for a in getattr(ns, "set", None) or []:
        pid, v = parse_assignment(a) if isinstance(a, str) else a
        window.set_param(pid, v)


def attach_midi(window, ns):
    """MIDI learn / control through app.midi, when it is available."""
    midi = _try_import("app.midi")
    if midi is None or not hasattr(midi, "MidiController"):
        return None
    try:
        ctl = midi.MidiController(setter=lambda k, v: window.session.set(k, v),
                                  on_change=window.externalValue.emit,
                                  on_learned=window.midiLearned.emit,
                                  values=window.values(), persist=True)
    except Exception as e:
        window.show_error(f"MIDI unavailable: {e}")
        return None
    window.attach_midi(ctl)
    inputs = []
    spec = getattr(ns, "midi_in", None)
    opener = getattr(midi, "open_input", None)
    if opener is not None:
        try:
            inputs.append(opener(ctl, spec))
        except Exception as e:
            window.statusBar().showMessage(f"MIDI input: {e}", 6000)
    read = getattr(window.session, "read_midi", None)
    if callable(read) and hasattr(midi, "MidiPoller"):
        try:
            inputs.append(midi.MidiPoller(ctl, read).start())
        except Exception:
            pass
    window._midi_inputs = inputs
    return ctl


def main(args=None) -> int:
    ns = _parse(args)
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    from . import theme
    from .window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Uplift")
    app.setApplicationDisplayName("Uplift")
    theme.apply(app)
    kw = session_kwargs(ns)
    if getattr(ns, "demo", False):
        kw["demo"] = True
    session, info, note = open_session(kw)

    def factory(**info):
        return open_session({k: v for k, v in info.items() if k in RUN_KEYS},
                            allow_fallback=False)

    win = MainWindow(session, session_factory=factory, session_info=info, note=note,
                     owns_session=True)
    try:
        apply_startup_values(win, ns)
    except (KeyError, ValueError) as e:
        win.close()
        _stop(win.session)
        raise ValueError(str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)) \
            from None
    attach_midi(win, ns)
    win.show()
    # Ctrl-C in the terminal closes the window cleanly.
    signal.signal(signal.SIGINT, lambda *_: win.close())
    tick = QTimer()
    tick.start(200)
    tick.timeout.connect(lambda: None)      # lets Python see SIGINT while Qt runs
    try:
        rc = app.exec()
    finally:
        for i in getattr(win, "_midi_inputs", []):
            try:
                i.stop()
            except Exception:
                pass
        _stop(win.session)
    return rc


def _stop(session):
    try:
        if hasattr(session, "stop"):
            session.stop()
    except Exception:
        pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
