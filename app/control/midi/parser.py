"""The MIDI byte parser.

`MidiParser` is a byte-stream parser that never raises: running status,
realtime bytes (0xF8-0xFF) anywhere, SysEx skipped (also when cut short by a
status byte), system common messages skipped, truncated messages and stray
data bytes dropped, anything that is not an int 0..255 ignored. Yields channel
messages.
"""
from __future__ import annotations

from collections.abc import Iterable

_CHANNEL_DATA_LEN = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2}
_SYSCOMMON_DATA_LEN = {0xF1: 1, 0xF2: 2, 0xF3: 1, 0xF4: 0, 0xF5: 0, 0xF6: 0}


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
