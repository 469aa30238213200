"""Remote control: MIDI (the midi package) and OSC (osc.py)."""
