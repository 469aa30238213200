import jack


def test_dummy_server_accepts_real_clients(jack_server):
    client = jack.Client("probe", no_start_server=True)
    try:
        assert client.samplerate == 48000
        assert client.blocksize == 64
        names = [p.name for p in client.get_ports(is_audio=True)]
        assert "system:playback_1" in names
    finally:
        client.close()
