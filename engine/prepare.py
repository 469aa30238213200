"""Build everything a session runs, now, instead of on first use (engine/build.py
explains the cache; this module is apart from it because it uses the engine
that engine/build.py's machinery compiles)."""
from __future__ import annotations

import numpy as np

from .build import building


def build_all(report=None, natives=()) -> None:
    """Compile (or load) everything a session uses: the engine entry and the
    Python-side kernels, and `natives` (Native functions of the hosts built on
    the engine: app/build.py passes the audio callbacks)."""
    with building(report):
        from .curve import chain_curve_db
        from .engine import Engine
        Engine(48000, 2, 2, 64).meters()
        chain_curve_db(np.linspace(-96.0, 0.0, 4))
        for f in natives:
            f.get()

