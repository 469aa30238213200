"""Last-resort demo for the window: an `engine.Engine` fed, off the audio path,
with a generated signal by a QTimer.

Used only when no live session can be opened and the live-session code offers
no fallback (private JACK dummy server + demo player). Nothing is audible;
the status bar says so. The signal is the live demo's phrase (app/session/demo.py).
"""
from __future__ import annotations

import time

import numpy as np
from PyQt6.QtCore import QObject, QTimer


class EngineFeeder(QObject):
    """Pushes the demo signal through an Engine in real time from a GUI timer."""

    def __init__(self, engine, signal: np.ndarray | None = None, block: int = 256,
                 interval_ms: int = 20, parent=None):
        super().__init__(parent)
        self.engine = engine
        nin = engine.channels + getattr(engine, "sidechain_channels", 0)
        if signal is None:
            from app.session.demo import generate
            signal = generate(engine.samplerate)[:, :engine.channels]
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

    def update(self, values):
        self.engine.update(values)

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
