#!/usr/bin/env python3
"""Engine cost per frame against JUCE, per-call overhead, latency; same as `uplift bench`."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from app.bench import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
