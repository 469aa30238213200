"""Bindings and the controller position <-> parameter value mapping.

A `Binding` ties a parameter to a channel and CC (a 14-bit pair: CC n with its
LSB n+32, n < 32); its JSON form is what settings.json keeps under "midi". The
controller position maps across the parameter's whole range through its taper
(Param.from_norm), enums and bools stepped; `feedback_message` is the inverse,
the CC (or 14-bit CC pair) that puts a controller at a value.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.params import BY_ID, Param

CONTROL_CHANGE = 0xB0
MAX_LEARNABLE_CC = 119        # 120-127 are channel mode messages


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
    if pid == "delta":
        pid = "listen"          # the old delta switch (engine/params.py migrate)
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
