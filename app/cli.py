"""The `uplift` command (product.md, "Command line").

Every error a user can cause ends as one line on stderr and a non-zero exit,
never a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys

from app.text import one_line

EXIT_USAGE = 2
EXIT_FAILED = 1


class UserError(Exception):
    """Something the user asked for that cannot be done; the message is the whole story."""


def cmd_params(args) -> int:
    from engine.params import table_text
    print(table_text())
    return 0


def cmd_presets(args) -> int:
    from app.presets import list_presets
    for name, origin in list_presets():
        print(f"{name:28s} {origin}")
    return 0


def cmd_render(args) -> int:
    from app.render import render, render_batch
    from app.session.run import values_from
    if len(args.paths) < 2:
        raise UserError("render needs IN and OUT (uplift render IN... OUT)")
    inputs, out = args.paths[:-1], args.paths[-1]
    values = values_from(args)
    if not any(item.split("=", 1)[0].strip() == "match" for item in args.set or []):
        values["match"] = 0.0     # a listening aid: off in renders unless asked for (dsp.md)
    if len(inputs) > 1 or os.path.isdir(out):
        if args.report:
            raise UserError("--report renders one file; give one IN and one OUT")
        return render_batch(inputs, out, values, block=args.block, jobs=args.jobs,
                            force=args.force, live_alignment=args.live_alignment)
    summary = render(inputs[0], out, values, block=args.block, report_path=args.report,
                     force=args.force, live_alignment=args.live_alignment)
    print(describe_render(out, summary))
    if summary["frames"] < summary["header_frames"]:
        print(f"uplift: warning: {inputs[0]} is truncated: its header promises "
              f"{summary['header_frames']} frames, it holds {summary['frames']}; rendered those",
              file=sys.stderr)
    return 0


def describe_render(out: str, summary: dict) -> str:
    kept = "" if summary["subtype"] == summary["input_subtype"] else \
        f" (the input was {summary['input_subtype']}, which {summary['format']} cannot hold)"
    align = "aligned with the input" if summary["aligned"] else "live alignment"
    return (f"wrote {out}: {summary['frames']} frames, {summary['channels']} ch, "
            f"{summary['samplerate']} Hz, {summary['subtype']}{kept}; latency "
            f"{summary['latency_samples']} samples, {align}")


def cmd_bench(args) -> int:
    from app.bench import main as bench_main
    return bench_main([])


def cmd_devices(args) -> int:
    from app.session.run import devices
    return devices() or 0


def cmd_run(args) -> int:
    from app.session.run import run
    return run(args, gui=None if getattr(args, "headless", False) else _gui_runner()) or 0


def _gui_runner():
    """ui.app's `run_session(session, args)` if a display exists and the GUI loads
    (this module is where the command line meets the GUI: app/ below does not
    import ui/)."""
    why = display_problem()
    if why is not None:
        if why != "no display":
            print(f"uplift: {why}", file=sys.stderr)
        return None
    try:
        import ui.app as ui_app
    except ImportError as e:
        print(f"uplift: the window cannot load ({one_line(e)})", file=sys.stderr)
        return None
    return ui_app.run_session


def display_problem() -> str | None:
    """Why the window cannot open here (None if it can). An X display that is set
    but cannot be reached (a stale `ssh -X`) is found out before Qt is asked:
    Qt would abort the process (exit 134) blaming a missing xcb-cursor."""
    if sys.platform == "darwin" or os.environ.get("WAYLAND_DISPLAY"):
        return None
    display = os.environ.get("DISPLAY")
    if not display:
        return "no display"
    import ctypes
    import ctypes.util
    path = ctypes.util.find_library("xcb")
    if path is None:
        return None                    # cannot check: let Qt try
    try:
        xcb = ctypes.CDLL(path)
    except OSError:
        return None
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    conn = xcb.xcb_connect(None, None)
    try:
        failed = xcb.xcb_connection_has_error(conn) != 0
    finally:
        xcb.xcb_disconnect(conn)
    return f"the display DISPLAY={display} cannot be reached" if failed else None


def cmd_default(args) -> int:
    """`uplift`: the GUI on the default device, or headless meters with no display."""
    why = display_problem()
    if why is None:
        from ui.app import main as gui_main
        return gui_main(args) or 0
    print(f"uplift: {why}; running headless (Ctrl-C to stop)", file=sys.stderr)
    args.headless = True
    return cmd_run(args)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="uplift", description="Uplift: DRIFT (40-band upward) then "
                                 "SETTLE (downward) dynamics, live.")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")

    def add_values(p):
        p.add_argument("--preset", metavar="P", help="factory or user preset name")
        p.add_argument("--set", metavar="ID=VALUE", action="append", default=[],
                       help="set a parameter (repeatable); see `uplift params`")

    run_parsers = [ap]
    p = sub.add_parser("run", help="live audio (GUI or --headless)")
    run_parsers.append(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("render", help="process files offline, bit-identical to live",
                       description="Render IN to OUT, or several INs into the folder OUT. The "
                       "output is aligned with the input and has its length (the engine's "
                       "latency compensated); it never replaces an input, nor an existing "
                       "file without --force.")
    p.add_argument("paths", nargs="+", metavar="IN... OUT")
    add_values(p)
    p.add_argument("--block", type=int, default=512, metavar="N", help="block size (1..8192)")
    p.add_argument("--report", metavar="PNG", help="also write a PNG report: levels in dBFS, band lifts, "
                   "gain reduction, and peak, RMS, loudness (LUFS) and noise floor before and after")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="render N files at once (several INs)")
    p.add_argument("--force", action="store_true", help="replace existing output files")
    p.add_argument("--live-alignment", action="store_true",
                   help="keep the live delay (the engine's latency) instead of aligning")
    p.set_defaults(func=cmd_render)

    sub.add_parser("devices", help="list audio devices and host APIs").set_defaults(func=cmd_devices)
    sub.add_parser("presets", help="list factory and user presets").set_defaults(func=cmd_presets)
    sub.add_parser("params", help="print the parameter table").set_defaults(func=cmd_params)
    sub.add_parser("bench", help="engine cost per frame against JUCE, and latency") \
        .set_defaults(func=cmd_bench)

    from app.session.run import add_run_arguments
    for rp in run_parsers:
        add_run_arguments(rp)
    ap.set_defaults(func=cmd_default)
    return ap


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from app.render import RenderError
        known = (UserError, RenderError, KeyError, ValueError, OSError, RuntimeError)
        try:
            import soundfile
            known += (soundfile.LibsndfileError,)
        except ImportError:
            pass
        try:
            return int(args.func(args) or 0)
        except known as e:
            print(f"uplift: error: {one_line(e)}", file=sys.stderr)
            return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except BaseException as e:
        from app.render import Interrupted
        if isinstance(e, Interrupted):     # SIGTERM/SIGHUP during a render, cleaned up
            return 128 + e.signum
        raise


if __name__ == "__main__":
    sys.exit(main())
