"""`python -m engine`: build the engine alone for this machine now (`python -m
app.build`, which make runs, also builds the audio callbacks of the hosts)."""
import time

from .build import CACHE_DIR
from .prepare import build_all

build_all()
print(f"engine ready ({time.process_time():.1f} CPU-s) in {CACHE_DIR}")
