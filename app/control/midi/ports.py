"""The rtmidi APIs (JACK, ALSA) and their port names.

`list_input_ports(api)` lists the MIDI sources on an API for `--midi-in` and
the GUI's menu; it returns [] where the API is unavailable (no ALSA sequencer,
no JACK server) instead of raising. `match_port` finds the port a name means;
`MidiError` is the one clear line said when an API or port cannot be opened.
"""
from __future__ import annotations

import contextlib
import re


class MidiError(Exception):
    """A MIDI input that cannot be opened; the message is one clear line."""


_API_NAMES = {"jack": "API_UNIX_JACK", "alsa": "API_LINUX_ALSA"}


def _rtmidi():
    try:
        import rtmidi
    except ImportError as e:        # pragma: no cover - a dependency
        raise MidiError(f"python-rtmidi is not installed ({e})") from None
    return rtmidi


def _api(api) -> int:
    rtmidi = _rtmidi()
    if isinstance(api, int):
        return api
    key = str(api or "jack").strip().lower()
    if key not in _API_NAMES:
        raise MidiError(f"unknown MIDI API {api!r} (jack or alsa)")
    return getattr(rtmidi, _API_NAMES[key])


def _api_label(api: int) -> str:
    rtmidi = _rtmidi()
    return {rtmidi.API_UNIX_JACK: "JACK", rtmidi.API_LINUX_ALSA: "ALSA"}.get(api, str(api))


def _open_midi_in(api: int, client_name: str, queue_size: int = 4096):
    rtmidi = _rtmidi()
    if api not in rtmidi.get_compiled_api():
        raise MidiError(f"{_api_label(api)} MIDI is not supported by this python-rtmidi build")
    try:
        mi = rtmidi.MidiIn(api, client_name, queue_size)
    except rtmidi.RtMidiError as e:
        hint = ("is the JACK server running?" if api == rtmidi.API_UNIX_JACK
                else "there is no ALSA sequencer (/dev/snd/seq) on this machine")
        raise MidiError(f"{_api_label(api)} MIDI is not available: {hint} ({e})") from None
    # Everything reaches the parser, which skips what it does not need: rtmidi's own
    # filters look only at a message's first byte and would drop whole merged events.
    mi.ignore_types(sysex=False, timing=False, active_sense=False)
    return mi


def list_input_ports(api="jack") -> list[str]:
    """Names of the MIDI sources on `api` ("jack" or "alsa"); [] if the API is
    unavailable (no JACK server, no ALSA sequencer). Never raises."""
    mi = None
    try:
        mi = _open_midi_in(_api(api), "uplift-probe", 16)
        return list(mi.get_ports())
    except Exception:        # documented: [] where the API is unavailable, never raises
        return []
    finally:
        if mi is not None:
            _close(mi)


def _close(mi) -> None:
    with contextlib.suppress(Exception):
        mi.close_port()
    with contextlib.suppress(Exception):
        mi.delete()


def match_port(wanted: str, ports: list[str]) -> str | None:
    """The port `wanted` names: exact, then case-insensitive, then the same
    port of a JACK client renamed with a '-NN' suffix (a device that came back
    before its old client was gone), then the one port containing it."""
    if not wanted:
        return None
    if wanted in ports:
        return wanted
    w = wanted.casefold()
    for p in ports:
        if p.casefold() == w:
            return p
    base = _strip_jack_suffix(w)
    for p in ports:
        if _strip_jack_suffix(p.casefold()) == base:
            return p
    hits = [p for p in ports if w in p.casefold()]
    return hits[0] if len(hits) == 1 else None


def _strip_jack_suffix(name: str) -> str:
    client, sep, port = name.partition(":")
    return re.sub(r"-\d\d$", "", client) + sep + port


def _split_spec(spec: str | None) -> tuple[str, str | None]:
    """"NAME", "jack:NAME", "alsa:NAME", "jack:" -> (api, name or None)."""
    api, name = "jack", spec
    if spec is not None and ":" in spec and spec.split(":", 1)[0].lower() in _API_NAMES:
        api, name = spec.split(":", 1)
        name = name or None
    return api, name
