"""What `uplift run` and `uplift devices` do (the CLI and the GUI call these).

    uplift run [--headless] [--backend portaudio|jack] [--device D] [--samplerate SR]
               [--blocksize N] [--channels 1|2] [--sidechain] [--preset P]
               [--set ID=VALUE]... [--no-connect]

With no --backend, PortAudio's default device is used; if PortAudio finds no
usable device at all, Uplift says so in one line, starts a private
`jackd -d dummy` and plays the built-in demo through the live engine
(app/session/demo.py). Every error a user can cause is one line on stderr and a
non-zero exit status.
"""
from __future__ import annotations

import argparse
import sys

from app.hosts import jack as J
from app.session.live import LiveError, LiveSession
from app.text import one_line

EXIT_FAILED = 1


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The `run` options, shared by the CLI and the GUI."""
    def have(opt):
        return any(opt in a.option_strings for a in parser._actions)

    def add(opt, **kw):
        if not have(opt):
            parser.add_argument(opt, **kw)

    add("--headless", action="store_true", help="no GUI: live meters in the terminal")
    add("--backend", choices=("portaudio", "jack"),
        help="audio backend (default: PortAudio's default device)")
    add("--device", metavar="D", help="PortAudio device index or name (see `uplift devices`)")
    add("--samplerate", type=float, metavar="SR", help="sample rate in Hz (44100 .. 192000)")
    add("--blocksize", type=int, metavar="N", help="frames per callback (PortAudio; default 64)")
    add("--channels", type=int, choices=(1, 2), default=2, help="main channels (default 2)")
    add("--sidechain", action="store_true", help="external sidechain (key) inputs")
    add("--preset", metavar="P", help="factory or user preset name")
    add("--set", metavar="ID=VALUE", action="append", default=[],
        help="set a parameter (repeatable); see `uplift params`")
    add("--no-connect", dest="no_connect", action="store_true",
        help="JACK: leave the wiring to the user")
    add("--client-name", dest="client_name", default="uplift", metavar="NAME",
        help="JACK client name (default uplift)")
    add("--demo", action="store_true", help="play the built-in demo on a private JACK server")
    add("--midi-in", dest="midi_in", default=None, metavar="PORT",
        help="MIDI source: NAME, jack:NAME or alsa:NAME (the JACK backend also has CLIENT:midi_in)")
    add("--midi-out", dest="midi_out", default=None, metavar="PORT",
        help="where MIDI feedback goes (bound parameters' values, for motor faders and LED "
             "rings): NAME, jack:NAME or alsa:NAME, or jack:/alsa: for a virtual port "
             "(the JACK backend also sends it on CLIENT:midi_out)")
    add("--osc", type=int, default=None, metavar="PORT",
        help="listen for OSC control on this UDP port (/uplift/param/<id> <value>, ...)")
    add("--osc-host", dest="osc_host", default="127.0.0.1", metavar="HOST",
        help="address OSC listens on (default 127.0.0.1, this machine only; 0.0.0.0 lets "
             "anyone who can reach the port control Uplift: OSC has no authentication)")
    add("--duration", type=float, default=None, help=argparse.SUPPRESS)


def _err(msg: str) -> int:
    print(f"uplift: error: {msg}", file=sys.stderr)
    return EXIT_FAILED


def values_from(args) -> dict:
    """Preset (if any) overlaid with every --set, all validated."""
    from engine.params import parse_assignment
    values = {}
    preset = getattr(args, "preset", None)
    if preset:
        try:
            from app.presets import load_preset
        except ImportError:
            raise LiveError("presets are not available in this build") from None
        values.update(load_preset(preset))
    for item in getattr(args, "set", None) or []:
        id_, v = parse_assignment(item)
        values[id_] = v
    return values


def start_midi(session, spec=None, on_change=None, on_learned=None, values=None,
               out_spec=None, current=None):
    """MIDI control of a running session: a MidiController whose changes go through
    session.set (the lock-free ring), fed by the native JACK midi_in (session.read_midi)
    and, with `spec` (--midi-in), an rtmidi input. Feedback of every change made
    elsewhere goes out on the session's midi_out and, with `out_spec` (--midi-out),
    an rtmidi output. `current()` returns the session in use (the GUI replaces its
    session on restarts). Returns (controller, inputs and outputs to stop, errors)."""
    from app.control import midi
    current = current or (lambda: session)
    ctl = midi.MidiController(setter=lambda k, v: current().set(k, v), on_change=on_change,
                              on_learned=on_learned,
                              values=values if values is not None else session.values(),
                              persist=True)
    inputs, errors = [], list(ctl.load_errors)
    if callable(getattr(session, "read_midi", None)):
        def read():
            r = getattr(current(), "read_midi", None)
            return r() if r is not None else []
        inputs.append(midi.MidiPoller(ctl, read).start())
    add_listener = getattr(session, "add_listener", None)
    if callable(add_listener):
        add_listener(ctl.notify)

    def to_session(msg):
        send = getattr(current(), "send_midi", None)
        if send is not None:
            send(msg)
    ctl.add_output(to_session)
    if spec:
        try:
            inputs.append(midi.open_input(ctl, spec))
        except Exception as e:       # a MIDI device is optional: said, the session runs
            errors.append(f"MIDI input {spec!r}: {one_line(e)}")
    if out_spec:
        try:
            out = midi.open_output(out_spec)
            inputs.append(out)
            ctl.add_output(out.send)
        except Exception as e:       # a MIDI device is optional: said, the session runs
            errors.append(f"MIDI output {out_spec!r}: {one_line(e)}")
    return ctl, inputs, errors


def _no_device_reason() -> str | None:
    """Why PortAudio cannot be used (None if a default duplex device exists)."""
    try:
        from app.hosts import portaudio as P
        sd = P.pa()
        din, dout = sd.default.device
        ok = din is not None and din >= 0 and dout is not None and dout >= 0
        devs = P.usable_devices() if ok else []
        P.release()
        if not ok or not devs:
            return "no audio device found"
        return None
    except Exception as e:   # any PortAudio failure means the same: use the demo
        return f"PortAudio unavailable ({str(e).splitlines()[0] if str(e) else type(e).__name__})"


def open_session(args, values: dict | None = None, note=None):
    """A started session for the run arguments (LiveSession, or DemoSession when there is
    no audio device). `note(text)` receives the one-line no-device message."""
    values = values if values is not None else values_from(args)
    backend = getattr(args, "backend", None)
    common = dict(channels=getattr(args, "channels", None) or 2,
                  client_name=getattr(args, "client_name", None) or "uplift",
                  engine_values=values)
    demo = bool(getattr(args, "demo", False))
    if backend is None and not demo and getattr(args, "device", None) is None:
        reason = _no_device_reason()
        if reason is not None:
            if note:
                note(f"uplift: {reason}; starting a private JACK server (dummy backend) "
                     f"and playing the built-in demo")
            demo = True
    if demo:
        from app.session.demo import DemoSession
        s = DemoSession(blocksize=getattr(args, "blocksize", None) or 64,
                        samplerate=getattr(args, "samplerate", None), **common)
        if getattr(args, "sidechain", False):
            s.sidechain = True
        return s.start()
    s = LiveSession(backend=backend or "portaudio", device=getattr(args, "device", None),
                    samplerate=getattr(args, "samplerate", None),
                    blocksize=getattr(args, "blocksize", None) or 64,
                    sidechain=bool(getattr(args, "sidechain", False)),
                    no_connect=bool(getattr(args, "no_connect", False)),
                    reconnect=backend == "jack", **common)
    return s.start()


def run(args, gui=None) -> int:
    """`uplift run`. `gui(session, args)` runs the window on the started session
    (app/cli.py passes ui.app's when a display exists; this module does not import
    the GUI). Returns the exit status; errors are one line on stderr."""
    session = None
    try:
        values = values_from(args)
        session = open_session(args, values, note=lambda t: print(t, file=sys.stderr))
    except KeyboardInterrupt:
        if session is not None:
            session.stop()
        return 130
    except (LiveError, J.JackError, ValueError, KeyError, OSError, RuntimeError) as e:
        if session is not None:
            session.stop()
        return _err(one_line(e))
    osc = None
    if getattr(args, "osc", None) is not None:
        from app.control.osc import OscError, OscServer
        try:
            osc = OscServer(session, args.osc, getattr(args, "osc_host", "127.0.0.1")).start()
        except OscError as e:
            session.stop()
            return _err(str(e))
    try:
        return _run_started(session, args, gui)
    finally:
        if osc is not None:
            osc.stop()


def _run_started(session, args, gui) -> int:
    if not getattr(args, "headless", False):
        if gui is not None:
            try:
                return int(gui(session, args) or 0)
            finally:
                session.stop()
        print("uplift: no GUI available here; showing headless meters (Ctrl-C to stop)",
              file=sys.stderr)
    from app.session.headless import run_headless
    try:
        _, midi_inputs, midi_errors = start_midi(session, getattr(args, "midi_in", None),
                                                 out_spec=getattr(args, "midi_out", None))
    except Exception as e:   # MIDI is optional: said, the meters run
        midi_inputs, midi_errors = [], [f"MIDI unavailable: {one_line(e)}"]
    for m in midi_errors:
        print(f"uplift: {m}", file=sys.stderr)
    sr = session.samplerate or 0
    print(f"uplift: {session.backend} {sr:g} Hz, {session.blocksize} frames, "
          f"{session.channels} ch; latency {session.latency_samples} samples "
          f"({1000 * session.latency_samples / max(sr, 1):.2f} ms), with I/O "
          f"{session.io_latency_samples} samples — Ctrl-C to stop", file=sys.stderr)
    try:
        return run_headless(session, duration=getattr(args, "duration", None))
    finally:
        for m in midi_inputs:
            m.stop()


def devices() -> int:
    """`uplift devices`: PortAudio host APIs and devices, and the JACK server's status."""
    try:
        from app.hosts import portaudio as P
        sd = P.pa()
        apis = sd.query_hostapis()
        devs = sd.query_devices()
        din, dout = sd.default.device
        print("PortAudio host APIs and devices:")
        for a in apis:
            print(f"  {a['name']}: {len(a['devices'])} device(s)")
            for i in a["devices"]:
                d = devs[i]
                mark = ("<" if i == din else " ") + (">" if i == dout else " ")
                print(f"   {mark} [{i}] {d['name']}  ({d['max_input_channels']} in, "
                      f"{d['max_output_channels']} out, {d['default_samplerate']:g} Hz)")
        if not len(devs):
            print("  (no audio devices: `uplift run` will play the demo on a private JACK server)")
        P.release()
    except Exception as e:   # a report: PortAudio failing is itself the answer
        print(f"PortAudio: unavailable ({one_line(e)})")
    if not J.available():
        print("JACK: not installed (libjack not found)")
    elif J.server_running():
        c = J.JackClient("uplift-devices")
        try:
            print(f"JACK: server '{J._server_name()}' running at {c.samplerate} Hz, "
                  f"{c.blocksize} frames; capture {', '.join(c.physical(True)) or '-'}; "
                  f"playback {', '.join(c.physical(False)) or '-'}")
        finally:
            c.close()
    else:
        print(f"JACK: server '{J._server_name()}' is not running")
    return 0
