"""`python -m engine`: build the audio engine for this machine now (make run/test do)."""
import time

from .build import CACHE_DIR, build_all

build_all()
print(f"audio engine ready ({time.process_time():.1f} CPU-s) in {CACHE_DIR}")
