"""OSC control over real UDP on localhost, of a live session on a real JACK server."""
from __future__ import annotations

import socket
import time

import pytest
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from app.control.osc import OscServer
from app.session.live import LiveSession


def _msg(address, *args) -> bytes:
    b = OscMessageBuilder(address=address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


class Peer:
    """A UDP socket of its own, as a liblo tool has: sends, and gets the replies."""

    def __init__(self, server_address):
        self.to = server_address
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(2.0)

    def send(self, address, *args):
        self.sock.sendto(_msg(address, *args), self.to)

    def raw(self, data: bytes):
        self.sock.sendto(data, self.to)

    def recv(self) -> tuple[str, list, tuple]:
        data, frm = self.sock.recvfrom(65536)
        m = OscMessage(data)
        return m.address, list(m.params), frm

    def close(self):
        self.sock.close()


@pytest.fixture
def osc_session(jack_server):
    s = LiveSession(backend="jack", no_connect=True)
    s.start()
    osc = OscServer(s, 0).start()          # port 0: any free port on 127.0.0.1
    peer = Peer(osc.address)
    yield s, osc, peer
    peer.close()
    osc.stop()
    s.stop()


def test_listens_on_localhost_only_by_default(osc_session):
    _, osc, _ = osc_session
    assert osc.address[0] == "127.0.0.1"


def test_set_get_and_replies_to_the_sender(osc_session):
    s, osc, peer = osc_session
    peer.send("/uplift/param/threshold", -31.5)
    peer.send("/uplift/param/detector", "rms")     # words as --set takes them
    peer.send("/uplift/get/threshold")
    address, args, frm = peer.recv()
    assert address == "/uplift/param/threshold" and args == [pytest.approx(-31.5)]
    assert frm == osc.address                       # from the server's own port
    assert s.get("threshold") == -31.5 and s.get("detector") == 1.0


@pytest.mark.parametrize("address,args,needle", [
    ("/uplift/param/threshold", [5.0], "out of range"),
    ("/uplift/param/nope", [1.0], "nope"),
    ("/uplift/param/ratio", [], "one value"),
    ("/uplift/get/nope", [], "nope"),
    ("/uplift/preset", ["no such preset"], "no such preset"),
    ("/uplift/somewhere", [], "unknown address"),
    ("/uplift/meters/subscribe", [1000.0], "out of range"),
])
def test_errors_are_answered_and_never_applied(osc_session, address, args, needle):
    s, _, peer = osc_session
    before = s.values()
    peer.send(address, *args)
    reply, params, _ = peer.recv()
    assert reply == "/uplift/error" and needle in params[0], params
    assert s.values() == before


def test_malformed_packets_are_dropped_without_harm(osc_session):
    s, _, peer = osc_session
    for junk in (b"", b"\x00\x01garbage", b"/uplift/param/threshold\x00", b"#bundle\x00" + b"x" * 7):
        peer.raw(junk)
    peer.send("/uplift/param/ratio", 6.0)
    peer.send("/uplift/get/ratio")
    # junk that still parses as a message (an address with no arguments) is
    # answered on /uplift/error; the rest is dropped; the server carries on
    while True:
        address, args, _ = peer.recv()
        if address != "/uplift/error":
            break
    assert (address, args) == ("/uplift/param/ratio", [pytest.approx(6.0)])
    assert s.get("threshold") == -18.0


def test_preset_load(osc_session):
    from app.presets import load_preset
    s, _, peer = osc_session
    peer.send("/uplift/preset", "Bus glue")
    peer.send("/uplift/get/ratio")
    assert peer.recv()[1] == [pytest.approx(load_preset("Bus glue")["ratio"])]


def test_meter_subscription_at_the_chosen_rate(osc_session):
    s, _, peer = osc_session
    peer.send("/uplift/meters/subscribe", 20.0)
    t0 = time.monotonic()
    got = []
    while time.monotonic() - t0 < 1.0:
        address, args, _ = peer.recv()
        assert address == "/uplift/meters" and len(args) == 6
        got.append(args)
    assert 15 <= len(got) <= 25
    assert got[-1][5] == s.latency_samples
    peer.send("/uplift/meters/unsubscribe")
    time.sleep(0.2)
    peer.sock.settimeout(0.3)
    while True:                      # drain what was in flight, then silence
        try:
            peer.recv()
        except TimeoutError:
            break
    with pytest.raises(socket.timeout):
        peer.recv()
