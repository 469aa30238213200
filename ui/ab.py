"""A/B compare: two complete settings, A and B. The `ab` parameter (a header
switch, bindable to a MIDI CC, settable over OSC) says which one plays;
switching stores the playing one and applies the other through the session
(parameters glide and stages crossfade, so the switch is click-free). Both
are kept in settings.json ("ab") across restarts."""
from __future__ import annotations

import logging

from engine.params import BY_ID

log = logging.getLogger(__name__)

SETTINGS_KEY = "ab"
NAMES = ("a", "b")


class ABCompare:
    def __init__(self, w):
        self.w = w
        self.slots: list[dict | None] = [None, None]
        self.playing = self.current
        self._load()

    def check(self) -> None:
        """After any change of values: a new `ab` (a click, MIDI, OSC) switches."""
        to = self.current
        if to != self.playing:
            self.playing = to
            self.switched(to)

    @property
    def current(self) -> int:
        return int(self.w._values.get("ab", 0.0) >= 0.5)

    def _sound(self) -> dict:
        """The values that make up a setting (not the monitoring switches, not ab)."""
        skip = set(self.w._session_only()) | {"ab"}
        return {k: v for k, v in self.w._values.items() if k not in skip}

    def switched(self, to: int) -> None:
        """`ab` became `to`: keep what played in the other slot, play slot `to`."""
        self.slots[1 - to] = self._sound()
        target = self.slots[to]
        if target is None:                 # the first switch: B starts as a copy of A
            self.slots[to] = dict(self.slots[1 - to])
        else:
            # a switch is a comparison, not an edit: it does not enter the history
            self.w.undo.applying = True
            try:
                self.w.apply_values(target)
            finally:
                self.w.undo.applying = False
        self._save()
        self.w.statusBar().showMessage(f"Playing {NAMES[to].upper()}", 2000)

    def copy(self, src: int, dst: int) -> None:
        """Copy setting `src` to `dst` (the playing one is taken as it is now)."""
        cur = self.current
        values = self._sound() if src == cur else self.slots[src]
        if values is None:
            values = self._sound()
        self.slots[dst] = dict(values)
        if dst == cur:
            self.w.undo.begin()            # copying over what plays is one step of the history
            try:
                self.w.apply_values(values)
            finally:
                self.w.undo.end()
        self._save()
        self.w.statusBar().showMessage(f"Copied {NAMES[src].upper()} to {NAMES[dst].upper()}",
                                       2000)

    # --- kept across restarts --------------------------------------------------------
    def _save(self) -> None:
        from app.presets import to_file_values
        from app.settings import SettingsError, update_settings
        slots = list(self.slots)
        slots[self.current] = self._sound()
        doc = {n: to_file_values(s) for n, s in zip(NAMES, slots, strict=True) if s is not None}
        try:
            update_settings(**{SETTINGS_KEY: doc})
        except SettingsError as e:
            log.warning("A/B not saved: %s", e)

    def _load(self) -> None:
        from app.presets import complete
        from app.settings import SettingsError, load_settings
        try:
            doc = load_settings().get(SETTINGS_KEY)
        except SettingsError as e:
            log.warning("A/B not loaded: %s", e)
            return
        if not isinstance(doc, dict):
            return
        for i, n in enumerate(NAMES):
            raw = doc.get(n)
            if not isinstance(raw, dict):
                continue
            try:
                full = complete({k: v for k, v in raw.items() if k in BY_ID})
            except (KeyError, ValueError) as e:
                log.warning("A/B setting %s not loaded: %s", n.upper(), e)
                continue
            skip = {"ab", *self.w._session_only()}
            self.slots[i] = {k: v for k, v in full.items() if k not in skip}
