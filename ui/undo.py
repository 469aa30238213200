"""Undo and redo of parameter changes, whoever made them (mouse, keys, MIDI,
OSC, presets, A/B): Ctrl+Z / Ctrl+Shift+Z in the Edit menu.

A step is {param id: (value before, value after)}. Changes of one parameter
that follow each other within COALESCE_S are one step (a drag, a fader move);
a preset load or an A/B switch is one step however many values it changes."""
from __future__ import annotations

import time

MAX_STEPS = 200
COALESCE_S = 0.6


class UndoStack:
    def __init__(self, apply, max_steps: int = MAX_STEPS, clock=time.monotonic):
        """`apply({id: value})` sets values through the session and shows them."""
        self._apply = apply
        self.max_steps = max_steps
        self._clock = clock
        self.undo_steps: list[dict] = []
        self.redo_steps: list[dict] = []
        self._last: tuple[str, float] | None = None     # (id, time) of a step still open
        self._group: dict | None = None
        self.applying = False

    # --- recording ---------------------------------------------------------------
    def note(self, pid: str, old: float, new: float) -> None:
        """One parameter changed from `old` to `new`."""
        if self.applying or old == new:
            return
        if self._group is not None:
            first = self._group.get(pid, (old, new))[0]
            self._group[pid] = (first, new)
            return
        now = self._clock()
        last = self.undo_steps[-1] if self.undo_steps else None
        if (last is not None and self._last is not None and self._last[0] == pid
                and len(last) == 1 and now - self._last[1] <= COALESCE_S):
            last[pid] = (last[pid][0], new)
        else:
            self._push({pid: (old, new)})
        self._last = (pid, now)

    def begin(self) -> None:
        """Start one step made of many changes (a preset load, an A/B switch)."""
        self._group = {}

    def end(self) -> None:
        group, self._group = self._group, None
        if group:
            self._push(group)
            self._last = None

    def _push(self, step: dict) -> None:
        self.undo_steps.append(step)
        del self.undo_steps[:-self.max_steps]
        self.redo_steps.clear()

    # --- replay --------------------------------------------------------------------
    def undo(self) -> bool:
        return self._move(self.undo_steps, self.redo_steps, 0)

    def redo(self) -> bool:
        return self._move(self.redo_steps, self.undo_steps, 1)

    def _move(self, src: list, dst: list, side: int) -> bool:
        if not src:
            return False
        step = src.pop()
        self.applying = True
        try:
            self._apply({pid: pair[side] for pid, pair in step.items()})
        finally:
            self.applying = False
        dst.append(step)
        self._last = None
        return True
