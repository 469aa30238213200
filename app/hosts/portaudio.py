"""Native PortAudio backend: sounddevice's expert mode with a Numba @cfunc callback.

`sd._StreamBase(kind='duplex', ..., callback=<PaStreamCallback*>, userdata=<void*>,
wrap_callback=None)` opens a stream whose callback is the C function itself, so
PortAudio's thread never enters Python. The cfunc gets interleaved float32
(channels + sidechain in, channels out), counts the status flags PortAudio
reports (input/output underflow/overflow = xruns), runs the engine's block
driver and measures its own load.

PortAudio scans devices once, in Pa_Initialize. `pa()` re-initialises before a
stream opens (so a device plugged in, or a JACK server started, after import is
seen) and `release()` terminates after the stream closes: PortAudio's JACK host
API keeps a JACK client open while initialised and asserts at exit if that
server has gone away in the meantime.
"""
from __future__ import annotations

import atexit
import contextlib

import numpy as np
from numba import njit, types

from app.hosts.cycle import CF_NCH, CHUNK, L_ENGINE, L_ENTRY, LIVE_TYPE, ST_XRUNS, begin_cycle, end_cycle
from engine.build import native_cfunc
from engine.native import call_entry, unpack
from engine.rt import store_release, voidptr_to_int

PA_XRUN_FLAGS = 0x1 | 0x2 | 0x4 | 0x8   # paInput/OutputUnderflow/Overflow
PA_SIG = types.int32(types.voidptr, types.voidptr, types.uint64, types.voidptr, types.uint64,
                     types.voidptr)


class PaError(RuntimeError):
    """A PortAudio problem the user can fix (no device, busy device, bad rate...)."""


_sd = None
_poisoned = False   # PortAudio's JACK client lost its server: never Pa_Terminate again


def pa():
    """sounddevice, with PortAudio freshly initialised (current device list)."""
    global _sd
    if _sd is None:
        try:
            import sounddevice
        except OSError as e:   # libportaudio missing
            raise PaError(f"PortAudio is not available: {e}") from None
        _sd = sounddevice
    elif not _poisoned:
        while _sd._initialized:
            _sd._terminate()
        _sd._initialize()
    if not _sd._initialized:
        _sd._initialize()
    return _sd


def release():
    """Terminate PortAudio completely (closes its JACK client, if any)."""
    if _sd is None or _poisoned:
        return
    while _sd._initialized:
        try:
            _sd._terminate()
        except Exception:            # already torn down: nothing more to release
            break


def poison():
    """PortAudio's JACK server died under it: Pa_Terminate would abort the process."""
    global _poisoned
    _poisoned = True
    if _sd is not None:
        with contextlib.suppress(Exception):
            atexit.unregister(_sd._exit_handler)


def usable_devices() -> list[dict]:
    """Devices with at least one input and one output channel."""
    sd = pa()
    out = []
    for i, d in enumerate(sd.query_devices()):
        if d["max_input_channels"] > 0 and d["max_output_channels"] > 0:
            out.append(dict(d, index=i))
    return out


@njit(inline="always")
def pa_cycle(st, inp, outp, frames, flags):
    h = st.host
    saved, t0 = begin_cycle(h)
    if flags & PA_XRUN_FLAGS:
        store_release(h.stats, ST_XRUNS, h.stats[ST_XRUNS] + 1)
    n = np.int64(frames)
    xp = voidptr_to_int(inp)
    yp = voidptr_to_int(outp)
    entry, table = h.links[L_ENTRY], h.links[L_ENGINE]
    if yp != 0:
        if xp != 0:
            call_entry(entry, table, xp, yp, n)
        else:
            # no input this time (PortAudio may pass NULL): process silence
            h.xbuf[:] = 0.0
            nch = np.int64(h.cfg[CF_NCH])
            done = 0
            while done < n:
                m = min(CHUNK, n - done)
                call_entry(entry, table, h.xbuf.ctypes.data, yp + done * 4 * nch, m)
                done += m
    end_cycle(st.core, h, saved, t0, n)
    return 0


@native_cfunc(PA_SIG, nopython=True)
def pa_callback(inp, outp, frames, time_info, flags, arg):
    """The PortAudio stream callback; its userdata is the address table of a LiveState."""
    return pa_cycle(unpack(voidptr_to_int(arg), LIVE_TYPE), inp, outp, frames, flags)


def resolve(device, samplerate, channels: int, inputs: int):
    """(device index in, device index out, samplerate) after checking the settings,
    or PaError with one clear line."""
    sd = pa()
    try:
        if device is None:
            din, dout = sd.default.device
            if din is None or din < 0 or dout is None or dout < 0:
                raise PaError("no audio device found (PortAudio sees no default input/output)")
        else:
            dev = int(device) if isinstance(device, str) and device.isdigit() else device
            din = sd.query_devices(dev, "input")["index"] if not isinstance(dev, int) else dev
            dout = sd.query_devices(dev, "output")["index"] if not isinstance(dev, int) else dev
        info_in = sd.query_devices(din)
        info_out = sd.query_devices(dout)
    except PaError:
        raise
    except (ValueError, sd.PortAudioError) as e:
        raise PaError(f"audio device {device!r}: {_clean(e)}") from None
    if info_in["max_input_channels"] < inputs:
        raise PaError(f"audio device '{info_in['name']}' has {info_in['max_input_channels']} "
                      f"input channel(s); {inputs} needed")
    if info_out["max_output_channels"] < channels:
        raise PaError(f"audio device '{info_out['name']}' has {info_out['max_output_channels']} "
                      f"output channel(s); {channels} needed")
    sr = float(samplerate or info_out["default_samplerate"])
    try:
        sd.check_input_settings(din, channels=inputs, dtype="float32", samplerate=sr)
        sd.check_output_settings(dout, channels=channels, dtype="float32", samplerate=sr)
    except (ValueError, sd.PortAudioError) as e:
        raise PaError(f"audio device '{info_out['name']}' at {sr:g} Hz: {_clean(e)}") from None
    return din, dout, sr


def _clean(e) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


class PaStream:
    """An open duplex stream running `cfunc` with `userdata` = the live state's table."""

    def __init__(self, din, dout, samplerate, blocksize, channels, inputs, cfunc_obj, table):
        sd = pa() if _sd is None else _sd
        from cffi import FFI
        ffi = FFI()
        self._keep = (cfunc_obj, table)
        try:
            self.stream = sd._StreamBase(
                kind="duplex", samplerate=samplerate, blocksize=blocksize, device=(din, dout),
                channels=(inputs, channels), dtype="float32",
                callback=ffi.cast("void *", cfunc_obj.address),
                userdata=ffi.cast("void *", int(table.ctypes.data)), wrap_callback=None)
        except (ValueError, sd.PortAudioError) as e:
            raise PaError(f"could not open the audio device: {_clean(e)}") from None
        self.samplerate = float(self.stream.samplerate)
        self.blocksize = int(self.stream.blocksize)
        lat = self.stream.latency
        self.io_latency_samples = int(round((lat[0] + lat[1]) * self.samplerate))
        self.hostapi = sd.query_hostapis(sd.query_devices(din)["hostapi"])["name"]

    def start(self):
        try:
            self.stream.start()
        except Exception as e:   # any device failure: one clear PaError
            raise PaError(f"could not start the audio stream: {_clean(e)}") from None

    @property
    def active(self) -> bool:
        try:
            return bool(self.stream.active)
        except Exception:        # a stream that cannot say is not active
            return False

    def close(self, dead: bool = False):
        if dead:
            return   # closing a stream whose JACK server died can abort the process
        try:
            self.stream.abort(ignore_errors=True)
            self.stream.close(ignore_errors=True)
        except Exception:        # closing a dead stream: nothing left to do
            pass
