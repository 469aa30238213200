"""Design study for issue 12 (DRIFT's new signal path), not used by the product.

Question: can a cascade of minimum-phase peaking sections applied to the
delayed input render DRIFT's lifts so that steady sines anywhere from 40 Hz
to 18 kHz land within ±1 dB of the gain formula, in phase within ±90°?
Today's gain computer makes a V of lifts around a sine (its neighbours read
its skirt and get up to 18 dB more), which no equaliser follows. This models
the analysis readings analytically (4th-order gammatone skirts,
(1 + ((f − f_b)/b)²)^−4 in power), changes the gain computer, and evaluates
a cascade of y += (G − 1)·bandpass(y) sections (exact at rest: G = 1 adds 0)
whose gains are solved with Välimäki & Liski's interaction matrix (at a
12 dB reference, pinv, then corrected on the real response).

Gain computer tried: L'_b = max_k (L_k − S·|b − k|) (S dB per band: the lift
profile's slope is bounded by S·(1 − 1/R)), after raising each local maximum
to its parabolic peak (a sine between two centres reads ~2 dB low in both).

Measured (amount 100 %, threshold −40, max lift 18, 48 kHz; `python
scripts/drift_eq_study.py`, about a minute):

  S 3 dB/band, sections 1.0 gammatone bandwidth, peak interpolation,
  40 frequencies:
      A −45: −0.86..+0.75 dB   A −55: −1.19..+0.80   A −62/−70: −1.36..+0.77
      |phase| ≤ 66°
  30 frequencies (other points): −1.21 / −2.04 / −3.12 dB at A −45 / −55 /
      −70, at 13.4–15.5 kHz: the top sections' bilinear cramping at full lift
  without the peak interpolation (A −55): −1.08..+1.08 dB, the + side between
      centres

The section gains are corrected twice on the true response. The audio
thread could afford one linear solve per control tick (40×40 MACs); with that
alone (the interaction matrix at 12 dB, no correction) sines land −3.7..0,
−5.3..−0.5 and −5.9..−0.4 dB at A −45 / −55 / −70: the overlap is not linear
in dB at these lifts.

So the route is plausible but not yet ±1 dB everywhere, and its per-tick cost
(the solve plus 40 sections per channel) is well above the issue's ≤ 40 ns
goal. The next steps are in the issue 12 note.
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from engine import drift_bank as DB  # noqa: E402

SR = 48000.0
FC = DB.band_centres()
NB = len(FC)
E = DB.erb_number(FC)
TILT = np.array([DB.tilt(f) for f in FC])


def reading_db(f, level_db, bw_factor):
    """Each band's level for a sine at f: the gammatone's power skirt."""
    b = bw_factor * DB.bandwidth_hz(FC)
    return level_db - 40 * np.log10(1 + ((f - FC) / b) ** 2)


def lift_formula(lvl, t, slope, max_lift):
    return np.where(lvl < t, np.minimum((t - lvl) * slope, max_lift), 0.0)


def peak_interp(lv):
    """Each local maximum raised to the top of the parabola through it and its
    neighbours (dB): a sine between two centres reads ~2 dB low in both."""
    out = lv.copy()
    for b in range(1, NB - 1):
        lo, mid, hi = lv[b - 1], lv[b], lv[b + 1]
        den = lo - 2 * mid + hi
        if mid >= lo and mid >= hi and den < -1e-9:
            out[b] = mid - (lo - hi) ** 2 / (8 * den)
    return out


def gain_computer(lv, thr, a, max_lift, spread):
    slope = 1 - 1 / (1 + 3 * a)
    d = np.abs(np.arange(NB)[:, None] - np.arange(NB)[None, :])
    seen = np.max(lv[None, :] - spread * d, axis=1)
    return lift_formula(seen, thr + 4 * a * TILT, slope, max_lift)


def bandpass(f0, q):
    """RBJ band-pass with 0 dB peak: (b, a)."""
    w0 = 2 * np.pi * f0 / SR
    al = np.sin(w0) / (2 * q)
    a0 = 1 + al
    return np.array([al / a0, 0, -al / a0]), np.array([1, -2 * np.cos(w0) / a0, (1 - al) / a0])


def response(b, a, f):
    z = np.exp(-1j * 2 * np.pi * np.asarray(f) / SR)
    return (b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)


def section_q(bw_factor):
    return np.minimum(FC / (DB.bandwidth_hz(FC) * bw_factor), 40.0)


def cascade(gains_db, f, q):
    """Π (1 + (G_k − 1)·bandpass_k) at frequencies f."""
    out = np.ones(len(np.atleast_1d(f)), complex)
    for k in range(NB):
        if gains_db[k] != 0:
            b, a = bandpass(min(FC[k], 0.45 * SR), q[k])
            out *= 1 + (10 ** (gains_db[k] / 20) - 1) * response(b, a, f)
    return out


def design(target_db, q, ref_db=12.0, iterations=2):
    """Section gains for target lifts at the centres: interaction matrix, then
    corrected on the cascade's true response."""
    inter = np.zeros((NB, NB))
    for m in range(NB):
        g = np.zeros(NB)
        g[m] = ref_db
        inter[:, m] = 20 * np.log10(np.abs(cascade(g, FC, q))) / ref_db
    inv = np.linalg.pinv(inter)
    g = inv @ target_db
    for _ in range(iterations):
        g = g + inv @ (target_db - 20 * np.log10(np.abs(cascade(g, FC, q))))
    return g


def expected(f, level_db, thr, a, max_lift):
    slope = 1 - 1 / (1 + 3 * a)
    t = np.interp(DB.erb_number(f), E, thr + 4 * a * TILT)
    return float(lift_formula(np.array([level_db]), t, slope, max_lift)[0])


def sweep(level_db, spread=3.0, bw_factor=1.4, section_bw=1.0, n=40, interp=True):
    """(f, error dB, phase deg) for steady sines from 40 Hz to 18 kHz."""
    q = section_q(section_bw)
    thr, a, max_lift = -40.0, 1.0, 18.0
    out = []
    for f in DB.erb_number_to_hz(np.linspace(DB.erb_number(40), DB.erb_number(18000), n)):
        lv = reading_db(f, level_db, bw_factor)
        if interp:
            lv = peak_interp(lv)
        g = design(gain_computer(lv, thr, a, max_lift, spread), q)
        h = cascade(g, np.array([f]), q)[0]
        out.append((f, 20 * np.log10(abs(h)) - expected(f, level_db, thr, a, max_lift),
                    np.degrees(np.angle(h))))
    return np.array(out)


if __name__ == "__main__":
    for level in (-45.0, -55.0, -62.0, -70.0):
        r = sweep(level)
        w = r[np.argmax(np.abs(r[:, 1]))]
        print(f"A {level:+.0f} dBFS: {r[:, 1].min():+.2f}..{r[:, 1].max():+.2f} dB "
              f"(worst at {w[0]:.0f} Hz), |phase| <= {np.abs(r[:, 2]).max():.0f} deg")
