"""Real material for the DRIFT and preset checks, made on the spot (issue 13):
speech from espeak-ng over a generated room, a piano rendered by fluidsynth
with Debian's General MIDI soundfont, synthesised drums with ghost notes and
room, hi-hats, a sub-bass line, and speech dense in sibilants whose "s"
bursts and vowels are found from its spectrum. `make` installs espeak-ng,
fluidsynth and timgm6mb-soundfont.

Every take is a `Take`: the signal (float64, mono, 48 kHz) and named regions
(start, end) in seconds the figures are measured on. Takes are deterministic
(fixed seeds) and cached per process.
"""
from __future__ import annotations

import functools
import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SR = 48000
SOUNDFONTS = ("/usr/share/sounds/sf2/default-GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2",
              "/usr/share/sounds/sf2/FluidR3_GM.sf2")


@dataclass
class Take:
    name: str
    x: np.ndarray
    regions: dict[str, list[tuple[float, float]]] = field(default_factory=dict)


def missing_tools() -> list[str]:
    """What this machine lacks to make the material (`make test` installs it)."""
    out = [t for t in ("espeak-ng", "fluidsynth") if shutil.which(t) is None]
    if soundfont() is None:
        out.append("a General MIDI soundfont (timgm6mb-soundfont)")
    return out


def soundfont() -> str | None:
    return next((s for s in SOUNDFONTS if Path(s).exists()), None)


def rms_db(x) -> float:
    x = np.asarray(x, dtype=np.float64)
    return 10.0 * math.log10(float(np.mean(x * x)) + 1e-300)


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf
    x, sr = sf.read(str(path), dtype="float64", always_2d=True)
    return x.mean(axis=1), sr


def resample(x: np.ndarray, sr_in: int, sr_out: int = SR) -> np.ndarray:
    """Band-limited resampling of a whole (short) signal through the FFT."""
    if sr_in == sr_out:
        return x
    n = len(x)
    m = int(round(n * sr_out / sr_in))
    X = np.fft.rfft(x)
    Y = np.zeros(m // 2 + 1, complex)
    k = min(len(X), len(Y))
    Y[:k] = X[:k]
    return np.fft.irfft(Y, m) * (m / n)


def _pink(n: int, rng) -> np.ndarray:
    X = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(X), dtype=np.float64)
    f[0] = 1.0
    y = np.fft.irfft(X / np.sqrt(f), n)
    return y / math.sqrt(float(np.mean(y * y)))


def room_noise(seconds: float, rms_dbfs: float = -66.0, seed: int = 7) -> np.ndarray:
    """A room and a preamp: pink noise, white hiss 6 dB under it (both above 20 Hz,
    as a microphone and its preamp pass them), and 50 Hz hum with two harmonics 10
    dB under the noise; scaled to `rms_dbfs` RMS."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    x = _band(_pink(n, rng) + 0.5 * rng.standard_normal(n), 20.0, SR / 2)
    hum = sum(a * np.sin(2 * np.pi * f * t + p) for a, f, p in
              ((1.0, 50.0, 0.3), (0.4, 100.0, 1.1), (0.25, 150.0, 2.0)))
    x = x / math.sqrt(float(np.mean(x * x))) + hum * (10 ** (-10 / 20) / math.sqrt(float(np.mean(hum * hum))))
    return x * 10 ** (rms_dbfs / 20) / math.sqrt(float(np.mean(x * x)))


def _band(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    X = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1.0 / SR)
    X[(f < lo) | (f > hi)] = 0.0
    return np.fft.irfft(X, len(x))


def band_db(x: np.ndarray, lo: float, hi: float) -> float:
    """Level (dBFS RMS) of x between lo and hi Hz."""
    return rms_db(_band(x, lo, hi))


@functools.cache
def speech(text: str, speed: int = 150, voice: str = "en") -> np.ndarray:
    """espeak-ng saying `text`, at 48 kHz, peak-normalised to 1."""
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "s.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(out), text],
                       check=True, capture_output=True, timeout=60)
        x, sr = _read_wav(out)
    x = resample(x, sr)
    # espeak leaves a little silence at both ends
    nz = np.flatnonzero(np.abs(x) > 1e-3 * np.max(np.abs(x)))
    x = x[nz[0]:nz[-1] + 1]
    return x / np.max(np.abs(x))


def _active_rms(x: np.ndarray) -> float:
    """RMS over the parts of a phrase that are not pauses (50 ms frames within 30
    dB of the loudest)."""
    n = 2400
    fr = x[:len(x) // n * n].reshape(-1, n)
    e = np.mean(fr * fr, axis=1)
    keep = e > e.max() * 1e-3
    return math.sqrt(float(np.mean(e[keep])))


def _place(buf, sig, t0):
    i = int(t0 * SR)
    buf[i:i + len(sig)] += sig
    return t0 + len(sig) / SR


@functools.cache
def vocal() -> Take:
    """A loud phrase (-20 dBFS active RMS), a breath and a quiet phrase (-43 dBFS,
    23 dB over the room) with 1.5 s gaps, over room noise at -66 dBFS RMS."""
    loud = speech("The quick brown fox jumps over the lazy dog.")
    quiet = speech("She sells sea shells by the sea shore, softly.")
    loud = loud * 10 ** (-20 / 20) / _active_rms(loud)
    quiet = quiet * 10 ** (-43 / 20) / _active_rms(quiet)
    rng = np.random.default_rng(11)
    nb = int(0.45 * SR)
    env = np.sin(np.pi * np.arange(nb) / nb) ** 2
    breath = _band(rng.standard_normal(nb), 400.0, 4000.0) * env
    breath *= 10 ** (-46 / 20) / math.sqrt(float(np.mean(breath[nb // 4: 3 * nb // 4] ** 2)))
    total = 1.5 + len(loud) / SR + 1.5 + len(breath) / SR + 0.6 + len(quiet) / SR + 1.5
    x = room_noise(total)
    regions: dict[str, list] = {"gap": [(0.3, 1.4)]}
    t = _place(x, loud, 1.5)
    regions["loud"] = [(1.5, t)]
    regions["gap"].append((t + 0.15, t + 1.4))
    t0 = t + 1.5
    t = _place(x, breath, t0)
    regions["breath"] = [(t0 + 0.1, t - 0.1)]
    t0 = t + 0.6
    t = _place(x, quiet, t0)
    regions["quiet"] = [(t0, t)]
    regions["gap"].append((t + 0.15, t + 1.4))
    return Take("speech over a room", x, regions)


ESS_BAND = (4000.0, 9000.0)      # where a sibilant's energy is and a de-esser's key listens
VOICE_BAND = (200.0, 2000.0)     # a vowel's fundamental and first formants
FRAME_S = 0.005


def _frames_db(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Level (dBFS) of x between lo and hi Hz in consecutive FRAME_S frames."""
    n = int(FRAME_S * SR)
    xb = _band(x, lo, hi)
    fr = xb[:len(xb) // n * n].reshape(-1, n)
    return 10 * np.log10(np.mean(fr * fr, axis=1) + 1e-30)


def _runs(mask, min_s: float) -> list[tuple[float, float]]:
    """(start, end) in seconds of the runs of True frames at least min_s long."""
    out, start = [], None
    for i, m in enumerate([*mask, False]):
        if m and start is None:
            start = i
        elif not m and start is not None:
            if (i - start) * FRAME_S >= min_s - 1e-9:
                out.append((start * FRAME_S, i * FRAME_S))
            start = None
    return out


def label_sibilance(x: np.ndarray) -> dict[str, list[tuple[float, float]]]:
    """Sibilant bursts and vowels, found from the signal (no phoneme times).

    In 5 ms frames, H is the level in ESS_BAND (4-9 kHz) and L in VOICE_BAND
    (200 Hz-2 kHz). "ess": H − L ≥ 10 dB starts a burst, which lasts while
    H − L ≥ 6 dB (hysteresis), with H within 25 dB of the take's loudest H
    frame (no room noise); bursts of at least 30 ms. "vowel": L − H ≥ 20 dB
    with L within 20 dB of the loudest L frame; runs of at least 40 ms. Frames
    between the two (transitions, stops, quiet or mixed frames) are in
    neither; no margin is added, so a vowel often starts 5 ms after a burst
    ends and a de-esser's release shows in it."""
    hi = _frames_db(x, *ESS_BAND)
    lo = _frames_db(x, *VOICE_BAND)
    d = hi - lo
    ess = np.zeros(len(d), bool)
    on = False
    for i in range(len(d)):
        on = bool(d[i] >= (6.0 if on else 10.0) and hi[i] > hi.max() - 25.0)
        ess[i] = on
    vowel = (d <= -20.0) & (lo > lo.max() - 20.0)
    return {"ess": _runs(ess, 0.03), "vowel": _runs(vowel, 0.04)}


def voicing(x: np.ndarray, a: float, b: float, win_s: float = 0.03) -> float:
    """How periodic x is between a and b seconds: the median over 30 ms windows
    of the peak normalised autocorrelation of its 200 Hz-2 kHz band at lags of
    2.5-14 ms (a 70-400 Hz fundamental), each lag normalised by the energy of
    the two stretches it compares. 1 is exactly periodic."""
    pad = int(0.05 * SR)                         # the band filter is cyclic: filter a margin too
    i0, i1 = max(0, int(a * SR) - pad), int(b * SR) + pad
    xb = _band(x[i0:i1], *VOICE_BAND)
    n = int(win_s * SR)
    lo, hi = int(SR / 400), int(SR / 70)
    peaks = []
    for i in range(int(a * SR) - i0, max(int(a * SR) - i0 + 1, int(b * SR) - i0 - n + 1), n // 2):
        w = xb[i:i + n]
        r = np.correlate(w, w, "full")[n - 1:]
        c = np.concatenate([[0.0], np.cumsum(w * w)])
        k = np.arange(lo, hi)
        # each lag against the energy of the two parts it compares (no bias to short lags)
        norm = np.sqrt((c[n - k] - c[0]) * (c[n] - c[k])) + 1e-300
        peaks.append(float(np.max(r[lo:hi] / norm)))
    return float(np.median(peaks))


@functools.cache
def sibilant() -> Take:
    """Speech dense in sibilants (espeak-ng: "Sister Susie sits and sews shirts
    for soldiers." and "She sells sea shells by the sea shore, and the shells
    she sells are surely seashells."), each phrase at -24 dBFS active RMS (a
    vocal recorded with its peaks near -5 dBFS), 1 s apart, over room noise at
    -66 dBFS RMS. Regions "ess" (22 bursts) and "vowel" (32) come from
    label_sibilance. The s sit about 9 dB under the vowels over the whole band
    and 23 dB over them in 4-9 kHz (the loudest vowel there is 13 dB under the
    quietest s)."""
    phrases = [speech(p) for p in (
        "Sister Susie sits and sews shirts for soldiers.",
        "She sells sea shells by the sea shore, and the shells she sells are surely seashells.")]
    phrases = [p * 10 ** (-24 / 20) / _active_rms(p) for p in phrases]
    x = room_noise(math.ceil(10 * (0.8 + sum(len(p) / SR + 1.0 for p in phrases))) / 10)
    t = 0.8
    for p in phrases:
        t = _place(x, p, t) + 1.0
    return Take("sibilant speech over a room", x, label_sibilance(x))


def _write_midi(path: Path, notes, tail_s: float) -> None:
    """notes: (start s, duration s, pitch, velocity) on a grand piano."""
    import mido
    mid = mido.MidiFile(ticks_per_beat=480)
    tr = mido.MidiTrack()
    mid.tracks.append(tr)
    tempo = 500000                           # 120 bpm: 960 ticks per second
    tr.append(mido.MetaMessage("set_tempo", tempo=tempo, time=0))
    tr.append(mido.Message("program_change", program=0, time=0))
    ev = []
    for start, dur, pitch, vel in notes:
        ev.append((start, 1, mido.Message("note_on", note=pitch, velocity=vel)))
        ev.append((start + dur, 0, mido.Message("note_off", note=pitch, velocity=0)))
    end = max(s + d for s, d, _, _ in notes) + tail_s
    ev.append((end, 2, mido.Message("control_change", control=7, value=100)))
    ev.sort(key=lambda e: (e[0], e[1]))
    now = 0
    for t, _, msg in ev:
        tick = int(round(t * 960))
        tr.append(msg.copy(time=tick - now))
        now = tick
    mid.save(str(path))


@functools.cache
def piano() -> Take:
    """Held piano notes and a chord left to decay (fluidsynth, GM soundfont), over a
    quiet room (-72 dBFS). Regions: each note's attack (first 150 ms) and its tail
    (2.5 .. 3.5 s after the onset)."""
    notes = [(0.5, 4.0, 60, 100), (5.0, 4.0, 67, 70), (9.5, 4.5, 48, 90),
             (9.5, 4.5, 55, 90), (9.5, 4.5, 64, 90)]
    with tempfile.TemporaryDirectory() as d:
        mid = Path(d) / "p.mid"
        wav = Path(d) / "p.wav"
        _write_midi(mid, notes, 1.0)
        subprocess.run(["fluidsynth", "-ni", "-q", "-F", str(wav), "-r", str(SR), "-g", "0.6",
                        soundfont(), str(mid)], check=True, capture_output=True, timeout=120)
        x, sr = _read_wav(wav)
    x = resample(x, sr)
    x = x * 10 ** (-12 / 20) / np.max(np.abs(x))
    x = x + room_noise(len(x) / SR, -72.0, seed=5)[:len(x)]
    onsets = (0.5, 5.0, 9.5)
    return Take("piano", x, {"attack": [(t, t + 0.15) for t in onsets],
                             "tail": [(t + 2.5, t + 3.5) for t in onsets]})


def _decay(n, tau_s):
    return np.exp(-np.arange(n) / (tau_s * SR))


def _kick(rng, amp):
    n = int(0.45 * SR)
    t = np.arange(n) / SR
    f = 50 + 90 * np.exp(-t / 0.03)
    return amp * np.sin(2 * np.pi * np.cumsum(f) / SR) * _decay(n, 0.12)


def _snare(rng, amp):
    n = int(0.3 * SR)
    t = np.arange(n) / SR
    body = np.sin(2 * np.pi * 185 * t) * _decay(n, 0.05)
    rattle = _band(rng.standard_normal(n), 1500, 9000) * _decay(n, 0.07)
    return amp * (0.6 * body + 0.5 * rattle / np.max(np.abs(rattle)))


def _hat(rng, amp, open_=False):
    n = int((0.35 if open_ else 0.09) * SR)
    h = _band(rng.standard_normal(n), 6000, 16000) * _decay(n, 0.12 if open_ else 0.025)
    return amp * h / np.max(np.abs(h))


def _room(rng, seconds, amp):
    """A room's reverb after a hit: band-limited noise decaying over ~0.4 s."""
    n = int(seconds * SR)
    r = _band(rng.standard_normal(n), 150, 7000) * _decay(n, 0.18)
    r[: int(0.004 * SR)] *= np.linspace(0, 1, int(0.004 * SR))
    return amp * r / math.sqrt(float(np.mean(r[: n // 3] ** 2)))


@functools.cache
def drums() -> Take:
    """Two bars at 100 bpm: kick, snare, closed hats with ghost notes, each hit
    followed by its room (-26 dB under it), over hiss at -70 dBFS; then 1.5 s of
    hiss alone. Regions: 'room' (the tails 120 .. 280 ms after the kicks and
    snares, where the hats are quiet), 'hiss' (the end)."""
    rng = np.random.default_rng(21)
    beat = 60 / 100
    bars = 2
    length = bars * 4 * beat + 2.0
    x = room_noise(length, -70.0, seed=9)
    room_regions = []
    for b in range(bars):
        t0 = 0.2 + b * 4 * beat
        for k in range(8):                                   # eighth-note hats
            t = t0 + k * beat / 2
            loud = k % 2 == 0
            _place(x, _hat(rng, 10 ** ((-18 if loud else -34) / 20)), t)
        for k, kind in ((0, "kick"), (1, "snare"), (2, "kick"), (3, "snare")):
            t = t0 + k * beat
            hit = (_kick(rng, 10 ** (-6 / 20)) if kind == "kick" else _snare(rng, 10 ** (-8 / 20)))
            _place(x, hit, t)
            _place(x, _room(rng, 0.5, 10 ** (-34 / 20)), t + 0.01)
            room_regions.append((t + 0.12, t + 0.28))
        for k in (1.75, 3.75):                               # snare ghost notes
            _place(x, _snare(rng, 10 ** (-30 / 20)), t0 + k * beat)
    end = bars * 4 * beat + 0.2
    return Take("drum kit", x, {"room": room_regions, "hiss": [(end + 0.6, length - 0.1)]})


@functools.cache
def hats() -> Take:
    """Hi-hats alone: accented closed hats, ghost strokes 18 dB under them and an
    open hat, over hiss at -72 dBFS. Regions: 'ghost' and 'hit' windows."""
    rng = np.random.default_rng(31)
    step = 0.15
    n_steps = 24
    length = n_steps * step + 1.0
    x = room_noise(length, -72.0, seed=13)
    ghosts, hits = [], []
    for k in range(n_steps):
        t = 0.3 + k * step
        if k % 8 == 6:
            _place(x, _hat(rng, 10 ** (-16 / 20), open_=True), t)
            continue
        accent = k % 2 == 0
        _place(x, _hat(rng, 10 ** ((-14 if accent else -32) / 20)), t)
        (hits if accent else ghosts).append((t, t + 0.06))
    return Take("hi-hats", x, {"hit": hits, "ghost": ghosts})


@functools.cache
def bass() -> Take:
    """A sub-bass line: eight notes between 41 and 62 Hz, velocities spread over
    12 dB, each 0.6 s with a pluck decay, over a quiet room. Regions: each note's
    body (50 .. 450 ms)."""
    rng = np.random.default_rng(41)
    pitches = (41.2, 49.0, 55.0, 61.7, 46.2, 41.2, 55.0, 49.0)
    levels = (-8, -17, -11, -20, -14, -19, -9, -16)
    length = len(pitches) * 0.7 + 1.0
    x = room_noise(length, -72.0, seed=17)
    notes = []
    for k, (f, lvl) in enumerate(zip(pitches, levels, strict=True)):
        n = int(0.6 * SR)
        t = np.arange(n) / SR
        tone = np.sin(2 * np.pi * f * t) + 0.3 * np.sin(2 * np.pi * 2 * f * t + rng.uniform(0, 6))
        env = np.minimum(t / 0.01, 1.0) * _decay(n, 0.8)
        t0 = 0.4 + k * 0.7
        _place(x, 10 ** (lvl / 20) * tone * env, t0)
        notes.append((t0 + 0.05, t0 + 0.45))
    return Take("sub-bass line", x, {"note": notes})


def process(values: dict, x: np.ndarray, block: int = 512) -> np.ndarray:
    """x through an Engine with `values`, latency compensated (same length)."""
    from engine import Engine
    e = Engine(SR, 1, 0, block)
    for k, v in values.items():
        e.set(k, v)
    e.reset()
    xi = np.concatenate([x, np.zeros(e.latency_samples)]).astype(np.float32)[:, None]
    y = np.empty_like(xi)
    for i in range(0, len(xi), block):
        y[i:i + block] = e.process(xi[i:i + block])
    return y[e.latency_samples:, 0].astype(np.float64)


def region_db(x: np.ndarray, regions, lo: float | None = None, hi: float | None = None) -> float:
    """Power-average level (dBFS) of x over the regions, optionally band-limited."""
    xb = x if lo is None else _band(x, lo, hi)
    e = [np.mean(xb[int(a * SR):int(b * SR)] ** 2) for a, b in regions]
    return 10 * math.log10(float(np.mean(e)) + 1e-300)


def region_levels(x: np.ndarray, regions, lo=None, hi=None) -> np.ndarray:
    """Each region's level (dBFS)."""
    xb = x if lo is None else _band(x, lo, hi)
    return np.array([10 * math.log10(float(np.mean(xb[int(a * SR):int(b * SR)] ** 2)) + 1e-300)
                     for a, b in regions])

