"""A real JACK server with the dummy backend, for tests and scripts.

`JackServer` starts `jackd -n NAME -d dummy -r SR -p PERIOD` under a private
server name (so it never touches a user's server), waits until clients can
connect, and stops it. Clients find it through JACK_DEFAULT_SERVER, which
`JackServer.env()` / `activate()` set.
"""
from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import time
import uuid


def _forget(pid: int) -> None:
    # A SIGKILLed jackd keeps its slot in JACK2's 8-slot shm registry; free it,
    # or a few killed servers later no server can start on this machine.
    from app.hosts.jack import forget_server_registration
    forget_server_registration(pid)


class JackServer:
    def __init__(self, samplerate: int = 48000, period: int = 64, name: str | None = None,
                 realtime: bool = True):
        self.samplerate = samplerate
        self.period = period
        self.name = name or f"uplift-test-{uuid.uuid4().hex[:8]}"
        self.realtime = realtime
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> JackServer:
        jackd = shutil.which("jackd")
        if jackd is None:
            raise RuntimeError("jackd not found: run `make test` (it installs jackd2)")
        env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1", JACK_NO_START_SERVER="1")
        cmd = [jackd, "-n", self.name, "-R" if self.realtime else "-r", "-d", "dummy",
               "-r", str(self.samplerate), "-p", str(self.period)]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode(errors="replace")
                raise RuntimeError(f"jackd exited: {out.strip()[-500:]}")
            if self._ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("jackd did not come up in time")

    def _ready(self) -> bool:
        r = subprocess.run(["jack_lsp"], env=self.env(), capture_output=True, timeout=5)
        return r.returncode == 0 and b"system:playback_1" in r.stdout

    def env(self) -> dict:
        return dict(os.environ, JACK_DEFAULT_SERVER=self.name, JACK_NO_START_SERVER="1",
                    JACK_NO_AUDIO_RESERVATION="1")

    def activate(self) -> None:
        """Point this process's JACK clients at the server."""
        os.environ["JACK_DEFAULT_SERVER"] = self.name
        os.environ["JACK_NO_START_SERVER"] = "1"

    def kill(self) -> None:
        """Stop the server abruptly (SIGKILL), as a crash would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
            _forget(self.proc.pid)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
                _forget(self.proc.pid)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class PipeWireServer(JackServer):
    """A private PipeWire instance (its own XDG_RUNTIME_DIR) whose JACK library
    (`pw-jack`) the tests' clients use instead of libjack: the same live checks
    on the JACK API modern desktops actually run. The graph runs at 48 kHz with a
    64-frame quantum, driven by PipeWire's dummy driver."""

    # where pw-jack points LD_LIBRARY_PATH (/usr/${LIB}/pipewire-0.3/jack)
    JACK_LIB = next(iter(sorted(glob.glob("/usr/lib/*/pipewire-0.3/jack"))), "")

    def __init__(self, runtime_dir: str):
        super().__init__(name="pipewire")
        self.runtime_dir = runtime_dir

    @staticmethod
    def available() -> bool:
        return shutil.which("pipewire") is not None and bool(PipeWireServer.JACK_LIB)

    def env(self) -> dict:
        return dict(os.environ, XDG_RUNTIME_DIR=self.runtime_dir,
                    LD_LIBRARY_PATH=self.JACK_LIB, PIPEWIRE_QUANTUM="64/48000",
                    UPLIFT_TEST_JACK="pipewire", JACK_NO_START_SERVER="1")

    def start(self, timeout: float = 10.0) -> PipeWireServer:
        os.makedirs(self.runtime_dir, mode=0o700, exist_ok=True)
        # its log goes to a file: a pipe nobody reads fills, and then PipeWire (and
        # with it the whole graph) blocks on its next log line
        self.log = os.path.join(self.runtime_dir, "pipewire.log")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(["pipewire"], env=self.env(), stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                with open(self.log, errors="replace") as f:
                    out = f.read()
                raise RuntimeError(f"pipewire exited: {out.strip()[-500:]}")
            if os.path.exists(os.path.join(self.runtime_dir, "pipewire-0")):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("pipewire did not come up in time")
