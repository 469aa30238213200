"""MIDI learn in the window: which control is learning, what each is bound to,
and the wiring to an app.control.midi.MidiController (MainWindow delegates
here; the MIDI thread only ever reaches the window through Qt signals)."""
from __future__ import annotations

import logging

from engine.params import BY_ID

log = logging.getLogger(__name__)


class MidiLearn:
    def __init__(self, w):
        self.w = w
        self.ctl = None

    def requested(self, pid: str):
        """A control asked to learn: the others stop, the status bar says how."""
        w = self.w
        for other, c in w.controls.items():
            if other != pid and c.isMidiLearning():
                c.cancelMidiLearn()
        w.statusBar().showMessage(f"MIDI learn: move a controller for "
                                  f"{BY_ID[pid].label} ({pid}) — Esc cancels")
        w.midiLearnRequested.emit(pid)

    def cancel(self) -> bool:
        cancelled = False
        for c in self.w.controls.values():
            if c.isMidiLearning():
                c.cancelMidiLearn()
                cancelled = True
        if cancelled:
            self.w.statusBar().showMessage("MIDI learn cancelled", 2000)
        return cancelled

    def set_learning(self, pid: str, on: bool):
        c = self.w.controls.get(pid)
        if c is not None:
            c.setMidiLearning(on)
        if not on:
            self.w.statusBar().clearMessage()

    def set_mapping(self, pid: str, text):
        c = self.w.controls.get(pid)
        if c is not None:
            c.setMidiMapping(text)

    def attach(self, ctl):
        """Wire a MidiController (duck-typed: learn, cancel_learn, forget, binding,
        notify, notify_values; on_change / on_learned callbacks)."""
        w = self.w
        self.ctl = ctl
        if getattr(ctl, "on_change", None) is None:
            ctl.on_change = w.externalValue.emit
        if getattr(ctl, "on_learned", None) is None:
            ctl.on_learned = w.midiLearned.emit
        w.midiLearnRequested.connect(lambda pid: ctl.learn(pid))
        w.midiLearnCancelled.connect(lambda pid: ctl.cancel_learn())
        w.midiForgetRequested.connect(self.forget)
        w.parameterChanged.connect(lambda pid, v: ctl.notify(pid, v))
        self.refresh_mappings()

    def refresh_mappings(self):
        ctl = self.ctl
        if ctl is None or not hasattr(ctl, "binding"):
            return
        for pid in self.w.controls:
            try:
                b = ctl.binding(pid)
            except KeyError as e:          # an id the controller does not know: unbound
                log.info("MIDI binding of %s: %s", pid, e)
                b = None
            self.set_mapping(pid, None if b is None else f"CC {b[1]} · ch {b[0] + 1}")

    def forget(self, pid: str):
        w = self.w
        c = w.controls.get(pid)
        if c is not None and c.isMidiLearning():
            c.setMidiLearning(False)
        if self.ctl is not None:
            try:
                self.ctl.forget(pid)
            except Exception as e:         # a settings file that cannot be written: said
                w.show_error(f"MIDI: {e}")
        self.set_mapping(pid, None)
        w.statusBar().showMessage(f"MIDI mapping of {BY_ID[pid].label} forgotten", 3000)

    def learned(self, pid: str, channel: int, cc: int):
        w = self.w
        c = w.controls.get(pid)
        if c is not None:
            c.setMidiLearning(False)
        self.refresh_mappings()
        if self.ctl is None:
            self.set_mapping(pid, f"CC {cc} · ch {channel + 1}")
        w.statusBar().showMessage(f"MIDI: CC {cc} (channel {channel + 1}) → "
                                  f"{BY_ID[pid].label}", 4000)
