#!/usr/bin/env python3
"""Screenshot of the real Uplift window with audio playing -> docs/screenshot.png.

    .venv/bin/python scripts/screenshot.py [--out docs/screenshot.png] [--seconds 4]
        [--size 1280x800] [--preset "Vocal tracking"]

With no DISPLAY it starts its own Xvfb (Debian's xvfb, installed by the
Makefile) and stops it afterwards. Audio, in order of preference:
  1. the live-session code's demo fallback (private JACK dummy server + demo),
  2. a private JACK dummy server, a LiveSession on it and a native demo
     player client wired into the session's inputs,
  3. an offline Engine fed with the generated demo by a QTimer.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def start_xvfb(size: str):
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        sys.exit("screenshot: no DISPLAY and no Xvfb (run `make test` to install xvfb)")
    r, w = os.pipe()
    proc = subprocess.Popen([xvfb, "-displayfd", str(w), "-screen", "0", f"{size}x24",
                             "-nolisten", "tcp", "-dpi", "96"], pass_fds=(w,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    os.close(w)
    with os.fdopen(r) as f:
        num = f.readline().strip()
    if not num:
        proc.terminate()
        sys.exit("screenshot: Xvfb did not start")
    os.environ["DISPLAY"] = f":{num}"
    return proc


def open_audio(note_list: list, blocksize: int = 64):
    """(session, cleanup callables, description)."""
    cleanups = []
    try:
        from app.session.demo import demo_session
        session = demo_session(blocksize=blocksize).start()
        cleanups.append(session.stop)
        return session, cleanups, "Built-in demo playing through a private JACK dummy server"
    except Exception as e:
        note_list.append(f"demo session unavailable ({e})")
    try:
        from app.hosts import jack as jack_host
        from app.session.live import LiveSession
        server = jack_host.PrivateJackServer(period=blocksize).start()
        cleanups.append(server.stop)
        session = LiveSession(backend="jack", blocksize=blocksize, no_connect=True,
                              client_name="uplift")
        session.start()
        cleanups.insert(0, session.stop)
        from app.session.demo import generate
        player = jack_host.NativePlayer(generate(server.samplerate), name="uplift-demo")
        player.start(["uplift:in_1", "uplift:in_2"])
        cleanups.insert(0, player.close)
        return session, cleanups, "JACK dummy server · generated demo playing"
    except Exception as e:
        note_list.append(f"live session unavailable ({e}); offline engine")
        for c in cleanups:
            with contextlib.suppress(Exception):
                c()
        cleanups = []
    from ui.demo import OfflineDemoSession
    s = OfflineDemoSession().start()
    cleanups.append(s.stop)
    return s, cleanups, "offline engine · generated demo"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"))
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--size", default="1280x800")
    ap.add_argument("--preset", default="Vocal tracking")
    args = ap.parse_args(argv)
    w_px, h_px = (int(v) for v in args.size.split("x"))
    xvfb = None
    if not os.environ.get("DISPLAY"):
        xvfb = start_xvfb(f"{w_px + 200}x{h_px + 200}")
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    cleanups = []
    try:
        from PyQt6.QtCore import QEventLoop, QTimer
        from PyQt6.QtWidgets import QApplication

        from ui import theme
        from ui.window import MainWindow
        app = QApplication([sys.argv[0]])
        theme.apply(app)
        notes: list = []
        session, cleanups, desc = open_audio(notes)
        from ui.app import describe, session_info
        win = MainWindow(session, session_info=session_info(session), note=describe(session) or desc)
        if win.presets is not None and args.preset:
            win.load_preset(args.preset)
        win.resize(w_px, h_px)
        win.show()
        deadline = time.monotonic() + args.seconds

        def pump(seconds):
            loop = QEventLoop()
            QTimer.singleShot(int(seconds * 1000), loop.quit)
            loop.exec()

        pump(args.seconds)
        # catch the phrase while it is sung (input well above the noise)
        end = deadline + 8.0
        while time.monotonic() < end:
            m = session.meters()
            if max(m.get("in_peak_db", [-200])) > -20 and m.get("settle_gr_db", 0) > 0.5:
                break
            pump(0.05)
        pump(0.15)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        img = win.grab()
        if not img.save(str(out)):
            print(f"screenshot: could not write {out}", file=sys.stderr)
            return 1
        print(f"screenshot: {out} ({img.width()}x{img.height()}) — {desc}"
              + (f"; {'; '.join(notes)}" if notes else ""))
        win.close()
        return 0
    finally:
        for c in cleanups:
            with contextlib.suppress(Exception):
                c()
        if xvfb is not None:
            xvfb.terminate()
            try:
                xvfb.wait(5)
            except subprocess.TimeoutExpired:
                xvfb.kill()


if __name__ == "__main__":
    sys.exit(main())
