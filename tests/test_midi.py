"""MIDI control (issue 6): parser, learn, 14-bit, soft takeover, persistence,
and the same over a real JACK MIDI transport into a real Engine."""
from __future__ import annotations

import json
import random
import threading
import time
from collections import deque

import numpy as np
import pytest

from app import settings
from app.control.midi.controller import MidiController
from app.control.midi.mapping import Binding, _stepped, feedback_message
from app.control.midi.parser import MidiParser
from app.control.midi.poller import MidiPoller
from app.control.midi.ports import MidiError, list_input_ports, match_port
from app.control.midi.rtmidi_in import MidiInput
from app.control.midi.rtmidi_out import open_output
from engine.params import BY_ID, INDEX, PARAMS


@pytest.fixture(autouse=True)
def config_dir(tmp_path, monkeypatch):
    d = tmp_path / "config"
    monkeypatch.setenv("UPLIFT_CONFIG_DIR", str(d))
    return d


def cc(ch, num, val):
    return bytes([0xB0 | ch, num, val])


class Recorder:
    def __init__(self):
        self.calls = []
        self.lock = threading.Lock()

    def __call__(self, pid, value):
        with self.lock:
            self.calls.append((pid, value))

    def values(self, pid):
        with self.lock:
            return [v for k, v in self.calls if k == pid]


def pos7(p, v):
    return p.from_norm(v / 127.0)


# --- parser ------------------------------------------------------------------

def test_parser_running_status_and_realtime_interleaved():
    p = MidiParser()
    data = bytes([0xB0, 7, 10, 7, 11, 0xF8, 7, 0xFE, 12, 0x91, 60, 0xFA, 100, 61, 0])
    assert p.feed(data) == [(0xB0, 7, 10), (0xB0, 7, 11), (0xB0, 7, 12),
                            (0x91, 60, 100), (0x91, 61, 0)]


def test_parser_sysex_skipped_and_ended_by_status():
    p = MidiParser()
    # complete SysEx with realtime inside; then an unterminated one cut by a CC
    data = bytes([0xF0, 0x7E, 0xB0, 0x01]) + bytes([0xF7, 0xB2, 1, 2, 0xF0, 5, 6, 7, 0xB3, 4, 5])
    # 0xB0 inside the first SysEx is a status byte: it ends the SysEx and starts a CC
    assert p.feed(data) == [(0xB2, 1, 2), (0xB3, 4, 5)]   # the CC cut by 0xF7 is dropped
    p = MidiParser()
    assert p.feed(bytes([0xF0, 1, 2, 3, 0xF8, 4, 0xF7, 0xB2, 1, 2])) == [(0xB2, 1, 2)]
    assert p.feed(bytes([0xF0, 5, 6, 7, 0xB3, 4, 5])) == [(0xB3, 4, 5)]
    assert p.feed(bytes([0xF0, 1, 2])) == []
    assert p.feed(bytes([3, 4, 0xF7, 9, 9])) == []        # SysEx across calls, then stray data


def test_parser_truncated_stray_and_system_common():
    p = MidiParser()
    assert p.feed(bytes([5, 6, 0x7F])) == []                       # stray data, no status yet
    assert p.feed(bytes([0xB0, 7, 0xB0, 8, 9])) == [(0xB0, 8, 9)]  # truncated CC dropped
    assert p.feed(bytes([0xF2, 1, 2, 3, 4])) == []      # song position, then no running status
    assert p.feed(bytes([0xC5, 3, 4])) == [(0xC5, 3, 0), (0xC5, 4, 0)]
    assert p.feed(bytes([0xF7, 1, 2])) == [(0xC5, 1, 0), (0xC5, 2, 0)]  # stray EOX keeps nothing
    assert p.feed(bytes([0xF6, 1])) == []               # tune request clears running status


def test_parser_event_mode_drops_partial():
    p = MidiParser()
    assert p.feed(bytes([0xB0, 7])) == []
    p.end_event()
    assert p.feed(bytes([64])) == []


def test_parser_never_raises_on_odd_input():
    p = MidiParser()
    for junk in (None, 3.5, "text", [0xB0, 7, 300, -1, 9, "x", None, 10], [[1, 2]],
                 {"a": 1}, object(), memoryview(b"\xb0\x07\x08"), bytearray(b"\xb0\x07"),
                 iter([0xB0, 1, 2]), True, 0x90):
        p.feed(junk)
    rng = random.Random(1)
    for _ in range(200):
        p.feed(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 500))))
    # still parses correctly afterwards
    p.reset()
    assert p.feed([0xB0, 7, 300, 9]) == [(0xB0, 7, 9)]    # out-of-range int ignored


# --- controller ----------------------------------------------------------------

def make(values=None, persist=False):
    rec = Recorder()
    changes = Recorder()
    c = MidiController(setter=rec, on_change=changes, values=values, persist=persist)
    return c, rec, changes


def test_learn_binds_next_cc_cancel_and_forget():
    c, rec, changes = make()
    learned = []
    c.on_learned = lambda *a: learned.append(a)
    c.learn("mix")
    assert c.learning == "mix"
    c.cancel_learn()
    c.feed(cc(0, 20, 5))
    assert c.binding("mix") is None and not rec.calls
    c.learn("mix")
    c.feed(cc(3, 20, 127))                 # binds, does not jump
    assert learned == [("mix", 3, 20)] and c.learning is None
    assert c.binding("mix") == (3, 20)
    assert rec.calls == []
    c.feed(cc(3, 20, 126))                 # it was at 100 % when learned: takes over
    c.feed(cc(3, 20, 127))
    c.feed(cc(3, 20, 0))
    assert rec.values("mix") == [pos7(BY_ID["mix"], 126), 100.0, 0.0]
    assert changes.calls == rec.calls
    # re-learning another param on the same CC moves the binding
    c.learn("amount")
    c.feed(cc(3, 20, 64))
    assert c.binding("amount") == (3, 20) and c.binding("mix") is None
    assert c.forget("amount") is True and c.forget("amount") is False
    n = len(rec.calls)
    c.feed(cc(3, 20, 0))
    c.feed(cc(3, 20, 127))
    assert len(rec.calls) == n
    with pytest.raises(KeyError):
        c.learn("no_such_param")


def test_full_range_through_taper_and_stepped_enums():
    c, rec, _ = make()
    for pid, ccn in (("attack", 1), ("gate_hold", 2), ("detector", 3), ("bypass", 4),
                     ("threshold", 5)):
        c.bind(pid, 0, ccn)
    # log taper: sweep engages at the current value, ends exactly at the extremes
    for v in list(range(0, 128)) + [0, 64]:
        c.feed(cc(0, 1, v))
    att = BY_ID["attack"]
    vals = rec.values("attack")
    assert vals[0] == pytest.approx(10.0, rel=0.03)          # engaged where it met 10 ms
    assert vals[-3] == att.max and vals[-2] == att.min
    assert all(att.min <= v <= att.max for v in vals)
    assert vals[-1] == pytest.approx(att.min * (att.max / att.min) ** (64 / 127))
    # enums and bools step, no takeover needed
    c.feed(cc(0, 3, 127))
    c.feed(cc(0, 3, 10))
    c.feed(cc(0, 4, 100))
    assert rec.values("detector") == [1.0, 0.0]
    assert rec.values("bypass") == [1.0]
    # values always validate against the table
    for pid, v in rec.calls:
        assert BY_ID[pid].validate(v) == v


def test_soft_takeover_cross_and_meet_after_mouse_and_preset():
    c, rec, _ = make()
    c.bind("amount", 0, 20)
    p = BY_ID["amount"]
    c.feed(cc(0, 20, 100))          # amount is 30 %: no jump
    c.feed(cc(0, 20, 90))
    assert rec.calls == []
    c.feed(cc(0, 20, 20))           # crossed 30 % on the way down: takes over
    assert rec.values("amount") == [pos7(p, 20)]
    c.feed(cc(0, 20, 21))
    assert rec.values("amount")[-1] == pos7(p, 21)
    # the mouse moves the knob to 80 %: the controller lets go
    c.notify("amount", 80.0)
    for v in (30, 40, 90):
        c.feed(cc(0, 20, v))
    assert rec.values("amount") == [pos7(p, 20), pos7(p, 21)]
    c.feed(cc(0, 20, 110))          # 90 -> 110 passes 80 %
    assert rec.values("amount") == [pos7(p, 20), pos7(p, 21), pos7(p, 110)]
    # an echo of our own change (the GUI reflecting on_change) does not let go
    c.notify("amount", pos7(p, 21))
    c.feed(cc(0, 20, 91))
    assert rec.values("amount")[-1] == pos7(p, 91)
    # a preset load: meets the value exactly -> takes over without a jump
    c.notify_values({"amount": 50.0, "detector": "rms"})
    c.feed(cc(0, 20, 120))
    c.feed(cc(0, 20, 110))
    assert rec.values("amount")[-1] == pos7(p, 91)
    c.notify("amount", pos7(p, 64))
    c.feed(cc(0, 20, 64))           # meets: takes over (nothing to send)
    c.feed(cc(0, 20, 65))
    assert rec.values("amount")[-2:] == [pos7(p, 91), pos7(p, 65)]
    assert c.value("amount") == pos7(p, 65)


def test_14_bit_pairs_recognised_and_mapped():
    c, rec, _ = make()
    c.learn("threshold")
    c.feed(cc(1, 7, 0))                        # MSB learned
    c.feed(cc(1, 39, 0))                       # its LSB: the pair is 14-bit from now on
    assert c.is_fine("threshold")
    p = BY_ID["threshold"]
    for msb, lsb in ((127, 127), (100, 37), (100, 38)):
        c.feed(cc(1, 7, msb) + cc(1, 39, lsb))
    vals = rec.values("threshold")
    assert vals[-3] == 0.0                     # crossed -18 dBFS on the way up: takes over
    assert vals[-2] == pytest.approx(p.from_norm((100 * 128 + 37) / 16383), abs=1e-12)
    assert vals[-1] - vals[-2] == pytest.approx(60 / 16383)   # one 14-bit step
    # LSB only (the MSB did not change) refines
    c.feed(cc(1, 39, 40))
    assert rec.values("threshold")[-1] == pytest.approx(p.from_norm((100 * 128 + 40) / 16383))
    # a controller back in 7-bit mode (MSBs only) still works
    c.feed(cc(1, 7, 90))
    c.feed(cc(1, 7, 91))
    assert rec.values("threshold")[-1] == pos7(p, 91) and not c.is_fine("threshold")
    # learn skips the LSB half of a pair and binds the MSB
    c2, _, _ = make()
    c2.feed(cc(2, 8, 1))
    c2.learn("ratio")
    c2.feed(cc(2, 40, 5))       # the LSB of the CC 8 just seen: skipped
    c2.feed(cc(2, 8, 2))
    assert c2.binding("ratio") == (2, 8)


def test_callback_errors_never_escape():
    def boom(*a):
        raise RuntimeError("ring full")
    c = MidiController(setter=boom, on_change=boom, persist=False)
    c.bind("bypass", 0, 1)
    assert c.feed(cc(0, 1, 127)) == 0
    assert c.stats["callback_errors"] == 1


def test_channel_mode_messages_not_learnable():
    c, rec, _ = make()
    c.learn("mix")
    c.feed(cc(0, 123, 0))       # all notes off
    assert c.learning == "mix"
    c.feed(cc(0, 1, 0))
    assert c.binding("mix") == (0, 1)


def test_mappings_persist_atomically_and_reload(config_dir):
    config_dir.mkdir(parents=True)
    (config_dir / "settings.json").write_text(json.dumps({"device": "hw:1", "midi": []}))
    c, _, _ = make(persist=True)
    c.learn("amount")
    c.feed(cc(0, 21, 3))
    c.bind("threshold", 15, 7, fine=True)
    saved = json.loads((config_dir / "settings.json").read_text())
    assert saved["device"] == "hw:1"
    assert saved["midi"] == [
        {"param": "amount", "channel": 1, "cc": 21, "resolution": 7},
        {"param": "threshold", "channel": 16, "cc": 7, "resolution": 14},
    ]
    assert sorted(f.name for f in config_dir.iterdir()) == [settings.LOCK_FILE, "settings.json"]  # no temp
    c2, rec, _ = make(persist=True)
    assert c2.binding("amount") == (0, 21) and c2.is_fine("threshold")
    c2.forget("amount")
    c3, _, _ = make(persist=True)
    assert c3.binding("amount") is None and c3.binding("threshold") == (15, 7)


def test_bad_mappings_skipped_and_corrupt_settings_not_clobbered(config_dir):
    config_dir.mkdir(parents=True)
    path = config_dir / "settings.json"
    path.write_text(json.dumps({"midi": [
        {"param": "amount", "channel": 1, "cc": 21},
        {"param": "nope", "channel": 1, "cc": 22},
        {"param": "mix", "channel": 0, "cc": 22},
        {"param": "mix", "channel": 1, "cc": 200},
        "junk"]}))
    c, _, _ = make(persist=True)
    assert c.binding("amount") == (0, 21) and c.binding("mix") is None
    assert len(c.load_errors) == 4
    assert all("settings.json" in e and "midi[" in e for e in c.load_errors)
    path.write_text('{"midi": [')                    # truncated by hand
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    c, _, _ = make(persist=True)
    assert c.load_errors and "settings.json" in c.load_errors[0]
    c.bind("mix", 0, 1)                              # cannot save: says so, writes nothing
    assert c.save_error and "settings.json" in c.save_error
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_poller_drains_a_callable_and_survives_errors():
    c, rec, _ = make()
    c.bind("bypass", 0, 64)
    q = deque([[cc(0, 64, 127)], [b"\xb0\x40", b"\x00"], [cc(0, 64, 0), b"\xf8"]])
    fails = {"n": 0}

    def source():
        if fails["n"] < 2:
            fails["n"] += 1
            raise RuntimeError("session not started")
        return q.popleft() if q else []

    with MidiPoller(c, source, interval=0.001) as poller:
        deadline = time.monotonic() + 5
        while len(rec.calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
    assert rec.values("bypass") == [1.0, 0.0]     # the split CC was not glued together
    assert poller.errors == 2


def test_match_port():
    ports = ["system:midi_capture_1", "nanoKONTROL2:out", "a2j:Launch Control XL [24] (capture)"]
    assert match_port("nanoKONTROL2:out", ports) == "nanoKONTROL2:out"
    assert match_port("nanokontrol2:OUT", ports) == "nanoKONTROL2:out"
    assert match_port("launch control", ports) == ports[2]
    assert match_port("nanoKONTROL2:out", ["nanoKONTROL2-01:out"]) == "nanoKONTROL2-01:out"
    assert match_port("capture", ports) is None        # ambiguous
    assert match_port("x", []) is None


def test_alsa_and_missing_server_fail_gracefully(monkeypatch):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "uplift-no-such-server")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    assert list_input_ports("jack") == []
    c, _, _ = make()
    with pytest.raises(MidiError) as e:
        MidiInput(c, api="jack").start()
    assert "JACK" in str(e.value) and "\n" not in str(e.value)
    try:
        import rtmidi
        mi = rtmidi.MidiIn(rtmidi.API_LINUX_ALSA)
        mi.delete()
        pytest.skip("this machine has an ALSA sequencer")
    except rtmidi.RtMidiError:
        pass
    assert list_input_ports("alsa") == []
    with pytest.raises(MidiError) as e:
        MidiInput(c, api="alsa").start()
    assert "ALSA" in str(e.value)
    with pytest.raises(MidiError):
        MidiInput(c, api="winmm")


# --- over a real JACK MIDI transport, into a real Engine -------------------------

@pytest.fixture(scope="module")
def engine_module():
    from engine import Engine
    return Engine(48000, 2)


@pytest.fixture
def eng(engine_module):
    engine_module.update({p.id: p.default for p in PARAMS})
    return engine_module


def wait_for(cond, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.002)
    raise AssertionError(f"timed out waiting for {what}")


def send_until(raw, msgs, cond, what, tries=10):
    """Send `msgs` (idempotent: the same target values) until `cond` holds. A JACK
    connection takes effect asynchronously and a cycle missed under load drops that
    cycle's events, so a single send may be lost in transit; the product is not."""
    for attempt in range(tries):
        for m in msgs:
            raw.send(m)
        raw.flush()
        try:
            wait_for(cond, timeout=1.0, what=what)
            return
        except AssertionError:
            if attempt == tries - 1:
                raise


class RtmidiSender:
    """A second real JACK MIDI client: python-rtmidi output `ctl:out`."""

    def __init__(self, name="ctl"):
        import rtmidi
        self.out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name)
        self.out.open_virtual_port("out")
        self.name = f"{name}:out"

    def send(self, *msgs, gap=0.0):
        for m in msgs:
            self.out.send_message(list(m))
            if gap:
                time.sleep(gap)

    def close(self):
        if self.out is not None:
            self.out.close_port()
            self.out.delete()
            self.out = None


class RawJackSender:
    """A JACK-Client MIDI output that writes arbitrary bytes as JACK events."""

    def __init__(self, name="raw"):
        import jack
        self.client = jack.Client(name, no_start_server=True)
        self.port = self.client.midi_outports.register("out")
        self.queue = deque()
        self.sent = 0
        self.client.set_process_callback(self._process)
        self.client.activate()
        self.name = self.port.name

    def _process(self, frames):
        self.port.clear_buffer()
        t = 0
        while self.queue and t < frames:
            self.port.write_midi_event(t, self.queue.popleft())
            self.sent += 1
            t += 1

    def send(self, data):
        self.queue.append(bytes(data))

    def flush(self, timeout=5.0):
        wait_for(lambda: not self.queue, timeout, "the raw sender to drain")

    def close(self):
        self.client.deactivate()
        self.client.close()


def check_reached_engine(eng, pid, value):
    """The value went through Engine.set into the parameter ring the audio thread drains."""
    assert eng.get(pid) == value
    eng.process(np.zeros((64, 2), np.float32))
    assert eng.state.core.p_target[INDEX[pid]] == value


def test_jack_learn_takeover_forget(jack_server, eng):
    c = MidiController(setter=eng.set, values=eng.values(), persist=False)
    sender = RtmidiSender()
    inp = MidiInput(c, port=sender.name, client_name="uplift-midi").start()
    try:
        assert inp.connected_to == "ctl:out"
        assert "ctl:out" in list_input_ports("jack")
        p = BY_ID["amount"]
        # learn: the first CC binds without changing anything
        c.learn("amount")
        sender.send(cc(0, 20, 100))
        wait_for(lambda: c.binding("amount") == (0, 20), what="learn")
        c.bind("auto_makeup", 0, 21)                 # a switch used as a sync marker

        def sync():
            # Everything sent before this marker has been handled once it lands.
            state = 0.0 if eng.get("auto_makeup") else 1.0
            sender.send(cc(0, 21, 127 if state else 0))
            wait_for(lambda: eng.get("auto_makeup") == state, what="sync")

        sync()
        assert eng.get("amount") == 30.0
        # soft takeover: 100 -> 90 does not pass 30 %; 90 -> 20 does
        sender.send(cc(0, 20, 90))
        sync()
        assert eng.get("amount") == 30.0
        sender.send(cc(0, 20, 20))
        wait_for(lambda: eng.get("amount") == pos7(p, 20), what="takeover")
        # the mouse sets 75 %: the controller waits until it passes it
        eng.set("amount", 75.0)
        c.notify("amount", 75.0)
        sender.send(cc(0, 20, 30), cc(0, 20, 60), gap=0.002)
        sync()
        assert eng.get("amount") == 75.0
        sender.send(cc(0, 20, 100))                  # 60 -> 100 (78.7 %) passed 75 %
        sync()
        assert eng.get("amount") == pos7(p, 100)
        # a preset load: the controller lets go again
        from app.presets import load_preset
        values = load_preset("Drum room")
        eng.update(values)
        c.notify_values(values)
        sender.send(cc(0, 20, 110), cc(0, 20, 120), gap=0.002)   # 86.6, 94.5 > 70 %: no
        sync()
        assert eng.get("amount") == 70.0
        sender.send(cc(0, 20, 80))                   # 63 %: crossed from above
        wait_for(lambda: eng.get("amount") == pos7(p, 80), what="takeover after preset")
        check_reached_engine(eng, "amount", pos7(p, 80))
        # forget: the CC no longer reaches the engine
        assert c.forget("amount")
        sender.send(cc(0, 20, 0), cc(0, 20, 127))
        sync()
        assert eng.get("amount") == pos7(p, 80)
    finally:
        inp.stop()
        sender.close()


def test_jack_14bit_into_virtual_port_connected_by_jack(jack_server, eng):
    import jack
    c = MidiController(setter=eng.set, values=eng.values(), persist=False)
    inp = MidiInput(c, port=None, client_name="uplift-midi", port_name="in").start()
    sender = RtmidiSender("fader")
    patch = jack.Client("patchbay", no_start_server=True)
    try:
        patch.connect("fader:out", "uplift-midi:in")
        c.bind("threshold", 2, 7)
        p = BY_ID["threshold"]
        pairs = [(0, 0), (127, 127), (100, 37)]
        for msb, lsb in pairs:
            sender.send(cc(2, 7, msb), cc(2, 39, lsb))
        want = p.from_norm((100 * 128 + 37) / 16383)
        wait_for(lambda: eng.get("threshold") == want, what="14-bit value")
        assert c.is_fine("threshold")
        # not reachable with 7 bits: the LSB really arrived over JACK
        assert all(abs(want - pos7(p, v)) > 1e-6 for v in range(128))
        check_reached_engine(eng, "threshold", want)
    finally:
        patch.close()
        inp.stop()
        sender.close()


def test_jack_persistence_round_trip(jack_server, eng, config_dir):
    sender = RtmidiSender()
    c1 = MidiController(setter=eng.set, values=eng.values(), persist=True)
    with MidiInput(c1, port="ctl:out"):
        c1.learn("ratio")
        sender.send(cc(4, 30, 1))
        wait_for(lambda: c1.binding("ratio") == (4, 30), what="learn")
    saved = json.loads((config_dir / "settings.json").read_text())
    assert saved["midi"] == [{"param": "ratio", "channel": 5, "cc": 30, "resolution": 7}]
    # a new session: the mapping is reloaded from settings.json
    c2 = MidiController(setter=eng.set, values=eng.values(), persist=True)
    assert c2.binding("ratio") == (4, 30)
    p = BY_ID["ratio"]
    with MidiInput(c2, port="ctl:out"):
        sender.send(cc(4, 30, 0), cc(4, 30, 127), cc(4, 30, 77), gap=0.002)
        wait_for(lambda: eng.get("ratio") == pos7(p, 77), what="reloaded mapping")
    check_reached_engine(eng, "ratio", pos7(p, 77))
    sender.close()


def test_jack_garbage_burst_ignored(jack_server, eng):
    rec = Recorder()

    def setter(pid, value):
        rec(pid, value)
        eng.set(pid, value)

    c = MidiController(setter=setter, values=eng.values(), persist=False)
    c.bind("amount", 0, 20)
    c.bind("auto_makeup", 0, 21)
    raw = RawJackSender()
    inp = MidiInput(c, port=raw.name).start()
    try:
        assert inp.connected_to == raw.name
        p = BY_ID["amount"]
        send_until(raw, [cc(0, 20, 38)],             # meets 30 % (29.9): engaged
                   lambda: eng.get("amount") == pos7(p, 38), "engage")
        rec.calls.clear()
        rng = random.Random(6)
        no_cc = [b for b in range(256) if not 0xB0 <= b <= 0xBF]
        deliberate = [
            b"\xb0\x14",                  # truncated CC to the bound controller
            b"\x14\x7f", b"\x00",         # stray data bytes
            b"\xf0\x01\x02\x03",          # unterminated SysEx
            b"\xf0" + bytes(range(100)) + b"\xf7",
            b"\xf7", b"\xf8\xfa\xfc\xfe\xff",
            b"\xf2\x01", b"\xf3", b"\xf1",
            b"\x90\x3c\x64\x80\x3c",      # note on, truncated note off
            bytes([0xB0, 0x14]) + b"\xf0\x7f\xf7",   # CC cut by a SysEx
            b"\xe0\x00", b"\xc0", b"\xb0\x7b\x00",   # channel mode (all notes off)
            b"\xb5\x14\x40",              # the bound CC number, another channel
        ]
        for i in range(600):
            if i % 20 == 0:
                raw.send(deliberate[(i // 20) % len(deliberate)])
            else:
                raw.send(bytes(rng.choice(no_cc) for _ in range(rng.randrange(1, 48))))
        send_until(raw, [cc(0, 21, 127)],            # sync marker, after all of it
                   lambda: eng.get("auto_makeup") == 1.0, "sync after garbage")
        assert rec.values("amount") == [] and eng.get("amount") == pos7(p, 38)
        # messy but valid: realtime bytes inside, running status. A cycle the
        # Python sender misses under load loses its events, so an attempt whose
        # sync marker never arrives is made again (each attempt sets the same
        # two values, so the record of a delivered one is exact)
        for attempt in range(5):
            send_until(raw, [cc(0, 21, 127)], lambda: eng.get("auto_makeup") == 1.0, "reset")
            rec.calls.clear()
            raw.send(b"\xb0\xf8\x14\xfe\x32\x14\x33")
            raw.send(cc(0, 21, 0))
            try:
                wait_for(lambda: eng.get("auto_makeup") == 0.0, timeout=2.0, what="sync")
                break
            except AssertionError:
                if attempt == 4:
                    raise
        assert rec.values("amount") == [pos7(p, 0x32), pos7(p, 0x33)]
        check_reached_engine(eng, "amount", pos7(p, 0x33))
        assert inp._thread.is_alive() and c.stats["messages"] > 0
    finally:
        inp.stop()
        raw.close()


def test_jack_device_disappears_and_returns(jack_server, eng):
    c = MidiController(setter=eng.set, values=eng.values(), persist=False)
    c.bind("bypass", 0, 1)
    sender = RtmidiSender("pad")
    inp = MidiInput(c, port="pad:out", poll_interval=0.05).start()
    try:
        sender.send(cc(0, 1, 127))
        wait_for(lambda: eng.get("bypass") == 1.0, what="first device")
        sender.close()
        wait_for(lambda: inp.connected_to is None, what="disappearance noticed")
        assert "waiting" in inp.status
        sender = RtmidiSender("pad")
        wait_for(lambda: inp.connected_to == "pad:out", what="reconnect")
        sender.send(cc(0, 1, 0))
        wait_for(lambda: eng.get("bypass") == 0.0, what="value after reconnect")
    finally:
        inp.stop()
        sender.close()


def test_jack_native_midi_in_through_live_session(jack_server):
    """The native JACK client's CLIENT:midi_in -> LiveSession.read_midi -> MidiPoller ->
    session.set -> the lock-free ring the running audio callback drains."""
    import jack

    from app.session.live import LiveSession
    s = LiveSession(backend="jack", blocksize=64, channels=2, client_name="uplift",
                    no_connect=True).start()
    raw = RawJackSender("keys")
    patch = jack.Client("patchbay", no_start_server=True)
    c = MidiController(setter=s.set, values=s.values(), persist=False)
    c.bind("release", 9, 74)
    poller = MidiPoller(c, s.read_midi, interval=0.002).start()
    try:
        patch.connect(raw.name, "uplift:midi_in")
        p = BY_ID["release"]
        want = pos7(p, 33)
        # garbage first, then a sweep whose crossing engages soft takeover
        send_until(raw, [b"\xf0\x00\x01", b"\x4a\x10"] + [cc(9, 74, v) for v in (0, 127, 33)],
                   lambda: s.get("release") == want, "value through CLIENT:midi_in")
        idx = INDEX["release"]
        wait_for(lambda: s.engine.state.core.p_target[idx] == want,
                 what="the audio callback to drain the ring")
        assert s.stats()["callbacks"] > 0
    finally:
        poller.stop()
        patch.close()
        raw.close()
        s.stop()


def test_unrelated_cc_numbered_n_plus_32_is_not_an_lsb():
    c, rec, _ = make()
    c.bind("mix", 0, 7)
    c.feed(cc(0, 7, 127))                      # meets 100 %
    c.feed(cc(0, 10, 1) + cc(0, 39, 64))       # CC 39 not right after CC 7: another knob
    assert not c.is_fine("mix")
    c.feed(cc(0, 7, 100))
    assert rec.values("mix")[-1] == pos7(BY_ID["mix"], 100)


# --- feedback (issue 15) --------------------------------------------------------

def test_feedback_messages_invert_the_input_mapping():
    """What goes out puts the controller where input maps back to the same value:
    7-bit within one step, 14-bit pairs (MSB on n, LSB on n + 32) within one fine
    step, stepped parameters exactly (0 and 127 at the ends)."""
    for pid in ("amount", "release", "threshold"):
        p = BY_ID[pid]
        for v in (p.min, p.default, p.max, p.from_norm(0.37)):
            b7 = Binding(pid, 3, 21)
            m = feedback_message(b7, p, v)
            assert m[:2] == bytes([0xB3, 21]) and len(m) == 3
            assert abs(m[2] / 127 - p.to_norm(v)) <= 0.5 / 127 + 1e-12
            b14 = Binding(pid, 0, 7, fine=True)
            m = feedback_message(b14, p, v)
            assert len(m) == 6 and m[0] == m[3] == 0xB0 and (m[1], m[4]) == (7, 39)
            assert abs(((m[2] << 7) | m[5]) / 16383 - p.to_norm(v)) <= 0.5 / 16383 + 1e-12
    for pid in ("bypass", "detector", "topology"):
        p = BY_ID[pid]
        n = 2 if p.kind == "bool" else len(p.choices)
        for k in range(n):
            m = feedback_message(Binding(pid, 0, 80), p, float(k))
            assert _stepped(p, m[2] / 127.0) == k
        assert feedback_message(Binding(pid, 0, 80), p, float(n - 1))[2] == 127


def test_feedback_goes_out_for_changes_from_elsewhere_not_for_its_own():
    c, rec, _ = make()
    c.bind("amount", 0, 21)
    c.bind("release", 1, 5, fine=True)
    c.bind("bypass", 0, 80)
    out = []
    c.add_output(out.append)
    # attaching an output sends every bound value (faders and rings show the truth)
    assert sorted(out) == sorted(feedback_message(c._by_param[k], BY_ID[k], c.value(k))
                                 for k in ("amount", "release", "bypass"))
    out.clear()
    c.notify("amount", 80.0)                         # the mouse, a preset, OSC ...
    c.notify("bypass", 1.0)
    c.notify("release", 300.0)
    p = BY_ID["release"]
    assert out[0] == bytes([0xB0, 21, round(BY_ID["amount"].to_norm(80.0) * 127)])
    assert out[1] == bytes([0xB0, 80, 127])
    v14 = round(p.to_norm(300.0) * 16383)
    assert out[2] == bytes([0xB1, 5, v14 >> 7, 0xB1, 37, v14 & 127])
    c.notify("amount", 80.0)                         # unchanged: nothing
    c.notify("mix", 50.0)                            # not bound: nothing
    assert len(out) == 3
    # the controller's own moves are not echoed back, also when the GUI reflects them
    out.clear()
    a = BY_ID["amount"]
    c.feed(cc(0, 21, round(a.to_norm(80.0) * 127)))  # meets the value: engaged
    c.feed(cc(0, 21, 90))
    assert rec.values("amount") and rec.values("amount")[-1] == pos7(a, 90)
    c.notify("amount", pos7(a, 90))                  # the GUI's echo
    assert out == []
    # a learn sends the learned parameter's value to the controller at once
    c.learn("mix")
    c.feed(cc(2, 30, 5))
    assert out == [bytes([0xB2, 30, round(BY_ID["mix"].to_norm(c.value("mix")) * 127)])]


def test_feedback_output_errors_are_contained():
    c, _, _ = make()
    c.bind("amount", 0, 21)

    def broken(msg):
        raise OSError("gone")
    out = []
    c.add_output(broken)
    c.add_output(out.append)
    c.notify("amount", 12.0)
    assert len(out) == 2 and c.stats["callback_errors"] >= 2     # attach + change
    c.remove_output(out.append)
    c.notify("amount", 13.0)
    assert len(out) == 2


class RtmidiReceiver:
    """A real JACK MIDI destination: python-rtmidi input `NAME:in`."""

    def __init__(self, name="fb"):
        import rtmidi
        self.mi = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name)
        self.mi.ignore_types(sysex=False, timing=False, active_sense=False)
        self.mi.open_virtual_port("in")
        self.name = f"{name}:in"
        self.got: list[bytes] = []

    def collect(self, cond=lambda got: False, timeout=3.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = self.mi.get_message()
            if m is None:
                if cond(self.got):
                    break
                time.sleep(0.005)
                continue
            self.got.append(bytes(m[0]))
        return self.got

    def close(self):
        self.mi.close_port()
        self.mi.delete()


def _ccs(got):
    """(channel, cc, value) of every control change in `got` (feedback may arrive
    as one JACK event per message or merged)."""
    out = []
    for m in got:
        for i in range(0, len(m) - 2, 3):
            if m[i] & 0xF0 == 0xB0:
                out.append((m[i] & 0x0F, m[i + 1], m[i + 2]))
    return out


def test_jack_midi_out_carries_feedback_from_osc_and_the_session(jack_server):
    """uplift:midi_out (written by the native callback) carries the bound values
    changed over OSC (real UDP) and through session.set (the GUI's and presets'
    path), 14-bit as pairs; a change made by the controller itself on
    uplift:midi_in is not sent back."""
    import jack
    from pythonosc.udp_client import SimpleUDPClient

    from app.control.osc import OscServer
    from app.session.live import LiveSession
    from app.session.run import start_midi
    s = LiveSession(backend="jack", no_connect=True).start()
    assert "midi_out" in s.port_names
    recv = RtmidiReceiver("fb")
    raw = RawJackSender("keys")
    patch = jack.Client("patchbay", no_start_server=True)
    ctl, stoppers, errors = start_midi(s)
    osc = OscServer(s, 0).start()
    try:
        assert errors == []
        patch.connect("uplift:midi_out", recv.name)
        patch.connect(raw.name, "uplift:midi_in")
        ctl.bind("amount", 0, 21)
        ctl.bind("release", 1, 5, fine=True)
        ctl.bind("bypass", 0, 80)
        time.sleep(0.2)
        SimpleUDPClient(*osc.address).send_message("/uplift/param/amount", 70.0)
        want_amount = (0, 21, round(BY_ID["amount"].to_norm(70.0) * 127))
        recv.collect(lambda g: want_amount in _ccs(g))
        assert want_amount in _ccs(recv.got), recv.got
        s.set("release", 300.0)
        s.set("bypass", 1.0)
        v14 = round(BY_ID["release"].to_norm(300.0) * 16383)
        want = [(1, 5, v14 >> 7), (1, 37, v14 & 127), (0, 80, 127)]
        recv.collect(lambda g: all(w in _ccs(g) for w in want))
        got = _ccs(recv.got)
        assert all(w in got for w in want), got
        i = got.index((1, 5, v14 >> 7))
        assert got[i + 1] == (1, 37, v14 & 127)           # the pair stays together
        # the controller's own change: takes effect, is not echoed
        recv.got.clear()
        a = BY_ID["amount"]
        send_until(raw, [cc(0, 21, v) for v in (0, 127, 40)],
                   lambda: s.get("amount") == pos7(a, 40), "amount from uplift:midi_in")
        recv.collect(timeout=0.5)
        assert [m for m in _ccs(recv.got) if m[1] == 21] == []
        assert s.stats()["midi_out_dropped"] == 0
    finally:
        osc.stop()
        for x in stoppers:
            x.stop()
        patch.close()
        raw.close()
        recv.close()
        s.stop()


def test_rtmidi_feedback_output_virtual_and_named(jack_server):
    """--midi-out: a virtual rtmidi port others connect to, or a named destination
    it connects to when it appears."""
    import jack
    recv = RtmidiReceiver("desk")
    out = open_output("jack:")
    named = None
    patch = jack.Client("patchbay", no_start_server=True)
    try:
        patch.connect("uplift-feedback:feedback", recv.name)
        time.sleep(0.1)
        out.send(cc(4, 9, 99))
        assert recv.collect(lambda g: len(g) >= 1) == [cc(4, 9, 99)]
        named = open_output("jack:desk", client_name="uplift-fb2")
        assert named.connected_to == recv.name
        named.send(cc(5, 10, 1))
        assert recv.collect(lambda g: len(g) >= 2)[1:] == [cc(5, 10, 1)]
        missing = open_output("jack:nobody-here", client_name="uplift-fb3")
        missing.send(cc(0, 1, 2))
        assert missing.connected_to is None and missing.dropped == 1
        assert "waiting" in missing.status
        missing.close()
    finally:
        if named is not None:
            named.close()
        out.close()
        patch.close()
        recv.close()
