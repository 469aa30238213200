"""The window's presets: the Preset menu and button, loading (keeping the
monitoring switches), saving and deleting user presets (MainWindow delegates
here). A preset that cannot be read or written is said in a dialog; nothing
else changes."""
from __future__ import annotations

from PyQt6.QtGui import QActionGroup, QKeySequence
from PyQt6.QtWidgets import QInputDialog, QMessageBox

from app.settings import SettingsError
from engine.params import BY_ID

#: What reading or writing a preset raises (PresetError is a ValueError; an
#: unknown id a KeyError; the disk an OSError or SettingsError)
PRESET_ERRORS = (ValueError, KeyError, OSError, SettingsError)


def _same(pid: str, a, b) -> bool:
    """Equal to the knob's resolution (a millionth of the range)."""
    if a is None or b is None:
        return a is b
    p = BY_ID.get(pid)
    span = (p.max - p.min) if p is not None else 1.0
    return abs(float(a) - float(b)) <= 1e-6 * span


class PresetMenu:
    def __init__(self, w):
        self.w = w
        self.loaded: dict = {}          # the values of the preset loaded or saved last

    def value_changed(self):
        """A value moved: the preset is modified while any value differs from it
        (moving a knob back to the preset's value clears the marker)."""
        w = self.w
        modified = any(not _same(k, w._values.get(k), v) for k, v in self.loaded.items()
                       if k not in self.session_only())
        if modified != w.preset_modified:
            w.preset_modified = modified
            self.update_button()

    def fill_menu(self):
        m = self.w.preset_menu
        m.clear()
        if self.w.presets is None:
            a = m.addAction("Presets unavailable")
            a.setEnabled(False)
            return
        try:
            listing = list(self.w.presets.list_presets())
        except PRESET_ERRORS as e:
            listing = [(n, "factory") for n in self.w.presets.factory_presets()]
            self.w.show_error(f"presets: {e}")
        group = QActionGroup(m)
        group.setExclusive(True)
        for kind, title in (("factory", "Factory"), ("user", "User")):
            names = [n for n, k in listing if k == kind]
            if kind == "user":
                m.addSeparator()
            head = m.addAction(title.upper())
            head.setEnabled(False)
            if not names:
                a = m.addAction("(none yet — Save as… to add one)")
                a.setEnabled(False)
            for n in names:
                a = m.addAction(n)
                a.setCheckable(True)
                a.setChecked(n == self.w.preset_name)
                a.setData(n)
                group.addAction(a)
                a.triggered.connect(lambda _=False, n=n: self.load(n))
        m.addSeparator()
        save = m.addAction("Save as…")
        save.setShortcut(QKeySequence("Ctrl+S"))
        save.triggered.connect(lambda: self.save_as())
        users = [n for n, k in listing if k == "user"]
        if users and hasattr(self.w.presets, "delete_user_preset"):
            dm = m.addMenu("Delete user preset")
            for n in users:
                dm.addAction(n, lambda n=n: self.delete(n))

    def update_button(self):
        if self.w.presets is None:
            return
        name = self.w.preset_name or "— no preset —"
        self.w.preset_button.setText(f"Preset:  {name}{' *' if self.w.preset_modified else ''}  ▾")

    def session_only(self):
        return getattr(self.w.presets, "SESSION_ONLY", ("bypass", "listen")) if self.w.presets \
            else ("bypass", "listen")

    def load(self, name: str) -> bool:
        if self.w.presets is None:
            return False
        try:
            values = dict(self.w.presets.load_preset(name))
        except PRESET_ERRORS as e:
            self.w.show_error(f"preset {name!r} not loaded: {e}", dialog=True)
            return False
        for k in self.session_only():
            values.pop(k, None)           # keep the monitoring state (bypass / listen)
        self.w.undo.begin()               # a preset load is one step of the history
        try:
            self.w.apply_values(values)
        except PRESET_ERRORS as e:
            self.w.show_error(f"preset {name!r}: {e}", dialog=True)
            self.w._sync_controls(self.w._read_values(), force=True)
            return False
        finally:
            self.w.undo.end()
        if self.w._midi is not None and hasattr(self.w._midi, "notify_values"):
            self.w._midi.notify_values(self.w._values)
        self._now_playing(name, f"Loaded preset “{name}”", 4000)
        return True

    def save_as(self, name: str | None = None, overwrite: bool | None = None):
        """Save the current values as a user preset; asks for a name when none is given."""
        if self.w.presets is None:
            return None
        if name is None:
            name, ok = QInputDialog.getText(self.w, "Save preset", "Preset name:",
                                            text=self.w.preset_name or "")
            if not ok or not name.strip():
                return None
            name = name.strip()
            if overwrite is None:
                try:
                    exists = any(n == name and k == "user" for n, k in self.w.presets.list_presets())
                except PRESET_ERRORS:
                    exists = False           # the question is only a courtesy
                if exists and QMessageBox.question(
                        self.w, "Save preset", f"Replace the user preset “{name}”?") \
                        != QMessageBox.StandardButton.Yes:
                    return None
        values = {k: v for k, v in self.w._values.items() if k not in self.session_only()}
        try:
            path = self.w.presets.save_user_preset(name, values)
        except PRESET_ERRORS as e:
            self.w.show_error(f"preset not saved: {e}", dialog=True)
            return None
        self._now_playing(name, f"Saved preset “{name}” ({path})", 6000)
        return path

    def _now_playing(self, name: str, message: str, ms: int) -> None:
        """The values now are preset `name`, unmodified."""
        self.w.preset_name = name
        self.w.preset_modified = False
        self.loaded = dict(self.w._values)
        self.update_button()
        self.w.statusBar().showMessage(message, ms)

    def delete(self, name: str):
        if QMessageBox.question(self.w, "Delete preset", f"Delete the user preset “{name}”?") \
                != QMessageBox.StandardButton.Yes:
            return
        try:
            self.w.presets.delete_user_preset(name)
        except PRESET_ERRORS as e:
            self.w.show_error(str(e), dialog=True)
            return
        if self.w.preset_name == name:
            self.w.preset_modified = True
            self.update_button()
        self.w.statusBar().showMessage(f"Deleted preset “{name}”", 4000)

