"""The window's audio device and block size: the Audio menu, its button, and
replacing the live session when either changes (MainWindow delegates here)."""
from __future__ import annotations

import contextlib
import logging

from PyQt6.QtGui import QAction, QActionGroup
from PyQt6.QtWidgets import QMenu

log = logging.getLogger(__name__)

BLOCK_SIZES = (16, 32, 64, 128, 256, 512, 1024, 2048)


def samplerate(session) -> float:
    """The session's (or its engine's) rate; 48 kHz for one that does not say."""
    for obj in (session, getattr(session, "engine", None)):
        sr = getattr(obj, "samplerate", None) if obj is not None else None
        if isinstance(sr, (int, float)) and sr > 0:
            return float(sr)
    return 48000.0


class AudioMenu:
    """Owns the Audio menu (device, block size, restart) of window `w`; the
    window keeps the session, its factory and its info."""

    def __init__(self, w):
        self.w = w
        self.menu = QMenu("&Audio", w)
        self.menu.aboutToShow.connect(self.fill_audio_menu)
        self.device_menu = QMenu("&Device", w)
        self.device_menu.aboutToShow.connect(self.fill_device_menu)
        self.block_menu = QMenu("&Block size", w)
        self.block_menu.aboutToShow.connect(self.fill_block_menu)
        self.menu.addMenu(self.device_menu)
        self.menu.addMenu(self.block_menu)

    # --- menus -------------------------------------------------------------------
    def fill_audio_menu(self):
        m = self.menu
        for a in list(m.actions()):
            if a.data() == "restart":
                m.removeAction(a)
        act = QAction("Restart audio", m)
        act.setData("restart")
        act.setEnabled(self.w.session_factory is not None)
        act.triggered.connect(lambda: self.restart_session())
        m.addAction(act)

    def fill_device_menu(self):
        m = self.device_menu
        m.clear()
        if self.w.session_factory is None:
            a = m.addAction("(no live session to restart)")
            a.setEnabled(False)
            return
        info = self.w.session_info
        cur = (bool(info.get("demo")), info.get("backend"),
               None if info.get("demo") else info.get("device"))
        group = QActionGroup(m)
        for label, changes in self.list_devices():
            a = m.addAction(label)
            a.setCheckable(True)
            a.setChecked((bool(changes.get("demo")), changes.get("backend"),
                          changes.get("device")) == cur)
            group.addAction(a)
            a.triggered.connect(lambda _=False, c=changes: self.restart_session(**c))

    def block_size_fixed(self) -> bool:
        """A real JACK server decides the period; the demo's private server does not."""
        info = self.w.session_info
        return info.get("backend") == "jack" and not info.get("demo")

    def fill_block_menu(self):
        m = self.block_menu
        m.clear()
        cur = self.w.session_info.get("blocksize")
        fixed = self.block_size_fixed()
        if fixed:
            a = m.addAction("JACK: the server sets the block size (jackd -p N)")
            a.setEnabled(False)
            m.addSeparator()
        group = QActionGroup(m)
        sr = samplerate(self.w.session)
        for n in BLOCK_SIZES:
            a = m.addAction(f"{n} frames  ({n / sr * 1000:.2f} ms)")
            a.setCheckable(True)
            a.setChecked(cur == n)
            a.setEnabled(self.w.session_factory is not None and not fixed)
            group.addAction(a)
            a.triggered.connect(lambda _=False, n=n: self.restart_session(blocksize=n))

    def list_devices(self) -> list[tuple[str, dict]]:
        """(menu label, session changes): a running JACK server, PortAudio devices, the demo."""
        out = []
        info = self.w.session_info
        try:
            from app.hosts import jack as jack_host
            real_jack = info.get("backend") == "jack" and not info.get("demo")
            if real_jack or jack_host.server_running():
                out.append(("JACK server", {"backend": "jack", "device": None, "demo": False}))
        except Exception as e:             # a broken JACK library or server: not listed, said why
            log.info("JACK not listed: %s", e)
        try:
            from app.hosts import portaudio as pa_host
            devs = pa_host.usable_devices()
        except Exception as e:             # PortAudio missing or failing: not listed, said why
            log.info("PortAudio devices not listed: %s", e)
            devs = []
        if devs:
            out.append(("PortAudio: system default",
                        {"backend": "portaudio", "device": None, "demo": False}))
        for d in devs:
            name = str(d.get("name", d.get("index")))
            out.append((f"PortAudio: {name}",
                        {"backend": "portaudio", "device": name, "demo": False}))
        out.append(("Built-in demo (private JACK dummy server)",
                    {"backend": "jack", "device": None, "demo": True}))
        return out

    def update_button(self):
        info = self.w.session_info
        parts = []
        backend = info.get("backend")
        if info.get("demo"):
            parts.append("Demo")
        if backend:
            parts.append({"jack": "JACK", "portaudio": "PortAudio"}.get(backend, str(backend)))
        dev = info.get("device")
        if dev:
            parts.append(str(dev)[:28])
        sr = samplerate(self.w.session)
        parts.append(f"{sr / 1000:g} kHz")
        if info.get("blocksize"):
            parts.append(f"{info['blocksize']} frames")
        self.w.audio_button.setText("  ·  ".join(parts) + "  ▾")

    # --- the session ---------------------------------------------------------------
    def restart_session(self, **changes) -> bool:
        """Replace the live session (device / block size), carrying the parameters over."""
        w = self.w
        if w.session_factory is None:
            return False
        info = dict(w.session_info)
        info.update(changes)
        values = dict(w._values)
        old = w.session
        w.timer.stop()
        if hasattr(old, "stop"):
            try:
                old.stop()
            except Exception as e:         # a dying stream must not keep the new one from starting
                log.warning("stopping the old session: %s", e)
        try:
            new, new_info, note = self.make_session(info)
        except Exception as e:             # any failure of a user's device: said, and the old kept
            w.show_error(f"could not start audio with {changes}: {e}", dialog=True)
            try:
                new, new_info, note = self.make_session(w.session_info)
            except Exception as e2:        # nothing works any more: said, window stays
                w.show_error(f"audio stopped: {e2}", dialog=True)
                w.timer.start()
                return False
        for k, v in values.items():
            with contextlib.suppress(KeyError, ValueError):
                new.set(k, v)
        # MIDI feedback and anything else listening to parameter changes moves along
        if hasattr(new, "add_listener"):
            for fn in getattr(old, "listeners", ()):
                new.add_listener(fn)
        w.session = new
        w.session_info = new_info
        self.update_button()
        w.set_note(note)
        w._sync_controls(w._read_values(), force=True)
        w.sessionChanged.emit(new)
        w.timer.start()
        return True

    def make_session(self, info: dict):
        out = self.w.session_factory(**info)
        if isinstance(out, tuple):
            session = out[0]
            new_info = out[1] if len(out) > 1 and out[1] else info
            note = out[2] if len(out) > 2 else None
        else:
            session, new_info, note = out, info, None
        return session, dict(new_info), note
