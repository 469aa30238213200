"""DRIFT's filters, designed off the audio thread (dsp.md, "DRIFT").

Analysis (measures only): per control band a 4th-order complex gammatone, a
cascade of 4 identical complex one-pole stages  z <- k·in + c·z,
c = λ·e^{iβ}, β = 2π·fc/fs, λ = exp(−2π·bw·1.019·ERB(fc)/fs), k⁴ = 2·(1 − λ)⁴,
so |H(fc)| = 2 and |z| is the band's Hilbert envelope: a sine of amplitude A
at a centre reads 20·log10(A). bw = 1.4 (1.0 for the 20 Hz band).

Synthesis (the lifts): the delayed input plus a parallel bank of band-passes,
    y = x_D + Σ_b c_b·BP_b(x_D),
BP_b the bilinear 2nd-order band-pass with unity peak at f_b (a trapezoidal
state-variable filter, well-conditioned in float32 down to 20 Hz at 192 kHz),
its −3 dB bandwidth SYNTH_BW times the analysis bandwidth, kept in Hz up to
Nyquist (α = π·bw/fs: no bilinear cramping near the top). Each BP_b is
positive-real (its phase lies within ±90°), so with every c_b ≥ 0 the sum
1 + Σ c_b·BP_b(f) has a positive real part and the output can never be more
than 90° from the delayed input: a 50 % mix cannot notch. With every c_b = 0
the output is x_D, exactly.

The c_b come from the target lifts T_b = 10^(lift_b/20) at the centres:
c = W·(T − 1), W = (Re H)^−1 with H[b, k] = BP_k(f_b) (Välimäki & Liski's
interaction matrix, here in the linear domain, where a parallel bank's
overlap is exactly linear), then SOLVE_ITERATIONS corrections
c += SOLVE_STEP·W·(T − |1 + H·c|) for the quadrature part the real design ignores.
`python -m engine.drift_bank` prints the design figures.
"""
from __future__ import annotations

import math

import numpy as np

NUM_BANDS = 40
F_LO, F_HI = 20.0, 20000.0
ORDER = 4
#: Analysis filter bandwidth in ERB (1 = the classic 1.019·ERB gammatone).
BW_FACTOR = 1.4
#: ... except for the lowest (20 Hz) filter.
BW_LOWEST = 1.0
#: Synthesis band-pass bandwidth, in units of the analysis bandwidth parameter.
SYNTH_BW = 1.2
#: Corrections of the synthesis gains per control tick, and their step (see the
#: docstring): undamped, the corrections overshoot beside a deep valley in
#: the lifts (a −4.4 dB error at 96 kHz after two), halved they settle.
SOLVE_ITERATIONS = 6
SOLVE_STEP = 0.5
#: The realised lifts change at most this much from band to band (engine/drift.py).
LIFT_SLOPE_DB = 3.0

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


def synthesis_bandwidth_hz(fc):
    return SYNTH_BW * bandwidth_hz(fc) * bw_factors(fc)


def synthesis_svf(samplerate: float):
    """Per band (a1, a2, a3, k) of the trapezoidal state-variable filter whose
    band output times k is the unity-peak band-pass: g = tan(π·fc/fs),
    k = 2α/sin(ω0) with α = π·bw/fs, a1 = 1/(1 + g·(g + k)), a2 = g·a1, a3 = g·a2."""
    fc = band_centres()
    w0 = 2.0 * np.pi * fc / samplerate
    alpha = np.pi * synthesis_bandwidth_hz(fc) / samplerate
    g = np.tan(0.5 * w0)
    k = 2.0 * alpha / np.sin(w0)
    a1 = 1.0 / (1.0 + g * (g + k))
    return a1, g * a1, g * g * a1, k


def synthesis_response(samplerate: float, f):
    """Complex response [NUM_BANDS, len(f)] of the unity-peak band-passes:
    α(1 − z⁻²) / ((1 + α) − 2·cos(ω0)·z⁻¹ + (1 − α)·z⁻²)."""
    fc = band_centres()
    w0 = 2.0 * np.pi * fc / samplerate
    alpha = np.pi * synthesis_bandwidth_hz(fc) / samplerate
    z = np.exp(-1j * 2.0 * np.pi * np.asarray(f, dtype=np.float64) / samplerate)[None, :]
    a = alpha[:, None]
    return a * (1.0 - z * z) / ((1.0 + a) - 2.0 * np.cos(w0)[:, None] * z + (1.0 - a) * z * z)


def interaction(samplerate: float):
    """(H, W): H[b, k] = BP_k(f_b) (complex), W = (Re H)^−1."""
    H = synthesis_response(samplerate, band_centres()).T
    return H, np.linalg.inv(H.real)


def synthesis_gains(lift_db, samplerate: float, iterations: int = SOLVE_ITERATIONS):
    """The gains c the engine computes for lifts lift_db at the centres (float64 model
    of engine/drift.py's solve)."""
    H, W = interaction(samplerate)
    t = 10.0 ** (np.asarray(lift_db, dtype=np.float64) / 20.0)
    c = W @ (t - 1.0)
    for _ in range(iterations):
        c = c + SOLVE_STEP * (W @ (t - np.abs(1.0 + H @ c)))
    return c


def realised_db(lift_db, samplerate: float, f):
    """(magnitude dB, phase degrees) of the synthesis for lifts lift_db, at f (Hz)."""
    h = 1.0 + synthesis_gains(lift_db, samplerate) @ synthesis_response(samplerate, f)
    return 20.0 * np.log10(np.abs(h)), np.degrees(np.angle(h))


def _figures(sr):
    fc = band_centres()
    e = erb_number(fc)
    f = erb_number_to_hz(np.linspace(erb_number(40.0), erb_number(min(18000.0, 0.45 * sr)), 400))
    grid = np.geomspace(10.0, 0.499 * sr, 2000)
    out = []
    for name, lift in (("every band 18 dB", np.full(NUM_BANDS, 18.0)),
                       ("every band 6 dB", np.full(NUM_BANDS, 6.0)),
                       ("tilt 0..18 dB", np.linspace(0.0, 18.0, NUM_BANDS)),
                       ("one band 6 dB (b 20)", np.where(np.arange(NUM_BANDS) == 20, 6.0, 0.0)),
                       ("bands 26-33 at 12 dB, slope-limited",
                        np.minimum(12.0, LIFT_SLOPE_DB * np.maximum(
                            0, np.minimum(np.arange(NUM_BANDS) - 25, 34 - np.arange(NUM_BANDS)))))):
        m, _ = realised_db(lift, sr, f)
        want = np.interp(erb_number(f), e, lift)
        _, ph = realised_db(lift, sr, grid)
        out.append(f"  {name:38s} {np.min(m - want):+.2f} .. {np.max(m - want):+.2f} dB"
                   f"   |phase| <= {np.max(np.abs(ph)):.0f} deg")
    return out


if __name__ == "__main__":
    for sr in (44100, 48000, 96000, 192000):
        H, W = interaction(sr)
        print(f"{sr} Hz: realised lift against the profile interpolated in ERB number, "
              f"40 Hz..18 kHz (|W| row sum <= {np.abs(W).sum(1).max():.1f}); at rest: exact")
        print("\n".join(_figures(sr)))
