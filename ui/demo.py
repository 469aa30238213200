"""Last-resort demo for the window: an `engine.Engine` fed, off the audio path,
with a generated signal by a QTimer.

Used only when no live session can be opened and the live-session code offers
no fallback (private JACK dummy server + demo player). Nothing is audible;
the status bar says so. The signal is generated here (no downloads): a
vocal-like phrase (harmonic tone with vibrato, formant-ish spectrum and
syllable envelopes), breaths between phrases and a quiet room tail.
"""
from __future__ import annotations

import time

import numpy as np
from PyQt6.QtCore import QObject, QTimer


def demo_signal(samplerate: float = 48000, seconds: float = 8.0, channels: int = 2,
                seed: int = 7) -> np.ndarray:
    sr = float(samplerate)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    rng = np.random.default_rng(seed)
    out = np.zeros(n)
    # phrase: syllables (start s, length s, pitch Hz, level dBFS)
    syllables = [(0.25, 0.32, 220, -14), (0.62, 0.28, 247, -16), (0.95, 0.55, 262, -12),
                 (1.62, 0.40, 247, -18), (2.10, 0.90, 220, -13),
                 (4.30, 0.30, 196, -15), (4.65, 0.30, 220, -17), (5.00, 0.70, 247, -12),
                 (5.80, 1.10, 220, -16)]
    formants = [(700, 110), (1220, 140), (2600, 250), (3400, 300)]
    for start, length, f0, level in syllables:
        i0, i1 = int(start * sr), int(min(n, (start + length + 0.25) * sr))
        if i1 - i0 < 16:
            continue
        tt = t[i0:i1] - start
        vib = 1 + 0.012 * np.sin(2 * np.pi * 5.5 * tt) * np.clip(tt / 0.2, 0, 1)
        phase = 2 * np.pi * f0 * np.cumsum(vib) / sr
        tone = np.zeros_like(tt)
        for h in range(1, 30):
            fh = f0 * h
            if fh > sr / 2 - 1000:
                break
            g = sum(np.exp(-0.5 * ((fh - fc) / bw) ** 2) for fc, bw in formants) + 0.15 / h
            tone += g * np.sin(h * phase)
        env = np.clip(tt / 0.03, 0, 1) * np.clip((length - tt) / 0.12 + 1, 0, 1)
        env *= 1 + 0.3 * np.sin(2 * np.pi * 3 * tt)            # some diction
        tone *= env / (np.max(np.abs(tone)) + 1e-9)
        out[i0:i1] += tone * 10 ** (level / 20)
    # breaths: band-limited noise bursts ~ -42 dBFS
    for start in (0.05, 3.55, 7.35):
        i0, i1 = int(start * sr), int(min(n, (start + 0.45) * sr))
        m = i1 - i0
        if m < 64:
            continue
        noise = rng.standard_normal(m)
        noise = np.convolve(noise, np.ones(6) / 6, mode="same") - \
            np.convolve(noise, np.ones(60) / 60, mode="same")
        env = np.sin(np.pi * np.arange(m) / m) ** 2
        out[i0:i1] += noise * env * 10 ** (-38 / 20)
    # room tail: decaying filtered noise after each phrase end, ~ -50 dBFS
    for end in (3.05, 6.95):
        i0 = int(end * sr)
        m = min(n - i0, int(1.2 * sr))
        if m < 64:
            continue
        noise = np.convolve(rng.standard_normal(m), np.ones(12) / 12, mode="same")
        out[i0:i0 + m] += noise * np.exp(-np.arange(m) / (0.35 * sr)) * 10 ** (-44 / 20)
    out += rng.standard_normal(n) * 10 ** (-78 / 20)           # preamp hiss
    x = np.stack([out] * channels, axis=1)
    if channels == 2:
        x[:, 1] = np.roll(out, int(0.0004 * sr)) * 0.95
    return x.astype(np.float32)


class EngineFeeder(QObject):
    """Pushes the demo signal through an Engine in real time from a GUI timer."""

    def __init__(self, engine, signal: np.ndarray | None = None, block: int = 256,
                 interval_ms: int = 20, parent=None):
        super().__init__(parent)
        self.engine = engine
        nin = engine.channels + getattr(engine, "sidechain_channels", 0)
        if signal is None:
            signal = demo_signal(engine.samplerate, channels=engine.channels)
        if signal.shape[1] < nin:
            signal = np.concatenate([signal, np.zeros((signal.shape[0], nin - signal.shape[1]),
                                                      np.float32)], axis=1)
        self.signal = np.ascontiguousarray(signal[:, :nin], np.float32)
        self.block = block
        self.pos = 0
        self._t = None
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.step)

    def start(self):
        self._t = time.monotonic()
        self.timer.start()
        return self

    def stop(self):
        self.timer.stop()

    def step(self):
        now = time.monotonic()
        frames = int(min(now - self._t, 0.1) * self.engine.samplerate)
        self._t = now
        while frames > 0:
            n = min(self.block, frames, self.signal.shape[0] - self.pos)
            self.engine.process(self.signal[self.pos:self.pos + n])
            self.pos = (self.pos + n) % self.signal.shape[0]
            frames -= n


class EngineSession:
    """The session interface the window uses, answered by `self.engine` (an Engine)."""

    def set(self, id_, value):
        return self.engine.set(id_, value)

    def get(self, id_):
        return self.engine.get(id_)

    def values(self):
        return self.engine.values()

    def meters(self):
        return self.engine.meters()

    @property
    def latency_samples(self):
        return self.engine.latency_samples


class OfflineDemoSession(EngineSession):
    """Session-like wrapper: an Engine plus its feeder (nothing audible)."""

    offline_demo = True

    def __init__(self, samplerate: float = 48000, channels: int = 2):
        from engine import Engine
        self.engine = Engine(samplerate=samplerate, channels=channels)
        self.samplerate = self.engine.samplerate
        self.feeder = EngineFeeder(self.engine)

    def start(self):
        self.feeder.start()
        return self

    def stop(self):
        self.feeder.stop()
