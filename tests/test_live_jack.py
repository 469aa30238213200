"""Uplift live on a real JACK server (`jackd -d dummy -r 48000 -p 64`, tests/jackserver.py).

Real clients, real ports: test harness clients (jack-client, Python callbacks:
they are the measuring instruments, not the product) play into Uplift's inputs
and record its outputs with JACK frame times, so delays are exact.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import threading
import time

import jack
import numpy as np
import pytest
from jackserver import JackServer

from app.hosts import cycle as C
from app.hosts import jack as J
from app.session.live import LiveError, LiveSession

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SR, BS = 48000, 64


def _xrun_compare():
    spec = importlib.util.spec_from_file_location("xrun_compare",
                                                  os.path.join(ROOT, "scripts", "xrun_compare.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Harness:
    """A player client (out_1, out_2) and a recorder client (in_1, in_2, ref_1) whose
    Python callbacks write/record with absolute JACK frame times."""

    def __init__(self, source):
        self.source = source            # f(first_frame, nframes) -> (n, 2) float32 or None
        self.player = jack.Client("t-player", no_start_server=True)
        self.rec = jack.Client("t-rec", no_start_server=True)
        self.po = [self.player.outports.register(f"out_{k + 1}") for k in range(2)]
        self.ri = [self.rec.inports.register(f"in_{k + 1}") for k in range(2)]
        self.ref = self.rec.inports.register("ref_1")
        self.blocks = []                # (frame, in_1, in_2, ref_1)
        self.recording = False

        @self.player.set_process_callback
        def play(n):
            L = self.player.last_frame_time
            x = self.source(L, n)
            for k in range(2):
                b = self.po[k].get_array()
                b[:] = 0.0 if x is None else x[:, k]

        @self.rec.set_process_callback
        def record(n):
            if self.recording:
                self.blocks.append((self.rec.last_frame_time, self.ri[0].get_array().copy(),
                                    self.ri[1].get_array().copy(), self.ref.get_array().copy()))

        self.player.activate()
        self.rec.activate()

    def wire(self, client="uplift"):
        for k in range(2):
            self.player.connect(f"t-player:out_{k + 1}", f"{client}:in_{k + 1}")
            self.rec.connect(f"{client}:out_{k + 1}", f"t-rec:in_{k + 1}")
        self.player.connect("t-player:out_1", "t-rec:ref_1")

    def record(self, seconds):
        self.blocks.clear()
        self.recording = True
        time.sleep(seconds)
        self.recording = False
        return self.timeline()

    def timeline(self):
        """(frames, out_1, out_2, ref_1) over the recorded span; gaps (a harness cycle
        that missed its deadline) are NaN."""
        time.sleep(0.05)                 # let a callback that already started finish
        blocks = sorted(list(self.blocks), key=lambda b: b[0])
        f0 = blocks[0][0]
        n = max(L + len(a) for L, a, _, _ in blocks) - f0
        arr = np.full((4, n), np.nan)
        arr[0] = np.arange(f0, f0 + n)
        for L, a, b, r in blocks:
            i = L - f0
            arr[1, i:i + len(a)] = a
            arr[2, i:i + len(a)] = b
            arr[3, i:i + len(a)] = r
        return arr

    def close(self):
        for c in (self.player, self.rec):
            try:
                c.deactivate()
                c.close()
            except Exception:
                pass


def _impulses(every=2048, offset=10, amp=(0.5, 0.25)):
    def src(L, n):
        x = np.zeros((n, 2), np.float32)
        for i in range(n):
            if (L + i) % every == offset:
                x[i] = amp
        return x
    return src


def _ports(client_name):
    probe = jack.Client("t-probe", no_start_server=True)
    try:
        return {p.name: [c.name for c in probe.get_all_connections(p)]
                for p in probe.get_ports(f"{client_name}:")}
    finally:
        probe.close()


def test_ports_gain_and_latency_exact(jack_server):
    gain_db = -6.0
    s = LiveSession(backend="jack", no_connect=True, sidechain=True,
                    engine_values={"mix": 0.0, "output_gain": gain_db, "lookahead": 1.0})
    s.start()
    h = None
    try:
        ports = _ports("uplift")
        assert set(ports) == {f"uplift:{p}" for p in ("in_1", "in_2", "sc_1", "sc_2", "out_1",
                                                      "out_2", "midi_in", "midi_out")}
        assert all(not c for c in ports.values()), "no_connect=True must leave the ports unwired"
        lat = s.latency_samples
        assert lat == s.engine.latency_samples and lat >= 48     # 1 ms lookahead at least
        assert s.io_latency_samples == lat                       # nothing wired: no I/O buffers
        h = Harness(_impulses())
        h.wire()
        time.sleep(0.3)
        tl = h.record(0.8)
        frames, o1, o2, ref = tl
        hits = np.flatnonzero(ref > 0.4)
        g = 10 ** (gain_db / 20)
        checked = 0
        for i in hits:
            j = i + lat
            if j >= len(frames) or np.isnan(o1[j]):
                continue
            assert o1[j] == pytest.approx(0.5 * g, rel=1e-6)
            assert o2[j] == pytest.approx(0.25 * g, rel=1e-6)
            # nothing else in the neighbourhood: the impulse arrives exactly `lat` later
            win = slice(max(0, i - 64), min(len(frames), i + lat + 64))
            nz = [k for k in np.flatnonzero(np.nan_to_num(np.abs(o1[win])) > 1e-7)]
            assert [k + win.start for k in nz] == [j]
            checked += 1
        assert checked >= 5
        meters = s.meters()
        assert meters["callbacks"] > 0 and meters["xruns"] >= 0 and 0 <= meters["load"] < 1
        assert meters["latency_samples"] == lat
    finally:
        if h:
            h.close()
        s.stop()


def test_round_trip_through_one_client_is_latency_plus_one_period(jack_server):
    """A single client that sends into Uplift and reads Uplift's output closes a loop;
    JACK breaks it with one period, so the impulse returns engine latency + 1 period later."""
    s = LiveSession(backend="jack", no_connect=True, engine_values={"mix": 0.0, "lookahead": 0.5})
    s.start()
    c = jack.Client("t-loop", no_start_server=True)
    o = c.outports.register("out")
    i = c.inports.register("in")
    st = {"armed": False, "sent": None, "got": None}

    @c.set_process_callback
    def proc(n):
        L = c.last_frame_time
        ob = o.get_array()
        ob[:] = 0.0
        if st["armed"] and st["sent"] is None:
            ob[5] = 1.0
            st["sent"] = L + 5
        k = np.flatnonzero(i.get_array() > 0.5)
        if len(k) and st["got"] is None and st["sent"] is not None:
            st["got"] = L + int(k[0])

    try:
        c.activate()
        c.connect("t-loop:out", "uplift:in_1")
        c.connect("uplift:out_1", "t-loop:in")
        time.sleep(0.3)
        st["armed"] = True
        deadline = time.monotonic() + 3
        while st["got"] is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert st["got"] is not None
        print(f"\nround trip: {st['got'] - st['sent']} samples = engine {s.latency_samples} + "
              f"one period {BS}")
        assert st["got"] - st["sent"] == s.latency_samples + BS
    finally:
        c.deactivate()
        c.close()
        s.stop()


def test_default_wiring_and_io_latency(jack_server):
    """Default: system capture -> in_k, out_k -> system playback; the reported I/O latency
    adds the port latency ranges: for the dummy backend capture = 1 period, playback =
    2 periods (JACK2's asynchronous mode), so total = engine + 3 x 64."""
    s = LiveSession(backend="jack", client_name="uplift-io")
    s.start()
    try:
        ports = _ports("uplift-io")
        assert ports["uplift-io:in_1"] == ["system:capture_1"]
        assert ports["uplift-io:in_2"] == ["system:capture_2"]
        assert ports["uplift-io:out_1"] == ["system:playback_1"]
        assert ports["uplift-io:out_2"] == ["system:playback_2"]
        cap = s._client.latency_range("system:capture_1", J.JackCaptureLatency)[1]
        play = s._client.latency_range("system:playback_1", J.JackPlaybackLatency)[1]
        assert (cap, play) == (BS, 2 * BS)
        assert s.io_latency_samples == s.latency_samples + cap + play == s.latency_samples + 3 * BS
        st = s.stats()
        assert st["samplerate"] == SR and st["blocksize"] == BS
    finally:
        s.stop()


def test_parameter_reaches_audio_within_one_block(jack_server):
    """A set() lands in the first callback that starts after it returns, in its first
    control segment. The bounds are JACK's cycle-start frames read before and after the
    set (jack_last_frame_time), not its wall-clock estimate of "now": after a VM stall
    that estimate runs ahead of the cycles actually processed (one CI run read it
    ~2,000 frames late)."""
    s = LiveSession(backend="jack", no_connect=True, engine_values={"mix": 0.0})
    s.start()
    h = Harness(lambda L, n: np.full((n, 2), 0.5, np.float32))
    try:
        h.wire()
        time.sleep(0.4)
        h.blocks.clear()
        h.recording = True
        time.sleep(0.2)
        t0 = h.rec.last_frame_time          # a cycle that began before the set
        s.set("output_gain", -20.0)
        t1 = h.rec.last_frame_time          # the cycle under way when set() returned
        time.sleep(0.5)
        h.recording = False
        frames, o1, _, _ = h.timeline()
        # the cycle before t0 may still have been running when set() was called
        before = frames < t0 - BS
        assert np.nanmax(np.abs(o1[before] - 0.5)) < 1e-6        # steady before the change
        changed = frames[np.nan_to_num(np.abs(o1 - 0.5), nan=0.0) > 1e-4]
        first = int(changed[0])
        print(f"\nset between cycles {t0} and {t1}, first changed output frame {first} "
              f"(+{first - t1} frames after the later cycle's start)")
        # the callback of cycle t1 + BS starts after set() returned and drains the ring;
        # the change lands at its first control tick (grid of 16 samples), on the
        # signal entering the ceiling limiter, which is last (after the output gain):
        # its lookahead delay D is still to come before the output
        from engine.limiter import limiter_latency
        d = int(limiter_latency(48000.0))
        assert t0 - BS + d <= first <= t1 + BS + 16 + d
        assert o1[~np.isnan(o1)][-1] == pytest.approx(0.05, rel=2e-2)   # glided to -20 dB
        assert s.get("output_gain") == -20.0
    finally:
        h.close()
        s.stop()


def test_midi_in_reaches_read_midi(jack_server):
    """Raw events on uplift:midi_in come out of read_midi() byte-exact and in order.
    (The harness is a Python client: if it misses a cycle on a loaded machine, that
    cycle's events never reach Uplift, so an attempt may be repeated.)"""
    s = LiveSession(backend="jack", no_connect=True)
    s.start()
    c = jack.Client("t-midi", no_start_server=True)
    mo = c.midi_outports.register("out")
    msgs = [bytes([0x90, 60, 100]), bytes([0xB0, 7, 99]), bytes([0xF0, 1, 2, 3, 0xF7]),
            bytes([0x80, 60, 0])]
    pending = []

    @c.set_process_callback
    def proc(n):
        mo.clear_buffer()
        batch = pending[:2]
        for k, m in enumerate(batch):
            mo.write_midi_event(k, m)
        del pending[:len(batch)]

    try:
        c.activate()
        c.connect("t-midi:out", "uplift:midi_in")
        time.sleep(0.2)
        for attempt in range(3):
            s.read_midi()
            pending.extend(msgs)
            time.sleep(0.3)
            got = s.read_midi()
            if got == msgs:
                break
            print(f"\nattempt {attempt}: got {got} (xruns so far {s.stats()['xruns']})")
        assert got == msgs
        assert s.read_midi() == []
    finally:
        c.deactivate()
        c.close()
        s.stop()


def test_server_killed_mid_stream_then_restart(jack_server):
    s = LiveSession(backend="jack", engine_values={"amount": 70.0})
    s.start()
    assert s.wait(0.5)
    s.set("threshold", -30.0)
    jack_server.kill()
    t = time.monotonic()
    while s.running and time.monotonic() - t < 5:
        time.sleep(0.01)
    assert not s.running, "the session must notice the server is gone"
    assert time.monotonic() - t < 2
    assert "JACK server" in s.error and "\n" not in s.error
    s.set("ratio", 6.0)                       # still settable while stopped
    with pytest.raises(LiveError, match="not running"):
        s.start()                            # no server: one clear line, no hang
    new = JackServer(name=jack_server.name).start()
    try:
        s.start()
        assert s.wait(0.5)
        st = s.stats()
        assert st["callbacks"] > 200 and st["error"] is None
        assert (s.get("amount"), s.get("threshold"), s.get("ratio")) == (70.0, -30.0, 6.0)
        assert s.engine.live
        s.stop()
        assert not s.engine.live
    finally:
        s.stop()
        new.stop()


def test_native_callback_ignores_busy_python_threads(jack_server):
    """The reason the callback is native: two Python threads spinning cost the native
    stream nothing, while the same load costs a Python-callback stream most of its
    periods (dsp.md: over 90 % lost, ~3,000 xruns in 8 s). Both are measured here.

    This machine class is a 2-core VM that stalls now and then whatever runs: an idle
    10-minute soak saw one xrun per ~20 s with steal time in /proc/stat, and one CI run
    saw bursts of 33, 5 and 11 xruns in 22, 14 and 13 s windows with no other process
    busy, while the callback's own load stayed under 12 % in the last two. Such stalls
    hit the dummy driver's clock, not the callback. So the bar is a rate, not zero:
    up to three windows are tried (a window with 0 xruns ends the search), and one must
    stay under 1 % of its periods in xruns and every window must call back all but 5 %
    of its periods, where a GIL-bound callback loses more than half. The Python stream
    measured beside it must lose at least 20 times what the native one loses, so the
    comparison itself is checked, not only the native figure."""
    xc = _xrun_compare()
    windows = []
    for seconds in (20.0, 10.0, 10.0):
        r = xc.measure_native(seconds, warmup=1.0)
        windows.append(r)
        print(("\n" if len(windows) == 1 else "") + xc.line(r))
        assert r["running"]
        assert abs(r["callbacks"] - r["expected"]) <= 0.05 * r["expected"]
        assert r["load_avg"] < 0.5
        if r["xruns"] == 0:
            break
    best = min(windows, key=lambda r: r["xruns"] / r["expected"])
    assert best["xruns"] <= 0.01 * best["expected"], "xruns above 1 % of periods in every window"
    p = xc.python_subprocess(8.0, samplerate=SR, blocksize=BS)
    print(xc.line(p))
    native_rate = best["xruns"] / best["seconds"]
    python_rate = p["xruns"] / p["seconds"]
    assert python_rate >= 20 * native_rate and python_rate > 0, (
        f"the Python callback lost {python_rate:.1f} xruns/s, the native one {native_rate:.2f}")


def _pa_has_jack():
    from app.hosts import portaudio as P
    sd = P.pa()
    ok = any("JACK" in a["name"] and a["devices"] for a in sd.query_hostapis())
    P.release()
    return ok


def test_portaudio_native_callback_through_jack_host_api(jack_server):
    if not _pa_has_jack():
        pytest.skip("this libportaudio has no JACK host API")
    s = LiveSession(backend="portaudio", blocksize=BS, engine_values={"mix": 0.0})
    s.start()
    try:
        assert "JACK" in s._pa.hostapi
        assert s.samplerate == SR
        a = s.stats()
        assert s.wait(1.0)
        b = s.stats()
        n = b["callbacks"] - a["callbacks"]
        assert 0.8 * SR / BS <= n <= 1.2 * SR / BS
        assert b["xruns"] <= 3 and b["load"] > 0         # 3: a VM stall, see the xrun test
        assert s.meters()["callbacks"] >= b["callbacks"]
        assert s.io_latency_samples >= s.latency_samples
    finally:
        s.stop()
    from app.hosts import portaudio as P
    assert P._sd._initialized == 0     # PortAudio released its JACK client before the server goes


# --- `uplift run` -------------------------------------------------------------

def _args(**kw):
    import argparse

    from app.session.run import add_run_arguments
    ap = argparse.ArgumentParser()
    add_run_arguments(ap)
    ns = ap.parse_args([])
    for k, v in kw.items():
        setattr(ns, k, v)
    return ns


def test_run_headless_jack(jack_server, capsys):
    from app.session.run import run
    rc = run(_args(headless=True, backend="jack", duration=1.5, set=["amount=55"]))
    out, err = capsys.readouterr()
    assert rc == 0
    assert "xruns" in out and "load" in out and "lat" in out
    assert "Traceback" not in err


def test_run_errors_are_one_line(capsys, monkeypatch):
    from app.session.run import run
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "uplift-no-such-server")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    assert run(_args(headless=True, backend="jack", duration=1)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not running" in err
    assert run(_args(headless=True, backend="jack", set=["amount=999"])) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "amount" in err
    assert run(_args(headless=True, backend="portaudio", device="no such device")) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("uplift: error:")


def _private_servers():
    r = subprocess.run(["pgrep", "-a", "jackd"], capture_output=True, text=True)
    return {line for line in r.stdout.splitlines() if " -n uplift-" in line
            and "uplift-test-" not in line}


def test_no_device_demo_then_ctrl_c(tmp_path):
    """No audio device (this machine): one line saying so, a private dummy jackd, the demo
    playing through Uplift (input meters move), Ctrl-C stops everything cleanly."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JACK_")}
    env["PYTHONUNBUFFERED"] = "1"
    before = _private_servers()
    # Ctrl-C as in a terminal: a job started in the background by a non-interactive
    # shell (as CI may run us) inherits SIGINT ignored, and Python then never raises
    # KeyboardInterrupt; the stack dump below showed exactly that
    p = subprocess.Popen([sys.executable, "-m", "app", "run", "--headless"], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            lines.append(line)
            if len(lines) >= 3:
                break
        assert len(lines) >= 3, "no meter lines"
        during = _private_servers() - before
        assert during, "the private JACK server should be running"
        p.send_signal(signal.SIGINT)
        try:
            out, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            # app/__main__.py dumps every thread's stack on SIGUSR1: show where it hangs
            p.send_signal(signal.SIGUSR1)
            time.sleep(1.0)
            p.kill()
            out, err = p.communicate()
            pytest.fail("no exit 30 s after Ctrl-C; stacks:\n" + err[-6000:])
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert "Traceback" not in err
    assert "no audio device" in err.splitlines()[0]
    levels = [float(ln.split()[1].split("/")[0]) for ln in lines if ln.startswith("in ")]
    assert max(levels) > -60, lines       # the demo is audible at Uplift's input
    time.sleep(0.5)
    assert not (_private_servers() - before) & during, "private server left running"


def test_port_latency_is_published_to_jack(jack_server):
    """Another real client reads Uplift's port latencies: each output's capture
    latency is its input's plus the engine's latency, each input's playback
    latency its output's plus the same; unconnected, connected, and after a
    lookahead change (re-announced)."""
    s = LiveSession(backend="jack", no_connect=True)
    s.start()
    reader = J.JackClient("t-lat")
    try:
        name = s.port_names["out_1"].split(":")[0]
        lat = s.engine.latency_samples
        assert lat > 0
        cap, play = J.JackCaptureLatency, J.JackPlaybackLatency
        assert reader.latency_range(f"{name}:out_1", cap) == (lat, lat)
        assert reader.latency_range(f"{name}:in_1", play) == (lat, lat)

        def ranges():
            return (reader.latency_range(f"{name}:out_1", cap),
                    reader.latency_range(f"{name}:in_1", play))

        def wait_for(expected):
            deadline = time.monotonic() + 5
            while ranges() != expected and time.monotonic() < deadline:
                time.sleep(0.02)
            return ranges()

        # connected to the server's own ports, where it has any (jackd's dummy
        # backend does; PipeWire's dummy driver has none)
        sys_cap, sys_play = (0, 0), (0, 0)
        if reader.physical(output=True) and reader.physical(output=False):
            sys_cap = reader.latency_range("system:capture_1", cap)
            sys_play = reader.latency_range("system:playback_1", play)
            assert sys_cap[1] > 0 and sys_play[1] > 0
            reader.connect("system:capture_1", f"{name}:in_1")
            reader.connect(f"{name}:out_1", "system:playback_1")
            assert wait_for(((sys_cap[0] + lat, sys_cap[1] + lat),
                             (sys_play[0] + lat, sys_play[1] + lat))) == \
                ((sys_cap[0] + lat, sys_cap[1] + lat), (sys_play[0] + lat, sys_play[1] + lat))
        s.set("lookahead", 3.0)
        lat3 = s.engine.latency_samples
        assert lat3 == lat + 144
        assert wait_for(((sys_cap[0] + lat3, sys_cap[1] + lat3),
                         (sys_play[0] + lat3, sys_play[1] + lat3))) == \
            ((sys_cap[0] + lat3, sys_cap[1] + lat3), (sys_play[0] + lat3, sys_play[1] + lat3))
    finally:
        reader.close()
        s.stop()


def test_midi_flood_work_per_cycle_is_bounded(jack_server):
    """The audio thread copies at most MIDI_CYCLE_BYTES of MIDI per cycle: three
    2,000-byte SysEx messages in one cycle give two, and the third is counted as
    dropped (stats), not copied."""
    assert C.MIDI_CYCLE_BYTES == 4096
    s = LiveSession(backend="jack", no_connect=True)
    s.start()
    c = jack.Client("t-flood", no_start_server=True)
    mo = c.midi_outports.register("out")
    big = [bytes([0xF0]) + bytes([k + 1]) * 1998 + bytes([0xF7]) for k in range(3)]
    pending = []

    @c.set_process_callback
    def proc(n):
        mo.clear_buffer()
        if pending:
            for k, m in enumerate(pending.pop()):
                mo.write_midi_event(k, m)

    try:
        c.activate()
        c.connect("t-flood:out", "uplift:midi_in")
        time.sleep(0.2)
        for _attempt in range(3):
            s.read_midi()
            dropped = s.stats()["midi_dropped"]
            pending.append(big)
            time.sleep(0.3)
            got = s.read_midi()
            if got:
                # the reader may have taken the cycle's first message before
                # the second was in: collect what that cycle delivered
                deadline = time.monotonic() + 2.0
                while len(got) < 2 and time.monotonic() < deadline:
                    time.sleep(0.05)
                    got += s.read_midi()
                break
        time.sleep(0.2)
        got += s.read_midi()                # nothing more: the third was dropped
        assert got == big[:2]
        assert s.stats()["midi_dropped"] == dropped + 1
    finally:
        c.deactivate()
        c.close()
        s.stop()


def test_reconnects_with_the_same_settings_and_wiring(jack_server):
    """A session made to reconnect (as `uplift run` and the GUI make it) waits for a
    killed server and comes back by itself, with the same parameters and its
    connections restored."""
    s = LiveSession(backend="jack", no_connect=True, reconnect=True,
                    engine_values={"threshold": -33.0})
    s.start()
    reader = J.JackClient("t-wire")
    try:
        n = s.port_names["in_1"].split(":")[0]
        reader.connect("system:capture_1", f"{n}:in_1")
        reader.connect(f"{n}:out_1", "system:playback_2")
        time.sleep(0.6)                     # the session notes its wiring
        reader.close(dead=False)
        s.set("ratio", 7.0)
        jack_server.kill()
        t = time.monotonic()
        while s.running and time.monotonic() - t < 5:
            time.sleep(0.01)
        assert not s.running and s.waiting
        assert "waiting for it to come back" in s.error
        new = JackServer(name=jack_server.name).start()
        try:
            t = time.monotonic()
            while not s.running and time.monotonic() - t < 10:
                time.sleep(0.05)
            assert s.running and not s.waiting and s.reconnects == 1 and s.error is None
            assert s.get("threshold") == -33.0 and s.get("ratio") == 7.0
            assert s.wait(0.5)                          # callbacks run again
            reader = J.JackClient("t-wire2")
            assert reader.latency_range(f"{n}:out_1", J.JackCaptureLatency)[1] > 0
            c = s._client
            assert c.connections("in_1") == ["system:capture_1"]
            assert c.connections("out_1") == ["system:playback_2"]
        finally:
            s.stop()
            new.stop()
    finally:
        reader.close(dead=True)
        s.stop()


def test_run_headless_waits_for_the_server_and_carries_on(jack_server, capsys):
    """`uplift run` says once that the server went away, waits, and runs on when it
    is back (duration counted as usual)."""
    from app.session.run import run
    result = {}
    t = threading.Thread(target=lambda: result.update(rc=run(_args(
        headless=True, backend="jack", duration=6.0, set=["amount=55"]))))
    t.start()
    time.sleep(1.5)
    jack_server.kill()
    time.sleep(1.0)
    new = JackServer(name=jack_server.name).start()
    try:
        t.join(30)
        assert not t.is_alive() and result["rc"] == 0
        err = capsys.readouterr().err
        assert err.count("waiting for it to come back") == 1
        assert "is back" in err and "Traceback" not in err
    finally:
        new.stop()


def test_midi_flood_costs_no_more_xruns_than_a_quiet_window(jack_server):
    """20,000 random MIDI events with SysEx up to 4,000 bytes in 10 s into
    uplift:midi_in, against a quiet 10 s window with the same flooding client
    connected but silent; xruns counted by an independent JACK client. The flood
    may not cost more than VM stalls do (the quiet window's count plus 1 % of the
    periods), the engine's own worst callback stays light, and every event is
    read by Python or counted as dropped."""
    s = LiveSession(backend="jack", no_connect=True)
    s.start()
    counter = jack.Client("t-xruns", no_start_server=True)
    xruns = [0]
    counter.set_xrun_callback(lambda delay: xruns.__setitem__(0, xruns[0] + 1))
    flood = jack.Client("t-flooder", no_start_server=True)
    mo = flood.midi_outports.register("out")
    rng = np.random.default_rng(9)
    events = []
    for k in range(20000):
        if k % 50 == 0:
            n = int(rng.integers(100, 4000))
            events.append(bytes([0xF0]) + bytes(rng.integers(0, 128, n).astype(np.uint8)) + b"\xf7")
        else:
            events.append(bytes([0x90 | int(rng.integers(16)), int(rng.integers(128)),
                                 int(rng.integers(1, 128))]))
    periods = int(10 * SR / BS)
    per_cycle = -(-len(events) // periods)
    state = {"on": False, "next": 0}

    @flood.set_process_callback
    def proc(n):
        mo.clear_buffer()
        if state["on"]:
            i = state["next"]
            for k, e in enumerate(events[i:i + per_cycle]):
                try:
                    mo.write_midi_event(min(k, n - 1), e)
                except jack.JackError:
                    break           # the port's buffer is full this cycle
            state["next"] = i + per_cycle

    try:
        counter.activate()
        flood.activate()
        flood.connect("t-flooder:out", "uplift:midi_in")
        time.sleep(0.5)
        stop_reading = threading.Event()
        received = [0]

        def read():
            while not stop_reading.is_set():
                got = s.read_midi()
                received[0] += len(got)
                if not got:
                    time.sleep(0.01)
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        for _attempt in range(2):
            x0 = xruns[0]
            time.sleep(10.0)
            quiet = xruns[0] - x0
            dropped0 = s.stats()["midi_dropped"]
            received0 = received[0]
            # the worst callback of the flood window alone (a benign race with the
            # audio thread's own store: a test-only reset)
            s._host.fstats[C.FS_LOAD_MAX] = 0.0
            x1 = xruns[0]
            state["next"] = 0
            state["on"] = True
            time.sleep(10.0)
            state["on"] = False
            flooded = xruns[0] - x1
            worst = s.stats()["load_max"]
            time.sleep(0.3)
            got = received[0] - received0
            dropped = s.stats()["midi_dropped"] - dropped0
            print(f"\nxruns: quiet window {quiet}, flood {flooded} ({state['next']} events "
                  f"sent); Uplift's worst callback {worst * 100:.0f} %, received {got}, "
                  f"dropped {dropped}")
            if worst < 0.5:
                break
            # one callback held up longer than half a period: a VM stall (the
            # copying is bounded at 4 KB per cycle) or the flood; measure again
        assert state["next"] >= 20000
        assert flooded <= quiet + 0.01 * periods
        assert worst < 0.5
        # every event the flooder wrote was read or counted as dropped (a JACK port
        # buffer that was full on the flooder's side held back some)
        assert 0.9 * 20000 <= got + dropped <= state["next"]
        stop_reading.set()
    finally:
        flood.deactivate()
        flood.close()
        counter.deactivate()
        counter.close()
        s.stop()


def test_native_player_feeds_the_engine(jack_server):
    """Audio through the engine between native clients only (no Python callback
    anywhere): the demo player's signal reaches Uplift, whose meters see it in and
    out and whose callbacks run every period."""
    s = LiveSession(backend="jack", no_connect=True)
    s.start()
    t = np.arange(SR) / SR
    player = J.NativePlayer((0.25 * np.sin(2 * np.pi * 440 * t)).astype(np.float32),
                            name="t-player")
    try:
        n = s.port_names["in_1"].split(":")[0]
        player.start([f"{n}:in_1", f"{n}:in_2"])
        assert s.wait(1.0)
        m = s.meters()
        assert -14 < max(m["in_peak_db"]) < -11          # 0.25 = -12 dBFS
        assert max(m["out_peak_db"]) > -30
        st = s.stats()
        assert st["callbacks"] > 0.8 * SR / st["blocksize"] * 1.0 and st["load_max"] < 0.5
    finally:
        player.close()
        s.stop()
