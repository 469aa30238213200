"""The one parameter table (spec: parameters.md).

Everything else reads it: the engine (indices `PID.X`, validation, smoothing),
the GUI (knobs, groups, tapers), the MIDI map, presets, `--set` and
`uplift params`. Ids are stable; the position in the table is the index the
audio thread uses in the parameter ring.

Tapers map a knob position u in [0, 1] to a value:
  lin   v = min + u·(max − min)
  log   v = min·(max/min)^u                       (times, frequencies, ratios)
  skew  v = min + (max − min)·u^k                 (ranges that start at 0)
"""
from __future__ import annotations

import math
from collections import namedtuple
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Param:
    id: str
    label: str
    unit: str          # dB, dBFS, %, ms, Hz, :1, bool, enum
    group: str         # global, gate, drift, settle, output
    min: float
    max: float
    default: float     # enums: index into choices
    taper: str = "lin"
    skew: float = 1.0
    choices: tuple[str, ...] = ()
    notes: str = ""
    infinite_at_max: bool = False   # ratio 100 is shown as ∞
    smoothed: bool = True           # the engine glides continuous values (rule 6); stages that
                                    # must step (delay lengths) crossfade instead

    @property
    def kind(self) -> str:
        if self.unit == "bool":
            return "bool"
        if self.unit == "enum":
            return "enum"
        return "float"

    @property
    def range_text(self) -> str:
        if self.kind == "bool":
            return "0/1 (on/off)"
        if self.kind == "enum":
            return " | ".join(self.choices)
        return f"{_num(self.min)} .. {_num(self.max)} {self.unit}".rstrip()

    # --- validation (off the audio thread: openMHA's "validate, then swap in") ---
    def validate(self, value) -> float:
        """Return the engine value for `value`, or raise ValueError naming id, value and range."""
        if isinstance(value, str):
            return self.from_text(value)
        if isinstance(value, bool):
            value = int(value)
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{self.id}: {value!r} is not a number (range {self.range_text})") from None
        if not math.isfinite(v):
            raise ValueError(f"{self.id}: {value!r} is not finite (range {self.range_text})")
        if self.kind == "bool":
            if v not in (0.0, 1.0):
                raise ValueError(f"{self.id}: {value!r} is out of range ({self.range_text})")
            return v
        if self.kind == "enum":
            if v != int(v) or not 0 <= v < len(self.choices):
                raise ValueError(f"{self.id}: {value!r} is out of range ({self.range_text})")
            return v
        if not self.min <= v <= self.max:
            raise ValueError(f"{self.id}: {_num(v)} is out of range ({self.range_text})")
        return v

    # --- text <-> value (CLI --set, presets, GUI readouts) ---
    def from_text(self, text: str) -> float:
        t = text.strip().lower()
        if self.kind == "bool":
            words = {"1": 1.0, "0": 0.0, "on": 1.0, "off": 0.0, "true": 1.0, "false": 0.0,
                     "yes": 1.0, "no": 0.0}
            if t not in words:
                raise ValueError(f"{self.id}: {text!r} is not a valid value ({self.range_text})")
            return words[t]
        if self.kind == "enum":
            if t in self.choices:
                return float(self.choices.index(t))
            raise ValueError(f"{self.id}: {text!r} is not one of {self.range_text}")
        for suffix in (self.unit.lower(), "db", "ms", "hz", "%", ":1"):
            if suffix and t.endswith(suffix):
                t = t[: -len(suffix)].strip()
                break
        if self.infinite_at_max and t in ("inf", "∞"):
            return self.max
        try:
            v = float(t)
        except ValueError:
            raise ValueError(f"{self.id}: {text!r} is not a number (range {self.range_text})") from None
        return self.validate(v)

    def to_text(self, value: float, with_unit: bool = True) -> str:
        if self.kind == "bool":
            return "on" if value >= 0.5 else "off"
        if self.kind == "enum":
            return self.choices[int(round(value))]
        if self.infinite_at_max and value >= self.max:
            return "∞" + (":1" if with_unit else "")
        unit = self.unit if with_unit else ""
        if unit == ":1":
            return f"{_num(value)}:1"
        return f"{_num(value)} {unit}".rstrip()

    # --- taper: knob position u in [0, 1] <-> value ---
    def to_norm(self, value: float) -> float:
        if self.kind == "bool":
            return float(value >= 0.5)
        if self.kind == "enum":
            return float(value) / max(1, len(self.choices) - 1)
        v = min(max(float(value), self.min), self.max)
        if self.taper == "log":
            return math.log(v / self.min) / math.log(self.max / self.min)
        u = (v - self.min) / (self.max - self.min)
        if self.taper == "skew":
            return u ** (1.0 / self.skew)
        return u

    def from_norm(self, u: float) -> float:
        u = min(max(float(u), 0.0), 1.0)
        if self.kind == "bool":
            return float(u >= 0.5)
        if self.kind == "enum":
            return float(round(u * (len(self.choices) - 1)))
        if self.taper == "log":
            return self.min * (self.max / self.min) ** u
        if self.taper == "skew":
            u = u ** self.skew
        return self.min + u * (self.max - self.min)


def _num(v: float) -> str:
    return f"{v:.6g}"


def _bool(id_, label, group, default, notes=""):
    return Param(id_, label, "bool", group, 0.0, 1.0, float(default), notes=notes)


def _enum(id_, label, group, choices, default, notes=""):
    return Param(id_, label, "enum", group, 0.0, float(len(choices) - 1),
                 float(choices.index(default)), choices=tuple(choices), notes=notes)


#: `listen` choices, in the order the engine indexes them (engine/chain.py L_*)
LISTEN_CHOICES = ("out", "delta", "drift", "settle", "key")

PARAMS: tuple[Param, ...] = (
    # Global
    Param("input_gain", "Input", "dB", "global", -24, 24, 0),
    Param("output_gain", "Output", "dB", "global", -24, 24, 0),
    Param("mix", "Mix", "%", "global", 0, 100, 100, notes="dry is latency-aligned"),
    _bool("bypass", "Bypass", "global", 0, "click-free, latency-compensated"),
    _bool("match", "Match", "global", 0, "loudness-matched compare: the processed output is held at "
          "the dry input's loudness (±18 dB, 3 s) so bypass and A/B compare character, not level; "
          "off in renders unless set"),
    _enum("listen", "Listen", "global", LISTEN_CHOICES, "out",
          "what the output carries: out, delta (processed − aligned dry), drift (what DRIFT "
          "adds), settle (what SETTLE removes), key (SETTLE's detector input); all aligned"),
    _bool("ab", "A/B", "global", 0, "which of the window's two settings plays (off = A, on = B); "
          "the engine ignores it"),
    # GATE
    _bool("gate_on", "Gate", "gate", 0),
    Param("gate_threshold", "Threshold", "dBFS", "gate", -96, 0, -60),
    Param("gate_ratio", "Ratio", ":1", "gate", 1, 100, 4, taper="log", infinite_at_max=True,
          notes="100 shown as ∞ (gate)"),
    Param("gate_range", "Range", "dB", "gate", 0, 96, 40, notes="most attenuation applied"),
    Param("gate_attack", "Attack", "ms", "gate", 0.05, 50, 1, taper="log"),
    Param("gate_hold", "Hold", "ms", "gate", 0, 500, 20, taper="skew", skew=2.5),
    Param("gate_release", "Release", "ms", "gate", 5, 3000, 150, taper="log"),
    # DRIFT
    _bool("drift_on", "Drift", "drift", 1),
    Param("amount", "Amount", "%", "drift", 0, 100, 30,
          notes="ratio = 1 + 3·amount/100; tilt = ±4 dB · amount/100"),
    Param("drift_threshold", "Threshold", "dBFS", "drift", -80, -10, -40,
          notes="at 1 kHz; per-band thresholds follow the tilt"),
    Param("drift_max_lift", "Max lift", "dB", "drift", 0, 30, 18),
    Param("drift_attack", "Attack", "ms", "drift", 0.1, 200, 1, taper="log"),
    Param("drift_release", "Release", "ms", "drift", 10, 3000, 150, taper="log"),
    Param("drift_memory", "Memory", "%", "drift", 0, 100, 50),
    Param("drift_lookahead", "Lookahead", "ms", "drift", 0, 5, 1, smoothed=False,
          notes="delay of DRIFT's main path, the only latency DRIFT adds; its detectors "
                "read the undelayed input"),
    Param("drift_link", "Link", "%", "drift", 0, 100, 100,
          notes="stereo link of the band levels"),
    Param("drift_low", "Low", "Hz", "drift", 20, 20000, 20, taper="log",
          notes="no lift for bands below (focus)"),
    Param("drift_high", "High", "Hz", "drift", 20, 20000, 20000, taper="log",
          notes="no lift for bands above (focus); low ≥ high lifts nothing"),
    Param("drift_guard", "Noise guard", "dB", "drift", 0, 24, 6,
          notes="no lift within this distance of the band's learned noise floor; 0 = off"),
    # SETTLE
    _bool("settle_on", "Settle", "settle", 1),
    _enum("style", "Style", "settle", ("clean", "opto", "fet", "varimu"), "clean",
          "the gain element's character: clean (VCA), opto (program-dependent two-part release, "
          "soft knee), fet (fast, odd harmonics with reduction), varimu (ratio rising with level, "
          "even harmonics, slow release)"),
    Param("threshold", "Threshold", "dBFS", "settle", -60, 0, -18),
    Param("ratio", "Ratio", ":1", "settle", 1, 100, 3, taper="log", infinite_at_max=True),
    Param("threshold2", "Threshold 2", "dBFS", "settle", -60, 0, 0),
    Param("ratio2", "Ratio 2", ":1", "settle", 1, 100, 1, taper="log", infinite_at_max=True,
          notes="1 = second segment off; 100 = limiter"),
    Param("knee", "Knee", "dB", "settle", 0, 24, 6),
    Param("attack", "Attack", "ms", "settle", 0.05, 250, 10, taper="log"),
    Param("release", "Release", "ms", "settle", 5, 3000, 120, taper="log"),
    Param("smooth", "Smooth", "ms", "settle", 0, 250, 0, taper="skew", skew=2.5),
    _enum("detector", "Detector", "settle", ("peak", "rms"), "peak"),
    Param("rms_window", "RMS window", "ms", "settle", 1, 300, 10, taper="log"),
    _enum("topology", "Topology", "settle", ("feedforward", "feedback"), "feedforward"),
    Param("link", "Stereo link", "%", "settle", 0, 100, 100),
    Param("lookahead", "Lookahead", "ms", "settle", 0, 10, 0, taper="skew", skew=2.0,
          notes="adds to reported latency", smoothed=False),
    Param("sc_hpf", "Sidechain HPF", "Hz", "settle", 20, 10000, 20, taper="log", notes="20 = off"),
    Param("sc_lpf", "Sidechain LPF", "Hz", "settle", 1000, 20000, 20000, taper="log",
          notes="20000 = off; with sc_hpf a band-pass key (de-essing)"),
    _enum("sidechain", "Sidechain", "settle", ("internal", "external"), "internal"),
    Param("makeup", "Makeup", "dB", "settle", -12, 24, 0),
    _bool("auto_makeup", "Auto makeup", "settle", 0),
    # OUTPUT
    _bool("limiter_on", "Limiter", "output", 1),
    Param("ceiling", "Ceiling", "dBFS", "output", -24, 0, -0.3, notes="sample peaks never exceed it"),
)

#: Sidechain filters at their table minimum are off (parameters.md: "20 = off").
SC_HPF_OFF_HZ = float(next(p.min for p in PARAMS if p.id == "sc_hpf"))
SC_LPF_OFF_HZ = float(next(p.max for p in PARAMS if p.id == "sc_lpf"))

GROUPS: tuple[str, ...] = ("global", "gate", "drift", "settle", "output")
GROUP_TITLES = {"global": "GLOBAL", "gate": "GATE", "drift": "DRIFT", "settle": "SETTLE",
                "output": "OUTPUT"}

BY_ID: dict[str, Param] = {p.id: p for p in PARAMS}
INDEX: dict[str, int] = {p.id: i for i, p in enumerate(PARAMS)}
NUM_PARAMS = len(PARAMS)

#: Compile-time indices for the audio thread: `p[PID.threshold]` in Numba code
#: (a namedtuple of plain ints, which Numba freezes as constants).
PID = namedtuple("PID", [p.id for p in PARAMS])(*range(len(PARAMS)))

#: Default values as the engine stores them (enums as their index).
DEFAULTS = np.array([p.default for p in PARAMS], dtype=np.float64)

#: Per parameter for the audio thread: glide (1) or step (0), and the distance
#: under which a glide snaps onto its target so steady state is bit-exact.
SMOOTH_MASK = np.array([float(p.kind == "float" and p.smoothed) for p in PARAMS])
SNAP_EPS = np.array([1e-7 * (p.max - p.min) for p in PARAMS])


def migrate(values: dict) -> dict:
    """Values saved by an earlier version, in today's ids (a copy): the old
    `delta` switch is `listen` (on = delta, off = out). Presets, settings and
    A/B states are read through this, silently."""
    out = dict(values)
    if "delta" in out:
        on = out.pop("delta")
        if "listen" not in out:
            try:
                on = BY_ID["bypass"].validate(on)
            except ValueError:
                raise ValueError(f"delta: {on!r} is not a valid value (0/1 (on/off))") from None
            out["listen"] = "delta" if on else "out"
    return out


def param(id_: str) -> Param:
    """Look up a parameter; an unknown id raises KeyError naming it."""
    try:
        return BY_ID[id_]
    except KeyError:
        raise KeyError(f"unknown parameter {id_!r} (see `uplift params`)") from None


def validate(id_: str, value) -> float:
    return param(id_).validate(value)


def parse_assignment(text: str) -> tuple[str, float]:
    """Parse `ID=VALUE` as given to `--set`."""
    if "=" not in text:
        raise ValueError(f"--set expects ID=VALUE, got {text!r}")
    id_, value = text.split("=", 1)
    p = param(id_.strip())
    return p.id, p.from_text(value)


def table_text() -> str:
    """The table as `uplift params` prints it."""
    rows = [("id", "group", "unit", "range", "default")]
    for p in PARAMS:
        rows.append((p.id, p.group, p.unit, p.range_text if p.kind != "float"
                     else f"{_num(p.min)} .. {_num(p.max)}", p.to_text(p.default, with_unit=False)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


for _p in PARAMS:
    assert _p.min <= _p.default <= _p.max, _p.id
    assert _p.taper != "log" or _p.min > 0, _p.id
