"""Live sessions: a stream through the engine (live.py), the demo (demo.py), the
headless meters (headless.py) and `uplift run` (run.py).

`Session` is what the window, OSC and MIDI ask of a session; an `Engine` is one
(offline, no stream), and so are LiveSession and the demos."""
from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Session(Protocol):
    """Parameters in, meters out. set() validates and returns the value it set
    (raising KeyError for an unknown id, ValueError for a bad value)."""

    def set(self, id_: str, value) -> float: ...

    def get(self, id_: str) -> float: ...

    def values(self) -> dict: ...

    def update(self, values: dict) -> None: ...

    def meters(self) -> dict: ...

    @property
    def latency_samples(self) -> int: ...
