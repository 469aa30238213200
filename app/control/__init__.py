"""Remote control: MIDI (midi.py) and OSC (osc.py)."""
