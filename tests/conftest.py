import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from jackserver import JackServer  # noqa: E402


@pytest.fixture
def jack_server():
    """A fresh private `jackd -d dummy -r 48000 -p 64`, active for this test's clients."""
    saved = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")}
    server = JackServer().start()
    server.activate()
    yield server
    server.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
