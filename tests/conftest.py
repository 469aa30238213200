import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from jackserver import JackServer  # noqa: E402


class _RunningServer:
    """The server this process already runs under (PipeWire, see tests/test_pipewire.py)."""
    name = "pipewire"

    def activate(self):
        pass

    def stop(self):
        pass


@pytest.fixture
def jack_server():
    """A fresh private `jackd -d dummy -r 48000 -p 64`, active for this test's clients;
    under UPLIFT_TEST_JACK=pipewire, the private PipeWire this run was started in."""
    if os.environ.get("UPLIFT_TEST_JACK") == "pipewire":
        yield _RunningServer()
        return
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

