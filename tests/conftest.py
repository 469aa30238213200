import os
import sys
import threading
import warnings

import jack
import pytest

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from jackserver import JackServer  # noqa: E402

# The harness's own JACK-Client clients: libjack's jack_client_close has been
# seen to block for good (JACK2 1.9.21) after other clients of the process came
# and went, which would hang a test until its timeout. A close that does not
# return within CLOSE_S is left behind in a daemon thread (and the client kept
# referenced, so its __del__ never closes it a second time). Uplift's own
# clients are not wrapped: the live tests exercise their close as it is.
CLOSE_S = 5.0
_stuck_clients: list = []
_jack_close = jack.Client.close


def _bounded_close(self, *args, **kwargs):
    t = threading.Thread(target=_jack_close, args=(self, *args), kwargs=kwargs, daemon=True,
                         name="test-jack-close")
    t.start()
    t.join(CLOSE_S)
    if t.is_alive():
        _stuck_clients.append(self)
        warnings.warn(f"jack_client_close of {self!r} did not return in {CLOSE_S} s "
                      "(libjack); left behind", stacklevel=2)


jack.Client.close = _bounded_close


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

