"""MidiController: control changes -> parameters.

MIDI learn (`learn(id)`: the next CC binds its channel/number to the parameter;
`cancel_learn()`; `forget(id)`), 14-bit pairs (recognised once the controller
sends the LSB), soft takeover for continuous parameters (after `notify()` of a
mouse or preset change, the controller only takes the parameter once its
position meets or crosses the current value). Results go to `setter(id, value)`
(the live session's set(), i.e. the lock-free ring; the MIDI thread never
touches the engine or GUI itself) and the optional `on_change(id, value)` (the
GUI's Qt signal; this module has no Qt). Mappings persist in settings.json
("midi") and are reloaded when a controller is built with persist=True.

Feedback: a value changed from anywhere else (notify(), fed by LiveSession's
listeners: mouse, preset, OSC) goes to every output added with
`add_output(send)` as the CC (or 14-bit CC pair) that puts the controller
there; its own changes are not echoed back.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from app.control.midi.mapping import (
    CONTROL_CHANGE,
    MAX_LEARNABLE_CC,
    Binding,
    _binding_from_json,
    _clamp,
    _stepped,
    feedback_message,
)
from app.control.midi.parser import MidiParser
from engine.params import BY_ID, param

log = logging.getLogger("uplift.midi")

ECHO_WINDOW = 1.0             # s: notify() of a value this controller set that recently is an echo


class MidiController:
    """Control changes -> parameter values, with learn, 14-bit and soft takeover.

    Thread-safe: feed() may be called from reader threads while learn(),
    forget() and notify() come from the GUI thread. The callbacks run in the
    feeding thread, outside the controller's lock; exceptions they raise are
    logged and swallowed (a MIDI thread must not die of a GUI bug).
    """

    SETTINGS_KEY = "midi"

    def __init__(self, setter: Callable[[str, float], object] | None = None,
                 on_change: Callable[[str, float], object] | None = None,
                 values: dict | None = None, persist: bool = True,
                 on_learned: Callable[[str, int, int], object] | None = None):
        self.setter = setter
        self.on_change = on_change
        self.on_learned = on_learned      # (param_id, channel 0..15, cc) after a learn
        self.persist = persist
        self._lock = threading.RLock()
        self._bindings: dict[tuple[int, int], Binding] = {}   # (channel, cc) -> Binding
        self._by_param: dict[str, Binding] = {}
        self._current: dict[str, float] = {p: BY_ID[p].default for p in BY_ID}
        self._sent: dict[str, deque] = {}       # recent values this controller set, per id
        self._learning: str | None = None
        self._last_cc: dict[int, int] = {}      # channel -> last CC number seen
        self._stream = MidiParser()             # for feed(): one continuous byte stream
        self._event_parser = MidiParser()       # for feed_event(): self-contained events
        self.load_errors: list[str] = []        # bad entries skipped by load_mappings()
        self.save_error: str | None = None      # last failure to save mappings, if any
        self._outputs: list[Callable[[bytes], object]] = []   # feedback (add_output)
        self.stats = {"messages": 0, "control_changes": 0, "applied": 0, "ignored": 0,
                      "callback_errors": 0, "sent": 0}
        if values:
            self.notify_values(values)
        if persist:
            self.load_mappings()

    # --- learn / forget ---
    def learn(self, param_id: str) -> None:
        """Arm MIDI learn: the next control change binds to `param_id`."""
        p = param(param_id)
        with self._lock:
            self._learning = p.id

    def cancel_learn(self) -> None:
        with self._lock:
            self._learning = None

    @property
    def learning(self) -> str | None:
        return self._learning

    def forget(self, param_id: str) -> bool:
        """Remove the mapping of `param_id`; True if there was one."""
        p = param(param_id)
        with self._lock:
            b = self._by_param.pop(p.id, None)
            if b is not None:
                self._bindings.pop((b.channel, b.cc), None)
            if self._learning == p.id:
                self._learning = None
        if b is not None:
            self._save()
        return b is not None

    def forget_all(self) -> None:
        with self._lock:
            self._bindings.clear()
            self._by_param.clear()
        self._save()

    def bind(self, param_id: str, channel: int, cc: int, fine: bool = False) -> None:
        """Bind directly (what learn does when the CC arrives). channel 0..15."""
        p = param(param_id)
        if not 0 <= channel <= 15:
            raise ValueError(f"channel {channel} is not 0..15")
        if not 0 <= cc <= MAX_LEARNABLE_CC:
            raise ValueError(f"cc {cc} is not 0..{MAX_LEARNABLE_CC}")
        with self._lock:
            self._bind(Binding(p.id, channel, cc, fine=fine and cc < 32))
        self._save()

    def _bind(self, b: Binding) -> None:
        old = self._by_param.pop(b.param_id, None)
        if old is not None:
            self._bindings.pop((old.channel, old.cc), None)
        other = self._bindings.pop((b.channel, b.cc), None)
        if other is not None:
            self._by_param.pop(other.param_id, None)
        self._bindings[(b.channel, b.cc)] = b
        self._by_param[b.param_id] = b

    def binding(self, param_id: str) -> tuple[int, int] | None:
        """(channel 0..15, cc) bound to the parameter, or None."""
        b = self._by_param.get(param(param_id).id)
        return None if b is None else (b.channel, b.cc)

    def is_fine(self, param_id: str) -> bool:
        b = self._by_param.get(param(param_id).id)
        return bool(b and b.fine)

    def mappings(self) -> list[dict]:
        """The mappings as persisted: [{"param", "channel" 1..16, "cc", "resolution"}]."""
        with self._lock:
            return [b.to_json() for b in sorted(self._by_param.values(),
                                                key=lambda b: (b.channel, b.cc))]

    # --- persistence ---
    def load_mappings(self) -> list[str]:
        """Replace the mappings with those in settings.json. Entries that are
        not valid are skipped and described in the returned list (also kept in
        `load_errors`); an unreadable settings file is reported the same way."""
        from app.settings import SettingsError, load_settings, settings_path
        errors: list[str] = []
        try:
            items = load_settings().get(self.SETTINGS_KEY, [])
        except SettingsError as e:
            items, errors = [], [str(e)]
        if not isinstance(items, list):
            errors.append(f"{settings_path()}: field 'midi': expected a list")
            items = []
        loaded = []
        for i, item in enumerate(items):
            try:
                loaded.append(_binding_from_json(item))
            except ValueError as e:
                errors.append(f"{settings_path()}: field 'midi[{i}]': {e}")
        with self._lock:
            self._bindings.clear()
            self._by_param.clear()
            for b in loaded:
                self._bind(b)
        self.load_errors = errors
        for e in errors:
            log.warning("MIDI mappings: %s (skipped)", e)
        return errors

    def save_mappings(self) -> None:
        """Write the mappings to settings.json (atomically); raises SettingsError."""
        from app.settings import update_settings
        update_settings(**{self.SETTINGS_KEY: self.mappings()})

    def _save(self) -> None:
        if not self.persist:
            return
        from app.settings import SettingsError
        try:
            self.save_mappings()
            self.save_error = None
        except SettingsError as e:
            self.save_error = str(e)
            log.warning("MIDI mappings not saved: %s", e)

    # --- values from elsewhere (mouse, presets): soft takeover ---
    def notify(self, param_id: str, value) -> None:
        """The parameter was changed by something other than this controller
        (mouse, preset, OSC, CLI). Its controller must pass the new value before
        it takes the parameter again, and is sent the value (feedback, for motor
        faders and LED rings). Echoes of this controller's own changes (the GUI
        reflecting on_change) neither disengage it nor go back out."""
        p = BY_ID.get(param_id)
        if p is None:
            return
        try:
            v = p.validate(value)
        except ValueError:
            return
        with self._lock:
            if self._current.get(p.id) == v:
                return
            now = time.monotonic()
            if any(sv == v and now - t < ECHO_WINDOW for sv, t in self._sent.get(p.id, ())):
                return                     # a (possibly late) echo of our own change
            self._current[p.id] = v
            b = self._by_param.get(p.id)
            if b is None:
                return
            if p.kind == "float":
                b.engaged = False
            msg = feedback_message(b, p, v)
        self._send(msg)

    def notify_values(self, values: dict) -> None:
        """notify() for each entry, e.g. after a preset load."""
        for k, v in values.items():
            self.notify(k, v)

    # --- feedback out ---
    def add_output(self, send: Callable[[bytes], object]) -> None:
        """Send feedback through send(message bytes) from now on (a JACK midi_out,
        an rtmidi output), starting with every bound parameter's value."""
        with self._lock:
            self._outputs.append(send)
        self.send_all()

    def remove_output(self, send) -> None:
        with self._lock:
            if send in self._outputs:
                self._outputs.remove(send)

    def send_all(self) -> None:
        """Every bound parameter's current value to the outputs (a controller was
        attached or reconnected: its faders and rings show the truth)."""
        with self._lock:
            msgs = [feedback_message(b, BY_ID[b.param_id], self._current[b.param_id])
                    for b in sorted(self._by_param.values(), key=lambda b: (b.channel, b.cc))]
        for m in msgs:
            self._send(m)

    def _send(self, msg: bytes) -> None:
        with self._lock:
            outs = list(self._outputs)
        for send in outs:
            try:
                send(msg)
                self.stats["sent"] += 1
            except Exception as e:   # an output (device, JACK) must not stop feedback to the others
                self.stats["callback_errors"] += 1
                log.warning("MIDI feedback through %r failed: %s", send, e)

    def reset_takeover(self) -> None:
        """Forget where the controllers are (a device was (re)connected): each
        must pass its parameter's value again before it takes it."""
        with self._lock:
            for b in self._by_param.values():
                b.engaged = False
                b.last_pos = None
                b.msb = None
                b.msb_pending = False

    def value(self, param_id: str) -> float:
        """The value this controller believes the parameter has."""
        return self._current[param(param_id).id]

    # --- input ---
    def feed(self, data) -> int:
        """Feed raw MIDI bytes from a continuous stream (state is kept between
        calls). Returns the number of parameter changes made. Never raises."""
        try:
            with self._lock:
                msgs = self._stream.feed(data)
            return self._handle(msgs)
        except Exception:                              # pragma: no cover - defensive
            log.exception("MIDI input dropped")
            return 0

    def feed_event(self, data) -> int:
        """Feed one self-contained MIDI event (a JACK event, an rtmidi message):
        a partial message at its end is dropped, not carried into the next."""
        try:
            with self._lock:
                msgs = self._event_parser.feed(data)
                self._event_parser.end_event()
            return self._handle(msgs)
        except Exception:                              # pragma: no cover - defensive
            log.exception("MIDI input dropped")
            return 0

    def _handle(self, msgs) -> int:
        if not msgs:
            return 0
        actions: list[tuple] = []
        with self._lock:
            for status, d1, d2 in msgs:
                self.stats["messages"] += 1
                if status & 0xF0 != CONTROL_CHANGE:
                    continue
                self.stats["control_changes"] += 1
                self._control_change(status & 0x0F, d1, d2, actions)
        n = 0
        for act in actions:
            if act[0] == "set":
                n += self._apply(act[1], act[2])
            elif act[0] == "learned":
                self._save()
                self._call(self.on_learned, act[1], act[2], act[3])
                with self._lock:
                    b = self._by_param.get(act[1])
                    msg = None if b is None else feedback_message(
                        b, BY_ID[act[1]], self._current[act[1]])
                if msg:
                    self._send(msg)
            elif act[0] == "save":
                self._save()
        return n

    def _control_change(self, ch: int, cc: int, val: int, actions: list) -> None:
        prev_cc = self._last_cc.get(ch)
        self._last_cc[ch] = cc
        if cc > MAX_LEARNABLE_CC:
            return
        b = self._bindings.get((ch, cc))
        # An LSB (32..63) of a bound MSB, unless the LSB number is bound itself.
        if b is None and 32 <= cc < 64:
            m = self._bindings.get((ch, cc - 32))
            if m is not None and self._learning is None:
                self._lsb(m, val, prev_cc, actions)
                return
        if self._learning is not None:
            # The LSB half of a 14-bit pair is not a control of its own: learn the MSB.
            if 32 <= cc < 64 and prev_cc == cc - 32:
                return
            pid = self._learning
            self._learning = None
            nb = Binding(pid, ch, cc)
            nb.last_pos = val / 127.0
            nb.msb = val
            self._bind(nb)
            actions.append(("learned", pid, ch, cc))
            return
        if b is None:
            self.stats["ignored"] += 1
            return
        if b.fine:
            if b.msb_pending:
                # Two MSBs with no LSB between: the controller is sending 7-bit now.
                b.fine = False
                b.msb_pending = False
                actions.append(("save",))
                self._position(b, val / 127.0, 127, actions)
                return
            b.msb, b.lsb, b.msb_pending = val, 0, True
            return
        b.msb = val
        self._position(b, val / 127.0, 127, actions)

    def _lsb(self, b: Binding, val: int, prev_cc: int | None, actions: list) -> None:
        if b.msb is None:
            return                       # an LSB before any MSB: nothing to refine
        if not b.fine:
            if prev_cc != b.cc:
                # Not right after its MSB: an unrelated control that happens to be
                # numbered n+32, not the second half of a pair.
                self.stats["ignored"] += 1
                return
            b.fine = True                # the controller sends 14-bit pairs
            actions.append(("save",))
        b.lsb = val
        b.msb_pending = False
        self._position(b, ((b.msb << 7) | val) / 16383.0, 16383, actions)

    def _position(self, b: Binding, pos: float, steps: int, actions: list) -> None:
        """The controller of `b` is at `pos` (0..1): map, soft-takeover, queue the set."""
        p = BY_ID[b.param_id]
        last = b.last_pos
        b.last_pos = pos
        if p.kind == "float":
            value = _clamp(p, p.from_norm(pos))
            if not b.engaged:
                cur = self._current[p.id]
                target = p.to_norm(cur)
                tol = 0.5 / steps + 1e-9
                meets = abs(pos - target) <= tol
                crossed = last is not None and (last - target) * (pos - target) <= 0
                if not (meets or crossed):
                    return
                b.engaged = True
        else:
            value = _stepped(p, pos)
            b.engaged = True
        if value == self._current[p.id]:
            return
        self._current[p.id] = value
        sent = self._sent.get(p.id)
        if sent is None:
            sent = self._sent[p.id] = deque(maxlen=32)
        sent.append((value, time.monotonic()))
        actions.append(("set", p.id, value))

    def _apply(self, pid: str, value: float) -> int:
        ok = True
        if self.setter is not None:
            try:
                self.setter(pid, value)
            except Exception as e:   # the setter is the caller's: counted, the MIDI thread lives
                ok = False
                self.stats["callback_errors"] += 1
                log.warning("MIDI: setting %s to %s failed: %s", pid, value, e)
        if ok:
            self.stats["applied"] += 1
            self._call(self.on_change, pid, value)
        return int(ok)

    def _call(self, fn, *args) -> None:
        if fn is None:
            return
        try:
            fn(*args)
        except Exception as e:   # a GUI callback must not kill the MIDI thread
            self.stats["callback_errors"] += 1
            log.warning("MIDI callback %r failed: %s", fn, e)
