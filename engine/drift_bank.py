"""DRIFT filterbank design (off the audio thread): a gammatone analysis/resynthesis
bank in the style of Hohmann (2002), driven by the 40 ERB control bands.

* analysis: per filter a 4th-order complex gammatone, a cascade of 4 identical
  complex one-pole stages  z ← in + c·z,  c = λ·e^{iβ},  β = 2π·fc/fs,
  λ = exp(−2π·bw·1.019·ERB(fc)/fs), input scaled by k⁴ = 2·(1 − λ)⁴ so
  |H(fc)| = 2: the real part has unity gain at fc and |z| is the band's
  Hilbert envelope.
* synthesis: per filter an integer delay d_k and a phase factor p_k, then
  y = Σ_k g_k·Re(p_k·z_k[n − d_k]) with real gains g_k.

Alignment (see `design`): a filter's group delay at its centre is
τ_k = 4λ/(1 − λ). The bank's target group delay is a(ω) = (D^4 + τ(ω)^4)^(1/4),
a soft maximum of the latency D and what the filter can do; d_k = round(a_k − τ_k)
and the target phase is φ(ω) = −ω·D + ∫_ω^π (a − D) dω', so every filter sits
on one smooth phase curve (exactly −ω·D wherever a = D) and neighbours add in
phase. Gains: iterated least squares on a log grid against unit magnitude
with the current phase (plus a small smoothness penalty).

`python -m engine.drift_bank` prints the ripple and impulse peak for the
choices compared in engine/drift.py's docstring.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

NUM_BANDS = 40
F_LO, F_HI = 20.0, 20000.0
ORDER = 4
#: DRIFT's fixed latency (the synthesis delay D), in ms.
LATENCY_MS = 2.5
#: Filters per control band (1 or 2; 2 = filters halfway between band centres too).
PER_BAND = 1
#: Extra filters outside [20 Hz, 20 kHz], half a band spacing apart (per side).
EXTRA = 0
#: Exponent of the soft maximum between D and a filter's own group delay.
SOFTNESS = 4.0
#: Filter bandwidth in ERB (1 = the classic 1.019·ERB gammatone).
BW_FACTOR = 1.4
#: ... except for the lowest (20 Hz) filter.
BW_LOWEST = 1.0

_L, _Q = 24.7, 9.264491981582191       # Glasberg & Moore ERB = L + f/Q
_A_GAMMA = math.pi * math.factorial(2 * ORDER - 2) * 2.0 ** -(2 * ORDER - 2) \
    / math.factorial(ORDER - 1) ** 2


def erb_number(f):
    """E(f) = 21.4·log10(1 + 0.00437·f) (Glasberg & Moore 1990)."""
    return 21.4 * np.log10(1.0 + 0.00437 * np.asarray(f, dtype=np.float64))


def erb_number_to_hz(e):
    return (10.0 ** (np.asarray(e, dtype=np.float64) / 21.4) - 1.0) / 0.00437


def band_centres() -> np.ndarray:
    """The 40 control band centres (Hz), equally spaced in ERB number, both ends included."""
    e = np.linspace(erb_number(F_LO), erb_number(F_HI), NUM_BANDS)
    f = erb_number_to_hz(e)
    f[0], f[-1] = F_LO, F_HI
    return f


def tilt(f):
    """DRIFT's spectral tilt shape at frequency f (dsp.md, "Gain computer"):
    2·log10(f/20)/3 − 1, from −1 at 20 Hz to +1 at 20 kHz; a band's threshold is
    drift_threshold + 4·a·tilt (a = amount/100)."""
    return 2.0 * np.log10(np.asarray(f, dtype=np.float64) / 20.0) / 3.0 - 1.0


def bandwidth_hz(f):
    """The gammatone's bandwidth parameter b = 1.019·ERB(f) (Hz)."""
    return (_L + np.asarray(f, dtype=np.float64) / _Q) / _A_GAMMA


def latency_samples(samplerate: float) -> int:
    return int(math.floor(LATENCY_MS * 1e-3 * samplerate + 0.5))


class Bank(NamedTuple):
    fc: np.ndarray          # [nf] centre frequencies (Hz)
    coef: np.ndarray        # [nf] complex pole c
    norm: np.ndarray        # [nf] per-stage input factor k
    delay: np.ndarray       # [nf] int synthesis delay d_k
    phase: np.ndarray       # [nf] complex phase factor p_k
    gain: np.ndarray        # [nf] synthesis gain g_k
    band_pos: np.ndarray    # [nf] position on the control band axis (0..39, fractional)
    D: int                  # common delay (samples)


def filter_positions(samplerate: float, per_band: int = PER_BAND, extra: int = EXTRA):
    """Filter positions on the band axis (band b centre = b) and centre frequencies."""
    step = 1.0 / per_band
    pos = list(np.arange(-extra * step, 0.0, step)) if extra else []
    pos += list(np.arange(0.0, NUM_BANDS - 1 + 1e-9, step))
    pos += [NUM_BANDS - 1 + step * (i + 1) for i in range(extra)]
    pos = np.array(pos)
    e0, e1 = erb_number(F_LO), erb_number(F_HI)
    de = (e1 - e0) / (NUM_BANDS - 1)
    fc = erb_number_to_hz(e0 + pos * de)
    keep = (fc > 5.0) & (fc < 0.47 * samplerate)
    return pos[keep], fc[keep]


def bw_factors(fc):
    """Bandwidth factor per filter: BW_FACTOR, narrower for the 20 Hz band (a wide
    complex filter that low is a poor analytic filter: its envelope would ripple
    with the image at −fc and read a 20 Hz sine 1.8 dB high; at 1.0, +0.6 dB)."""
    fc = np.asarray(fc, dtype=np.float64)
    return np.where(fc < 1.001 * F_LO, BW_LOWEST, BW_FACTOR)


def analysis_coefs(samplerate: float, fc: np.ndarray, bw_factor=None):
    bw_factor = bw_factors(fc) if bw_factor is None else bw_factor
    erb = _L + fc / _Q
    b = bw_factor * erb / _A_GAMMA
    lam = np.exp(-2.0 * np.pi * b / samplerate)
    beta = 2.0 * np.pi * fc / samplerate
    coef = lam * np.exp(1j * beta)
    norm = 2.0 ** (1.0 / ORDER) * (1.0 - lam)
    return coef, norm


def analysis_impulse(coef, norm, n):
    """Complex impulse responses [nf, n] of the analysis filters (float64)."""
    nf = coef.shape[0]
    h = np.zeros((nf, n), np.complex128)
    s = np.zeros((ORDER, nf), np.complex128)
    for i in range(n):
        inp = np.full(nf, 1.0 + 0j) if i == 0 else np.zeros(nf, np.complex128)
        for st in range(ORDER):
            s[st] = norm * inp + coef * s[st]
            inp = s[st]
        h[:, i] = inp
    return h


def analysis_response(coef, norm, w):
    """H_k(e^{iw}) for every filter [nf, len(w)]."""
    zinv = np.exp(-1j * np.asarray(w))[None, :]
    return (norm[:, None] / (1.0 - coef[:, None] * zinv)) ** ORDER


def synthesis_response(bank: Bank, w, gains=None):
    """Complex response of Σ g_k·Re(p_k·z_k[n − d_k]) at angular frequencies w."""
    g = bank.gain if gains is None else gains
    hp = analysis_response(bank.coef, bank.norm, w)
    hm = analysis_response(bank.coef, bank.norm, -np.asarray(w))
    dl = np.exp(-1j * np.outer(bank.delay, w))
    p = bank.phase[:, None]
    return (g[:, None] * dl * 0.5 * (p * hp + np.conj(p) * np.conj(hm))).sum(axis=0)


def design(samplerate: float, per_band: int = PER_BAND, extra: int = EXTRA,
           latency_ms: float | None = None, softness: float = SOFTNESS, D: int | None = None,
           smooth: float = 1e-4, iterations: int = 30) -> Bank:
    """Design the bank for `samplerate` (float64, off the audio thread).

    Filter k has group delay τ_k = 4λ/(1 − λ) at its centre and is aligned to
    a_k = (D^s + τ_k^s)^(1/s) (a soft maximum of D and τ_k): integer delay
    d_k = round(a_k − τ_k), phase factor p_k = exp(i·(φ(ω_k) + ω_k·d_k)) with
    φ the integrated target phase (see the module docstring). High filters
    (τ_k ≪ D) line up at D; the slow low filters keep their own group delay.
    Synthesis gains: real, iterated least squares on a log-spaced grid
    30 Hz .. min(19.5 kHz, 0.45·fs) against unit magnitude with the current
    phase, with a small second-difference penalty (Hohmann's per-centre
    iteration drifts into odd/even gain patterns when filters overlap a lot).
    `D` overrides the latency in samples (the kernel adds one sample)."""
    sr = float(samplerate)
    if D is None:
        D = latency_samples(sr) if latency_ms is None else int(math.floor(latency_ms * 1e-3 * sr + 0.5))
    pos, fc = filter_positions(sr, per_band, extra)
    coef, norm = analysis_coefs(sr, fc)
    lam = np.abs(coef)
    tau = ORDER * lam / (1.0 - lam)
    wc = 2.0 * np.pi * fc / sr
    a = _soft_max(float(D), tau, softness)
    delay = np.maximum(0, np.round(a - tau)).astype(np.int64)
    # target phase: group delay a(ω) integrated from the top, so it is exactly −ω·D
    # wherever a = D and neighbouring filters agree in phase everywhere
    theta = _target_phase(sr, D, softness, fc)
    phase = np.exp(1j * (theta + wc * delay))
    nf = fc.shape[0]
    bank = Bank(fc, coef, norm, delay, phase, np.ones(nf), pos, D)
    f = np.geomspace(30.0, min(19500.0, 0.45 * sr), 2000)
    A = _contributions(bank, 2.0 * np.pi * f / sr)
    M = np.concatenate([A.real, A.imag])
    L2 = np.diff(np.eye(nf), 2, axis=0)
    R = len(f) * (smooth * (L2.T @ L2) + 1e-6 * np.eye(nf))
    lhs = M.T @ M + R
    g = np.ones(nf)
    for _ in range(iterations):
        t = np.exp(1j * np.angle(A @ g))
        g = np.linalg.solve(lhs, M.T @ np.concatenate([t.real, t.imag]))
    return bank._replace(gain=g)


def _soft_max(D, tau, s):
    return (D ** s + tau ** s) ** (1.0 / s)


def _group_delay(sr, f):
    lam = np.exp(-2.0 * np.pi * BW_FACTOR * (_L + f / _Q) / _A_GAMMA / sr)
    return ORDER * lam / (1.0 - lam)


def _target_phase(sr, D, softness, fc):
    """φ(ω_k) = −ω_k·D + ∫_{ω_k}^{π} (a(ω) − D) dω, a(ω) = softmax(D, τ(ω)): −dφ/dω = a."""
    f = np.linspace(0.0, sr / 2.0, 200001)
    excess = _soft_max(float(D), _group_delay(sr, f), softness) - D
    w = 2.0 * np.pi * f / sr
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (excess[1:] + excess[:-1]) * np.diff(w))])
    tail = cum[-1] - cum                 # ∫_ω^π excess
    wk = 2.0 * np.pi * fc / sr
    return -wk * D + np.interp(wk, w, tail)


def _contributions(bank: Bank, w):
    """[len(w), nf]: response of each filter's synthesis path with gain 1."""
    hp = analysis_response(bank.coef, bank.norm, w)
    hm = analysis_response(bank.coef, bank.norm, -np.asarray(w))
    dl = np.exp(-1j * np.outer(bank.delay, w))
    p = bank.phase[:, None]
    return (dl * 0.5 * (p * hp + np.conj(p) * np.conj(hm))).T


def ripple(bank: Bank, samplerate: float, f_lo=40.0, f_hi=18000.0, n=4000):
    f = np.geomspace(f_lo, f_hi, n)
    r = synthesis_response(bank, 2.0 * np.pi * f / samplerate)
    db = 20.0 * np.log10(np.abs(r))
    return db.min(), db.max(), f, db


def impulse_peak(bank: Bank, n=None):
    """Index of the main peak of the (float64) synthesised impulse response."""
    n = n or bank.D * 4 + 64
    h = analysis_impulse(bank.coef, bank.norm, n)
    y = np.zeros(n)
    for k in range(h.shape[0]):
        d = bank.delay[k]
        y[d:] += bank.gain[k] * np.real(bank.phase[k] * h[k, :n - d])
    return int(np.argmax(np.abs(y))), y


if __name__ == "__main__":
    for sr in (44100, 48000, 96000):
        for pb, bw in ((1, 1.0), (2, 1.0), (1, BW_FACTOR)):
            for lat in (2.0, 2.5, 3.0):
                saved, globals()["BW_FACTOR"] = BW_FACTOR, bw
                b = design(sr, pb, EXTRA, lat)
                globals()["BW_FACTOR"] = saved
                lo, hi, f, db = ripple(b, sr)
                pk, _ = impulse_peak(b)
                print(f"sr {sr} filters/band {pb} bw {bw} lat {lat} ms (D={b.D})  nf {len(b.fc)}  "
                      f"40 Hz..18 kHz: {lo:+.3f} .. {hi:+.3f} dB  impulse peak {pk}")
