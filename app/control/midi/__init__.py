"""MIDI control: learn, 14-bit CC, soft takeover, persistence, inputs.

Modules, from the bytes up:

`parser`      MidiParser: raw MIDI bytes -> channel messages, never raising.
`mapping`     Binding (a parameter's channel and CC, as settings.json keeps it),
              controller position <-> value, and the feedback CC(s).
`controller`  MidiController: MIDI learn, the binding map, soft takeover,
              persistence, and feedback to the outputs added to it.
`ports`       the rtmidi APIs (JACK, ALSA) and port names: list, match, open.
`rtmidi_in`   MidiInput: an rtmidi input on its reader thread, reconnecting.
`rtmidi_out`  MidiOutput: an rtmidi output for feedback.
`poller`      MidiPoller: drains a callable of raw events (the native JACK
              client's midi_in) into a controller.

Here are the names the rest of the app uses (app.session.run.start_midi, the
window); the others are imported from their modules.
"""
from __future__ import annotations

from app.control.midi.controller import MidiController
from app.control.midi.poller import MidiPoller
from app.control.midi.ports import MidiError
from app.control.midi.rtmidi_in import open_input
from app.control.midi.rtmidi_out import open_output

__all__ = ["MidiController", "MidiError", "MidiPoller", "open_input", "open_output"]
