"""What each factory preset does to real material (product.md, "Presets"): the
figures behind the README table and tests/test_material.py.

    python tests/preset_figures.py        prints the table (preset × figure)

Figures (dB; each is output level change minus input level change, the
processed take against the same take unprocessed, latency compensated):
  gap noise      the room between phrases of the speech take
  quiet−loud     the quiet phrase's change minus the loud phrase's
  breath−loud    the breath's change minus the loud phrase's
  tail−attack    piano: the tails' change (2.5 .. 3.5 s after each onset) minus the attacks'
  room           drums: 0.5 .. 7 kHz (the room, not the kick's tail) 120 .. 280 ms after
                 each kick and snare, minus the same band's change during the hits
  hiss           drums: the hiss after the last hit
  air            hats: 8 .. 12 kHz of the ghost strokes
  hats <6k       hats: everything below 6 kHz
  kit <6k        drum kit: everything below 6 kHz
  sub spread     sub-bass: spread (max − min) of the notes' levels below 80 Hz, after / before
  sub level      sub-bass: the notes' mean level change below 80 Hz
  ess            sibilant speech: the "s" bursts (material.label_sibilance), whole band
  vowels         sibilant speech: the vowels, whole band
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import material as M  # noqa: E402

COLUMNS = ("gap noise", "quiet−loud", "breath−loud", "tail−attack", "room", "hiss", "air",
           "hats <6k", "kit <6k", "sub spread", "sub level", "ess", "vowels")


def _change(y, x, regions, lo=None, hi=None):
    return M.region_db(y, regions, lo, hi) - M.region_db(x, regions, lo, hi)


@functools.cache
def _processed(name: str, key: tuple):
    take = getattr(M, name)()
    return take, M.process(dict(key), take.x)


def figures(values: dict) -> dict[str, float]:
    """Every figure for engine values `values` (a preset as load_preset returns it)."""
    key = tuple(sorted(values.items()))
    out = {}
    v, y = _processed("vocal", key)
    r = v.regions
    out["gap noise"] = _change(y, v.x, r["gap"])
    loud = _change(y, v.x, r["loud"])
    out["quiet−loud"] = _change(y, v.x, r["quiet"]) - loud
    out["breath−loud"] = _change(y, v.x, r["breath"]) - loud
    p, y = _processed("piano", key)
    out["tail−attack"] = (_change(y, p.x, p.regions["tail"])
                          - _change(y, p.x, p.regions["attack"]))
    d, y = _processed("drums", key)
    hits = [(a - 0.12, a - 0.02) for a, _ in d.regions["room"]]
    out["room"] = (_change(y, d.x, d.regions["room"], 500.0, 7000.0)
                   - _change(y, d.x, hits, 500.0, 7000.0))
    out["hiss"] = _change(y, d.x, d.regions["hiss"])
    whole = [(0.0, len(d.x) / M.SR)]
    out["kit <6k"] = _change(y, d.x, whole, 20.0, 6000.0)
    h, y = _processed("hats", key)
    out["air"] = _change(y, h.x, h.regions["ghost"], 8000.0, 12000.0)
    out["hats <6k"] = _change(y, h.x, [(0.0, len(h.x) / M.SR)], 20.0, 6000.0)
    b, y = _processed("bass", key)
    before = M.region_levels(b.x, b.regions["note"], 20.0, 80.0)
    after = M.region_levels(y, b.regions["note"], 20.0, 80.0)
    out["sub spread"] = float(np.ptp(after) / np.ptp(before))
    out["sub level"] = float(np.mean(after - before))
    s, y = _processed("sibilant", key)
    out["ess"] = _change(y, s.x, s.regions["ess"])
    out["vowels"] = _change(y, s.x, s.regions["vowel"])
    return out


def table() -> list[tuple[str, dict]]:
    from app.presets import factory_presets, load_preset
    return [(n, figures(load_preset(n))) for n in factory_presets()]


def format_table(rows) -> str:
    head = "| preset | " + " | ".join(COLUMNS) + " |"
    sep = "|---|" + "---:|" * len(COLUMNS)
    lines = [head, sep]
    for name, f in rows:
        cells = [f"{f[c]:.2f}×" if c == "sub spread" else f"{f[c]:+.1f}" for c in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    print(format_table(table()))
