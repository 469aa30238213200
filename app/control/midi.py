"""MIDI control: learn, 14-bit CC, soft takeover, persistence, inputs.

Layers, from the bytes up:

`MidiParser`     a byte-stream parser that never raises: running status,
                 realtime bytes (0xF8-0xFF) anywhere, SysEx skipped (also when
                 cut short by a status byte), system common messages skipped,
                 truncated messages and stray data bytes dropped, anything that
                 is not an int 0..255 ignored. Yields channel messages.
`MidiController` control changes -> parameters. MIDI learn (`learn(id)`: the
                 next CC binds its channel/number to the parameter;
                 `cancel_learn()`; `forget(id)`), 14-bit pairs (CC n with its
                 LSB n+32, n < 32, recognised once the controller sends the
                 LSB), the controller position mapped across the parameter's
                 whole range through its taper (Param.from_norm), enums and
                 bools stepped, soft takeover for continuous parameters (after
                 `notify()` of a mouse or preset change, the controller only
                 takes the parameter once its position meets or crosses the
                 current value). Results go to `setter(id, value)` (the live
                 session's set(), i.e. the lock-free ring; the MIDI thread
                 never touches the engine or GUI itself) and the optional
                 `on_change(id, value)` (the GUI's Qt signal; this module has
                 no Qt). Mappings persist in settings.json ("midi") and are
                 reloaded when a controller is built with persist=True.
                 Feedback: a value changed from anywhere else (notify(), fed by
                 LiveSession's listeners: mouse, preset, OSC) goes to every
                 output added with `add_output(send)` as the CC (or 14-bit CC
                 pair) that puts the controller there; its own changes are not
                 echoed back.
`MidiInput`      a python-rtmidi input on the JACK (or ALSA) API, by port name
                 or as a virtual port others connect to; a reader thread polls
                 rtmidi's queue (no Python ever runs in JACK's process thread)
                 and watches the port list, reconnecting when a device goes
                 away and comes back.
`MidiOutput`     a python-rtmidi output for that feedback: a virtual port, or
                 a named destination it connects to when it appears.
`MidiPoller`     drains any callable returning a list of raw MIDI events
                 (bytes), e.g. LiveSession.read_midi() for the native JACK
                 client's CLIENT:midi_in port, and feeds them.

`list_input_ports(api)` lists the MIDI sources on an API for `--midi-in` and
the GUI's menu; it returns [] where the API is unavailable (no ALSA sequencer,
no JACK server) instead of raising.
"""
from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from engine.params import BY_ID, Param, param

log = logging.getLogger("uplift.midi")

# --- the byte parser -------------------------------------------------------

_CHANNEL_DATA_LEN = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}
_SYSCOMMON_DATA_LEN = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF4: 0, 0xF5: 0, 0xF6: 0}
CONTROL_CHANGE = 0xB0
MAX_LEARNABLE_CC = 119        # 120-127 are channel mode messages
ECHO_WINDOW = 1.0             # s: notify() of a value this controller set that recently is an echo


class MidiParser:
    """Incremental MIDI byte-stream parser. `feed(data)` returns the complete
    channel voice messages as (status, data1, data2) tuples (data2 is 0 for
    one-byte messages). It keeps its state between calls, like a MIDI cable;
    `end_event()` drops a partial message and the running status, for sources
    that deliver self-contained events (JACK, rtmidi)."""

    __slots__ = ("running", "need", "buf", "in_sysex", "syscommon")

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.running = 0          # running status (channel messages only)
        self.need = 0             # data bytes still needed for the message in buf
        self.buf: list[int] = []
        self.in_sysex = False
        self.syscommon = False    # buf holds a system common message (discarded when done)

    def end_event(self) -> None:
        self.reset()

    def feed(self, data) -> list[tuple[int, int, int]]:
        out: list[tuple[int, int, int]] = []
        for b in _iter_bytes(data):
            if b >= 0xF8:                 # realtime: may appear anywhere, changes nothing
                continue
            if b >= 0x80:                 # a status byte
                if b == 0xF7:             # end of exclusive (or a stray one)
                    self.in_sysex = False
                    self.buf, self.need, self.syscommon = [], 0, False
                    continue
                self.in_sysex = False     # any other status byte also ends a SysEx
                if b == 0xF0:
                    self.in_sysex = True
                    self.running = 0
                    self.buf, self.need, self.syscommon = [], 0, False
                    continue
                if b >= 0xF1:             # system common: clears running status
                    self.running = 0
                    n = _SYSCOMMON_DATA_LEN[b]
                    self.buf, self.need, self.syscommon = ([b], n, True) if n else ([], 0, False)
                    continue
                self.running = b          # channel message; a partial one before it is dropped
                self.buf, self.need, self.syscommon = [b], _CHANNEL_DATA_LEN[b & 0xF0], False
                continue
            # a data byte
            if self.in_sysex:
                continue
            if self.need == 0:
                if not self.running:
                    continue              # stray data byte
                self.buf, self.need, self.syscommon = [self.running], \
                    _CHANNEL_DATA_LEN[self.running & 0xF0], False
            self.buf.append(b)
            self.need -= 1
            if self.need == 0:
                if self.syscommon:
                    self.syscommon = False
                else:
                    m = self.buf
                    out.append((m[0], m[1], m[2] if len(m) > 2 else 0))
                self.buf = []
        return out


def _iter_bytes(data) -> Iterable[int]:
    """The ints 0..255 in `data` (bytes, bytearray, memoryview, or an iterable
    of ints); anything else in it is skipped, and a non-iterable yields nothing."""
    if isinstance(data, (bytes, bytearray)):
        return data
    if isinstance(data, memoryview):
        try:
            return data.cast("B").tobytes()
        except (TypeError, ValueError):
            return ()
    if isinstance(data, int):
        data = (data,)
    try:
        it = iter(data)
    except TypeError:
        return ()
    if isinstance(data, str):
        return ()
    return _clean_ints(it)


def _clean_ints(it):
    try:
        for v in it:
            if isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255:
                yield v
    except Exception:      # a broken iterable: stop, never raise into the reader
        return


# --- mappings --------------------------------------------------------------

@dataclass
class Binding:
    param_id: str
    channel: int              # 0..15
    cc: int                   # 0..119
    fine: bool = False        # 14-bit: CC cc (MSB) + CC cc+32 (LSB) seen from the controller
    # soft takeover / 14-bit state (not persisted)
    engaged: bool = False     # the controller currently owns the parameter
    last_pos: float | None = None   # controller position (0..1) last seen
    msb: int | None = None
    lsb: int = 0
    msb_pending: bool = False # 14-bit: MSB arrived, waiting for its LSB

    def to_json(self) -> dict:
        return {"param": self.param_id, "channel": self.channel + 1, "cc": self.cc,
                "resolution": 14 if self.fine else 7}


def _binding_from_json(item) -> Binding:
    """One persisted mapping, or ValueError saying what is wrong with it."""
    if not isinstance(item, dict):
        raise ValueError(f"expected an object, got {item!r}")
    pid = item.get("param")
    if not isinstance(pid, str) or pid not in BY_ID:
        raise ValueError(f"unknown parameter {pid!r}")
    ch, cc, res = item.get("channel"), item.get("cc"), item.get("resolution", 7)
    if isinstance(ch, bool) or not isinstance(ch, int) or not 1 <= ch <= 16:
        raise ValueError(f"{pid}: channel {ch!r} is not 1..16")
    if isinstance(cc, bool) or not isinstance(cc, int) or not 0 <= cc <= MAX_LEARNABLE_CC:
        raise ValueError(f"{pid}: cc {cc!r} is not 0..{MAX_LEARNABLE_CC}")
    if res not in (7, 14):
        raise ValueError(f"{pid}: resolution {res!r} is not 7 or 14")
    return Binding(pid, ch - 1, cc, fine=(res == 14 and cc < 32))


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


def feedback_message(b: Binding, p: Param, value: float) -> bytes:
    """The control change(s) that put binding `b`'s controller at `value`: one CC
    (7-bit), or MSB on cc and LSB on cc + 32 for a 14-bit binding. The inverse of
    how input maps positions to values (stepped parameters: 0 and 127 at the ends)."""
    pos = min(max(p.to_norm(value), 0.0), 1.0)
    status = CONTROL_CHANGE | b.channel
    if b.fine:
        v14 = int(round(pos * 16383))
        return bytes((status, b.cc, v14 >> 7, status, b.cc + 32, v14 & 0x7F))
    return bytes((status, b.cc, int(round(pos * 127))))


def _clamp(p: Param, v: float) -> float:
    return min(max(v, p.min), p.max)


def _stepped(p: Param, pos: float) -> float:
    """Enums and bools: the controller's travel split into equal zones."""
    n = 2 if p.kind == "bool" else len(p.choices)
    return float(min(n - 1, int(pos * n)))


# --- ports -----------------------------------------------------------------

class MidiError(Exception):
    """A MIDI input that cannot be opened; the message is one clear line."""


_API_NAMES = {"jack": "API_UNIX_JACK", "alsa": "API_LINUX_ALSA"}


def _rtmidi():
    try:
        import rtmidi
    except ImportError as e:        # pragma: no cover - a dependency
        raise MidiError(f"python-rtmidi is not installed ({e})") from None
    return rtmidi


def _api(api) -> int:
    rtmidi = _rtmidi()
    if isinstance(api, int):
        return api
    key = str(api or "jack").strip().lower()
    if key not in _API_NAMES:
        raise MidiError(f"unknown MIDI API {api!r} (jack or alsa)")
    return getattr(rtmidi, _API_NAMES[key])


def _api_label(api: int) -> str:
    rtmidi = _rtmidi()
    return {rtmidi.API_UNIX_JACK: "JACK", rtmidi.API_LINUX_ALSA: "ALSA"}.get(api, str(api))


def _open_midi_in(api: int, client_name: str, queue_size: int = 4096):
    rtmidi = _rtmidi()
    if api not in rtmidi.get_compiled_api():
        raise MidiError(f"{_api_label(api)} MIDI is not supported by this python-rtmidi build")
    try:
        mi = rtmidi.MidiIn(api, client_name, queue_size)
    except rtmidi.RtMidiError as e:
        hint = ("is the JACK server running?" if api == rtmidi.API_UNIX_JACK
                else "there is no ALSA sequencer (/dev/snd/seq) on this machine")
        raise MidiError(f"{_api_label(api)} MIDI is not available: {hint} ({e})") from None
    # Everything reaches the parser, which skips what it does not need: rtmidi's own
    # filters look only at a message's first byte and would drop whole merged events.
    mi.ignore_types(sysex=False, timing=False, active_sense=False)
    return mi


def list_input_ports(api="jack") -> list[str]:
    """Names of the MIDI sources on `api` ("jack" or "alsa"); [] if the API is
    unavailable (no JACK server, no ALSA sequencer). Never raises."""
    mi = None
    try:
        mi = _open_midi_in(_api(api), "uplift-probe", 16)
        return list(mi.get_ports())
    except Exception:        # documented: [] where the API is unavailable, never raises
        return []
    finally:
        if mi is not None:
            _close(mi)


def _close(mi) -> None:
    with contextlib.suppress(Exception):
        mi.close_port()
    with contextlib.suppress(Exception):
        mi.delete()


def match_port(wanted: str, ports: list[str]) -> str | None:
    """The port `wanted` names: exact, then case-insensitive, then the same
    port of a JACK client renamed with a '-NN' suffix (a device that came back
    before its old client was gone), then the one port containing it."""
    if not wanted:
        return None
    if wanted in ports:
        return wanted
    w = wanted.casefold()
    for p in ports:
        if p.casefold() == w:
            return p
    base = _strip_jack_suffix(w)
    for p in ports:
        if _strip_jack_suffix(p.casefold()) == base:
            return p
    hits = [p for p in ports if w in p.casefold()]
    return hits[0] if len(hits) == 1 else None


def _strip_jack_suffix(name: str) -> str:
    client, sep, port = name.partition(":")
    return re.sub(r"-\d\d$", "", client) + sep + port


class MidiInput:
    """One rtmidi MIDI input feeding a MidiController from a reader thread.

    port=None opens a virtual input `<client_name>:<port_name>` for other
    programs (or the user's patchbay) to connect to; port="name" connects to
    that source, waits for it if it is not there yet, and reconnects when it
    disappears and comes back (the port list is polled every `poll_interval`
    seconds). On JACK, a server that goes away is noticed (a small watch
    client's shutdown callback) and the input is reopened when it returns.
    `status` is a one-line description for the GUI/CLI.

    Messages are polled from rtmidi's queue on our own thread: with an rtmidi
    callback, Python would run (and take the GIL) inside JACK's process thread.
    """

    def __init__(self, controller: MidiController, port: str | None = None, api="jack",
                 client_name: str = "uplift-midi", port_name: str = "in",
                 poll_interval: float = 0.5, read_interval: float = 0.002):
        self.controller = controller
        self.wanted = port
        self.api = _api(api)
        self.client_name = client_name
        self.port_name = port_name
        self.poll_interval = poll_interval
        self.read_interval = read_interval
        self.connected_to: str | None = None
        self.status = "stopped"
        self.events = 0
        self.reconnects = 0
        self._mi = None
        self._watch_client = None
        self._server_gone = threading.Event()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def connected(self) -> bool:
        return self._mi is not None and (self.wanted is None or self.connected_to is not None)

    def start(self) -> MidiInput:
        """Open the input (MidiError with one clear line if the API is not
        available) and start the reader thread."""
        if self._thread is not None:
            return self
        self._open()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="uplift-midi-in", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        t, self._thread = self._thread, None
        if t is not None:
            t.join(5)
        self._close_all()
        self.status = "stopped"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _open(self) -> None:
        self._server_gone.clear()
        if self.api == _rtmidi().API_UNIX_JACK:
            self._watch_client = _jack_watch_client(f"{self.client_name}-watch",
                                                    self._server_gone.set)
        try:
            self._mi = _open_midi_in(self.api, self.client_name)
            if self.wanted is None:
                self._mi.open_virtual_port(self.port_name)
                self.status = f"listening on {self.client_name}:{self.port_name}"
            else:
                self._connect(self._mi.get_ports())
        except MidiError:
            self._close_all()
            raise
        except Exception as e:   # rtmidi raises its own and system errors: one MidiError
            self._close_all()
            raise MidiError(f"cannot open MIDI input: {e}") from None

    def _close_all(self) -> None:
        mi, self._mi = self._mi, None
        if mi is not None:
            _close(mi)
        wc, self._watch_client = self._watch_client, None
        if wc is not None:
            _close_bounded(wc)
        self.connected_to = None

    def _connect(self, ports: list[str]) -> bool:
        name = match_port(self.wanted, ports)
        if name is None:
            self.connected_to = None
            self.status = f"waiting for MIDI input {self.wanted!r}"
            return False
        mi = self._mi
        if mi.is_port_open():
            mi.close_port()
        mi.open_port(ports.index(name), self.port_name)
        self.controller.reset_takeover()
        self.connected_to = name
        self.status = f"connected to {name}"
        return True

    def _run(self) -> None:
        next_poll = time.monotonic() + self.poll_interval
        retry = self.poll_interval
        while not self._stop.is_set():
            try:
                if self._server_gone.is_set() or self._mi is None:
                    self._reopen_later(retry)
                    retry = min(retry * 2, 5.0)
                    continue
                retry = self.poll_interval
                got = self._drain()
                now = time.monotonic()
                if self.wanted is not None and now >= next_poll:
                    next_poll = now + self.poll_interval
                    self._watch()
                if not got:
                    self._stop.wait(self.read_interval)
            except Exception as e:       # never let the reader die
                self.status = f"MIDI input error: {e}"
                log.warning("MIDI input: %s", e)
                self._stop.wait(self.poll_interval)

    def _reopen_later(self, delay: float) -> None:
        if self._mi is not None or self._watch_client is not None:
            self._close_all()
            self.status = f"{_api_label(self.api)} server gone; waiting for it to come back"
            log.warning("MIDI input: %s", self.status)
        if self._stop.wait(delay):
            return
        try:
            self._open()
            self.reconnects += 1
        except MidiError:
            self._close_all()
            self.status = f"{_api_label(self.api)} server gone; waiting for it to come back"

    def _drain(self) -> int:
        mi = self._mi
        n = 0
        while mi is not None and n < 4096:
            msg = mi.get_message()
            if not msg:
                break
            n += 1
            self.events += 1
            self.controller.feed_event(msg[0])
        return n

    def _watch(self) -> None:
        ports = list(self._mi.get_ports())
        if self.connected_to is not None and self.connected_to not in ports:
            # The device went away: close our port, wait for it to come back.
            self.status = f"MIDI input {self.connected_to!r} disappeared; waiting"
            self.connected_to = None
            self._mi.close_port()
        if self.connected_to is None and self._connect(ports):
            self.reconnects += 1


CLOSE_TIMEOUT_S = 2.0


def _close_bounded(client) -> None:
    """Close a JACK-Client client without letting a stuck close hang the caller:
    libjack's jack_client_close has been seen to block for good (JACK2 1.9.21,
    a never-activated client closed after other clients of the process came and
    went), so it runs in a daemon thread that is waited for CLOSE_TIMEOUT_S."""
    def close():
        with contextlib.suppress(Exception):
            client.close()
    t = threading.Thread(target=close, name="uplift-jack-close", daemon=True)
    t.start()
    t.join(CLOSE_TIMEOUT_S)
    if t.is_alive():
        log.warning("JACK did not close the MIDI watch client within %.0f s; left behind",
                    CLOSE_TIMEOUT_S)


def _jack_watch_client(name: str, on_gone: Callable[[], object]):
    """A port-less, never-activated JACK client whose only job is the server's
    shutdown callback. None if the JACK-Client module is missing; MidiError
    if there is no server."""
    try:
        import jack
    except Exception:                # pragma: no cover - a dependency
        return None
    try:
        c = jack.Client(name, no_start_server=True)
    except jack.JackError as e:
        raise MidiError(f"JACK MIDI is not available: is the JACK server running? ({e})") from None
    c.set_shutdown_callback(lambda status, reason: on_gone())
    return c


class MidiPoller:
    """Drains `source()` (a callable returning a list of raw MIDI events as
    bytes, e.g. LiveSession.read_midi) every `interval` seconds on its own
    thread and feeds each event to the controller. A source that raises
    (session stopped, server gone) is retried with back-off; never crashes."""

    def __init__(self, controller: MidiController, source: Callable[[], list],
                 interval: float = 0.005, name: str = "uplift-midi-poll"):
        self.controller = controller
        self.source = source
        self.interval = interval
        self.name = name
        self.events = 0
        self.errors = 0
        self.last_error: str | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def poll_once(self) -> int:
        """Drain the source once; returns the number of events fed."""
        events = self.source()
        n = 0
        for ev in events or ():
            n += 1
            self.controller.feed_event(ev)
        self.events += n
        return n

    def start(self) -> MidiPoller:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        t, self._thread = self._thread, None
        if t is not None:
            t.join(5)

    def _run(self) -> None:
        backoff = self.interval
        while not self._stop.is_set():
            try:
                self.poll_once()
                backoff = self.interval
            except Exception as e:   # never let the poller thread die
                self.errors += 1
                self.last_error = str(e)
                backoff = min(max(backoff * 2, self.interval), 1.0)
            self._stop.wait(backoff)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class MidiOutput:
    """Feedback through one rtmidi output: send(msg) from any thread.

    port=None opens a virtual output `<client_name>:<port_name>` to patch to a
    controller; port="name" sends to that destination, connecting when it
    appears (looked for at most once a second, on send) and again after it
    went away. A send that cannot be delivered is dropped and counted."""

    RETRY_S = 1.0

    def __init__(self, port: str | None = None, api="jack", client_name: str = "uplift-feedback",
                 port_name: str = "feedback"):
        self.api = _api(api)
        self.wanted = port
        self.client_name = client_name
        self.port_name = port_name
        self.connected_to: str | None = None
        self.dropped = 0
        self._lock = threading.Lock()
        self._next_try = 0.0
        rtmidi = _rtmidi()
        if self.api not in rtmidi.get_compiled_api():
            raise MidiError(f"{_api_label(self.api)} MIDI is not supported by this python-rtmidi build")
        try:
            self._mo = rtmidi.MidiOut(self.api, client_name)
        except rtmidi.RtMidiError as e:
            raise MidiError(f"{_api_label(self.api)} MIDI output is not available ({e})") from None
        if port is None:
            self._mo.open_virtual_port(port_name)
            self.status = f"sending on {client_name}:{port_name}"
        else:
            self.status = f"waiting for MIDI output {port!r}"
            self._try_connect()

    def _try_connect(self) -> bool:
        self._next_try = time.monotonic() + self.RETRY_S
        ports = list(self._mo.get_ports())
        if self.connected_to is not None and self.connected_to in ports:
            return True
        name = match_port(self.wanted, ports)
        if self._mo.is_port_open():
            self._mo.close_port()
        self.connected_to = None
        if name is None:
            self.status = f"waiting for MIDI output {self.wanted!r}"
            return False
        self._mo.open_port(ports.index(name), self.port_name)
        self.connected_to = name
        self.status = f"connected to {name}"
        return True

    def send(self, msg: bytes) -> None:
        with self._lock:
            if self._mo is None:
                return
            try:
                if self.wanted is not None and self.connected_to is None and (
                        time.monotonic() < self._next_try or not self._try_connect()):
                    self.dropped += 1
                    return
                self._mo.send_message(list(msg))
            except Exception as e:   # a vanished port: dropped, counted, retried
                self.dropped += 1
                self.connected_to = None if self.wanted is not None else self.connected_to
                log.debug("MIDI feedback not sent: %s", e)

    def close(self) -> None:
        with self._lock:
            mo, self._mo = self._mo, None
        if mo is not None:
            _close(mo)

    stop = close


def _split_spec(spec: str | None) -> tuple[str, str | None]:
    """"NAME", "jack:NAME", "alsa:NAME", "jack:" -> (api, name or None)."""
    api, name = "jack", spec
    if spec is not None and ":" in spec and spec.split(":", 1)[0].lower() in _API_NAMES:
        api, name = spec.split(":", 1)
        name = name or None
    return api, name


def open_output(spec: str | None, **kw) -> MidiOutput:
    """`--midi-out` helper: spec as for open_input ("jack:" for a virtual output)."""
    api, name = _split_spec(spec)
    return MidiOutput(port=name, api=api, **kw)


def open_input(controller: MidiController, spec: str | None, **kw) -> MidiInput:
    """`--midi-in` helper: spec "NAME", "jack:NAME", "alsa:NAME", or "jack:" /
    None for a virtual JACK input. Starts and returns the MidiInput."""
    api, name = _split_spec(spec)
    return MidiInput(controller, port=name, api=api, **kw).start()


__all__ = ["MidiParser", "MidiController", "MidiInput", "MidiOutput", "MidiPoller", "MidiError",
           "feedback_message", "list_input_ports", "match_port", "open_input", "open_output"]

