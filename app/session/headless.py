"""Headless live meters: one updating terminal line, a few times per second.

    in -12.1/-12.4  out -10.2/-10.5 dBFS  GR 3.2  gate 0.0  lift 1.2 dB  guarded 12/40
    lat 4.00 ms (I/O 8.00)  load 1.3% (max 4.0%)  xruns 0     (one line on the terminal)

Stops on Ctrl-C (exit 0), when `duration` has passed, or when the stream dies
(one line on stderr, exit 1).
"""
from __future__ import annotations

import math
import signal
import sys
import time

REFRESH_S = 0.2


def _db(v: float) -> str:
    return " -inf" if v <= -120 else f"{v:5.1f}"


def overall_lift_db(m: dict) -> float:
    """What DRIFT adds to the whole signal (dB): each band's lift weighted by its
    power, 10·log10(Σ P_b·10^(lift_b/10) / Σ P_b). (The largest band's lift
    says little: a band holding only a skirt may read +18 dB while the output
    rises by 1.)"""
    lifts = m.get("drift_lift_db") or []
    levels = m.get("drift_level_db") or []
    if not lifts or len(levels) != len(lifts):
        return 0.0
    p = [10.0 ** (lv / 10.0) for lv in levels]
    total = sum(p)
    if total <= 0.0:
        return 0.0
    return 10.0 * math.log10(sum(pb * 10.0 ** (lb / 10.0) for pb, lb in zip(p, lifts, strict=True))
                             / total)


def format_meters(session) -> str:
    m = session.meters()
    if not m:
        return "(no meters yet)"
    s = session.stats()
    sr = session.samplerate or 48000.0
    lat_ms = 1000.0 * session.latency_samples / sr
    io = s.get("io_latency_samples")
    io_txt = f" (I/O {1000.0 * io / sr:.2f})" if io is not None else ""
    lift = overall_lift_db(m)
    return (f"in {'/'.join(_db(v) for v in m['in_peak_db'])}  "
            f"out {'/'.join(_db(v) for v in m['out_peak_db'])} dBFS  "
            f"GR {m['settle_gr_db']:4.1f}  gate {m['gate_gr_db']:4.1f}  lift {lift:4.1f} dB  "
            f"guarded {m.get('drift_guarded', 0):2d}/40  "
            f"lat {lat_ms:.2f} ms{io_txt}  "
            f"load {100 * s['load']:4.1f}% (max {100 * s['load_max']:4.1f}%)  xruns {s['xruns']}")


class _Stop(Exception):
    pass


def run_headless(session, duration: float | None = None, out=None, err=None,
                 refresh: float = REFRESH_S) -> int:
    """Print meters until Ctrl-C/SIGTERM, `duration`, or the stream dying. The session
    is started by the caller and stopped here. Returns the exit status."""
    out = out or sys.stdout
    err = err or sys.stderr
    tty = hasattr(out, "isatty") and out.isatty()
    old_term = None

    def on_term(signum, frame):
        raise _Stop()

    try:
        old_term = signal.signal(signal.SIGTERM, on_term)
    except ValueError:          # not the main thread
        old_term = None
    end = None if duration is None else time.monotonic() + duration
    status = 0
    last_plain = 0.0
    said_waiting = False
    try:
        while True:
            if not session.running and getattr(session, "waiting", False):
                if not said_waiting:         # said once; the session reconnects by itself
                    if tty:
                        out.write("\n")
                    print(f"uplift: {session.error}", file=err)
                    said_waiting = True
                time.sleep(0.1)
                continue
            if said_waiting:
                print("uplift: the JACK server is back; running again with the same settings",
                      file=err)
                said_waiting = False
            if not session.running:
                if tty:
                    out.write("\n")
                print(f"uplift: error: {session.error or 'the audio stream stopped'}", file=err)
                status = 1
                break
            line = format_meters(session)
            now = time.monotonic()
            if tty:
                out.write("\r\x1b[2K" + line)
                out.flush()
            elif now - last_plain >= 1.0:
                out.write(line + "\n")
                out.flush()
                last_plain = now
            if end is not None and now >= end:
                if tty:
                    out.write("\n")
                break
            time.sleep(refresh if end is None else max(0.0, min(refresh, end - now)))
    except (KeyboardInterrupt, _Stop):
        if tty:
            out.write("\n")
        status = 0
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
        try:
            session.stop()
        except Exception as e:  # never a traceback on the way out
            print(f"uplift: error while stopping: {e}", file=err)
            status = status or 1
    return status
