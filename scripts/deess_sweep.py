"""How the De-esser preset's settings were found (issue 16): SETTLE on the
sibilant speech take (tests/material.py, sibilant()), one setting changed at a
time from the preset. For each, the threshold is bisected to the lowest that
keeps the vowels' level change within --target dB, and the "s" reduction there
is printed (whole band, and 4-9 kHz); then the preset itself.

    python scripts/deess_sweep.py [--target 0.7]

Both figures are the processed take's level over the regions against the
input's, latency compensated, as tests/preset_figures.py measures them.
"""
import argparse
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(root), str(root / "tests")]

import material as M  # noqa: E402

from app.presets import load_preset  # noqa: E402

VARIANTS = (
    [{"sc_hpf": f} for f in (4000, 5000, 6000, 7000, 9000, 10000)]
    + [{"sc_hpf": 6000, "sc_lpf": 9000}, {"sc_lpf": 12000}]
    + [{"detector": "peak"}, {"detector": "peak", "lookahead": 3}]
    + [{"rms_window": w} for w in (2, 15)]
    + [{"release": r} for r in (10, 20, 40)]
    + [{"lookahead": la} for la in (0, 3, 10)]
    + [{"attack": 0.1}, {"ratio": 10}, {"ratio": 4}, {"knee": 6}, {"smooth": 1}]
)


def figures(take, values):
    """(s reduction, s reduction in 4-9 kHz, vowel reduction), dB."""
    y = M.process(values, take.x)
    ess, vowels = take.regions["ess"], take.regions["vowel"]
    return (M.region_db(take.x, ess) - M.region_db(y, ess),
            M.region_db(take.x, ess, *M.ESS_BAND) - M.region_db(y, ess, *M.ESS_BAND),
            M.region_db(take.x, vowels) - M.region_db(y, vowels))


def best_threshold(take, values, target):
    """The lowest threshold (to 0.1 dB) whose vowel reduction is at most target."""
    lo, hi = -60.0, 0.0
    while hi - lo > 0.1:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if figures(take, dict(values, threshold=mid))[2] <= target else (mid, hi)
    return hi


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", type=float, default=0.7, help="vowel reduction allowed (dB)")
    args = ap.parse_args()
    take = M.sibilant()
    preset = load_preset("De-esser")
    print(f"{len(take.regions['ess'])} s bursts, {len(take.regions['vowel'])} vowels; "
          f"vowels at most {args.target} dB down")
    for change in [{}, *VARIANTS]:
        values = dict(preset, **change)
        t = best_threshold(take, values, args.target)
        e, eh, v = figures(take, dict(values, threshold=t))
        name = ", ".join(f"{k}={v}" for k, v in change.items()) or "the preset's settings"
        print(f"{name:32s} threshold {t:6.1f}: s -{e:.2f} dB (4-9 kHz -{eh:.2f}), vowels -{v:.2f}")
    e, eh, v = figures(take, preset)
    print(f"the preset (threshold {preset['threshold']:.0f}): s -{e:.2f} dB (4-9 kHz -{eh:.2f}), "
          f"vowels -{v:.2f}")


if __name__ == "__main__":
    main()
