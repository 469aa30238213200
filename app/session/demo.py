"""The built-in demo: a generated vocal-like phrase, and a session that plays it.

`generate(samplerate)` synthesises (numpy only, nothing downloaded) what Uplift
is for: a sung phrase (harmonic voice with vowel formants, vibrato, consonant
onsets), quiet breaths between the lines, and a quiet room tail after each
note, then near-silence. DRIFT lifts exactly those quiet parts.

`demo_session(...)` is what `uplift` does with no audio device: start a private
`jackd -d dummy`, run Uplift on it, and loop the demo into Uplift's inputs
through a second, also native, JACK client (`uplift-demo`). Stopping the
session stops the player and the private server.
"""
from __future__ import annotations

import numpy as np

from app.session.live import LiveSession

# (start s, duration s, midi note, vowel)
PHRASE = (
    (0.55, 0.45, 57, "a"), (1.05, 0.30, 59, "e"), (1.40, 0.85, 62, "o"),
    (2.95, 0.40, 64, "i"), (3.40, 0.35, 62, "a"), (3.80, 1.20, 57, "u"),
)
BREATHS = ((0.05, 0.38), (2.40, 0.42), (5.75, 0.45))   # (start s, duration s)
LENGTH_S = 8.0
# F1, F2, F3 (Hz) and their relative levels (dB)
VOWELS = {
    "a": ((800, 1150, 2900), (0, -6, -26)),
    "e": ((400, 1600, 2700), (0, -14, -22)),
    "i": ((300, 2200, 3000), (0, -16, -18)),
    "o": ((450, 800, 2830), (0, -9, -30)),
    "u": ((325, 700, 2530), (0, -16, -36)),
}
BANDWIDTHS = (90.0, 110.0, 170.0)


def _env(t, points):
    """Piecewise-linear envelope through (time, value) points."""
    ts, vs = zip(*points, strict=True)
    return np.interp(t, ts, vs, left=vs[0], right=vs[-1])


def _smooth(x, n):
    if n <= 1:
        return x
    k = np.ones(n) / n
    return np.convolve(x, k, mode="same")


def generate(samplerate: float = 48000, seconds: float = LENGTH_S, seed: int = 7) -> np.ndarray:
    """The demo signal, float32 (frames, 2), peak about -6 dBFS."""
    sr = float(samplerate)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    rng = np.random.default_rng(seed)
    voice = np.zeros(n)
    room_drive = np.zeros(n)
    ctl = 32                                   # control rate for formant gains
    for (start, dur, note, vowel) in PHRASE:
        i0, i1 = int(start * sr), min(n, int((start + dur + 0.08) * sr))
        tt = t[i0:i1] - start
        f_target = 440.0 * 2 ** ((note - 69) / 12)
        # scoop into the note, then vibrato after 150 ms
        scoop = 1.0 - 0.04 * np.exp(-tt / 0.05)
        vib = 1.0 + 0.012 * np.sin(2 * np.pi * 5.5 * tt) * np.clip((tt - 0.15) / 0.2, 0, 1)
        f0 = f_target * scoop * vib
        phase = 2 * np.pi * np.cumsum(f0) / sr
        amp = _env(tt, [(0, 0), (0.04, 0.8), (0.12, 1.0), (dur * 0.7, 0.85), (dur, 0.55),
                        (dur + 0.08, 0.0)])
        fmt, lv = VOWELS[vowel]
        seg = np.zeros(i1 - i0)
        ttc = tt[::ctl]
        f0c = f0[::ctl]
        for k in range(1, 41):
            fk = k * f0c
            g = np.zeros_like(fk)
            for F, B, L in zip(fmt, BANDWIDTHS, lv, strict=True):
                g += 10 ** (L / 20) / (1.0 + ((fk - F) / B) ** 2)
            g *= (1.0 / k) ** 0.5 * (fk < 0.45 * sr)
            seg += np.interp(tt, ttc, g) * np.sin(k * phase)
        seg *= amp
        # consonant onset: a short, bright noise burst
        burst_n = int(0.035 * sr)
        burst = np.diff(rng.standard_normal(burst_n + 1)) * np.linspace(1, 0, burst_n) ** 2
        seg[:burst_n] += 0.12 * burst
        voice[i0:i1] += seg
        room_drive[i0:i1] += seg
    voice *= 0.5 / max(1e-9, np.max(np.abs(voice)))
    room_drive *= 0.5 / max(1e-9, np.max(np.abs(room_drive)))
    out = np.zeros((n, 2))
    out[:, 0] = voice
    out[:, 1] = voice
    # breaths: soft band-limited noise around -38 dBFS
    for start, dur in BREATHS:
        i0, i1 = int(start * sr), min(n, int((start + dur) * sr))
        tt = t[i0:i1] - start
        nb = _smooth(np.diff(rng.standard_normal(i1 - i0 + 1)), 6)
        e = np.sin(np.pi * np.clip(tt / dur, 0, 1)) ** 1.5
        b = 0.012 * e * nb / max(1e-9, np.std(nb))
        out[i0:i1, 0] += b
        out[i0:i1, 1] += 0.9 * b
    # quiet room tail: the voice through a decaying, decorrelated noise reverb (about -45 dBFS after a note)
    rt60 = 1.4
    ir_n = int(rt60 * sr)
    decay = np.exp(-6.9 * np.arange(ir_n) / ir_n)
    for ch in range(2):
        ir = _smooth(rng.standard_normal(ir_n), 4) * decay
        ir *= 0.035 / max(1e-9, np.sqrt(np.sum(ir ** 2)))
        tail = np.fft.irfft(np.fft.rfft(room_drive, 2 * n) * np.fft.rfft(ir, 2 * n), 2 * n)[:n]
        out[:, ch] += tail
    # a very quiet noise floor, so "silence" is a real room
    out += 10 ** (-72 / 20) * rng.standard_normal((n, 2))
    # fade the loop point
    f = int(0.02 * sr)
    out[:f] *= np.linspace(0, 1, f)[:, None]
    out[-f:] *= np.linspace(1, 0, f)[:, None]
    return out.astype(np.float32)


class DemoSession(LiveSession):
    """A LiveSession on a private dummy JACK server, fed by the native demo player."""

    def __init__(self, blocksize: int = 64, channels: int = 2, samplerate=None,
                 client_name: str = "uplift", engine_values: dict | None = None, **kw):
        kw.pop("backend", None)
        kw.pop("no_connect", None)
        kw.pop("device", None)
        super().__init__(backend="jack", samplerate=None, blocksize=blocksize, channels=channels,
                         client_name=client_name, no_connect=True, engine_values=engine_values,
                         **kw)
        self.server_samplerate = int(samplerate or 48000)
        self.server_period = int(blocksize or 64)
        self.server = None
        self.player = None
        self.demo = True

    def start(self) -> DemoSession:
        from app.hosts.jack import NativePlayer, PrivateJackServer
        if self.running:
            return self
        if self.server is None or self.server.proc is None or self.server.proc.poll() is not None:
            if self.server is not None:
                self.server.stop()
            self.server = PrivateJackServer(self.server_samplerate, self.server_period).start()
        try:
            # everything compiled and allocated before any client is active
            signal = generate(self.server_samplerate)
            self.player = NativePlayer(signal, name=f"{self.client_name}-demo")
            super().start()
            c = self._client
            for k, dst in enumerate(c.physical(output=False)[:2]):
                c.connect(f"{c.name}:out_{min(k, self.channels - 1) + 1}", dst)
            self.player.start([f"{c.name}:in_{k % self.channels + 1}" for k in range(2)])
        except Exception:                # whatever failed: nothing half-started is left
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.player is not None:
            try:
                self.player.close()
            finally:
                self.player = None
        super().stop()
        if self.server is not None:
            self.server.stop()
            self.server = None


def demo_session(blocksize: int = 64, channels: int = 2, samplerate=None,
                 client_name: str = "uplift", engine_values: dict | None = None) -> DemoSession:
    """The no-audio-device fallback (not started yet): see DemoSession."""
    return DemoSession(blocksize=blocksize or 64, channels=channels or 2, samplerate=samplerate,
                       client_name=client_name or "uplift", engine_values=engine_values)
