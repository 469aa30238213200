"""Live sessions: a stream through the engine (live.py), the demo (demo.py), the
headless meters (headless.py) and `uplift run` (run.py)."""
