"""The audio hosts: JACK (jack.py) and PortAudio (portaudio.py), native callbacks."""
