"""`render --report PNG`: input/output waveforms, per-band lift and gain reduction over time.

Drawn with QPainter on a QImage (offscreen Qt platform when there is no
display), so it needs nothing beyond the GUI stack.
"""
from __future__ import annotations

import os

import numpy as np

from engine import meters as M

WIDTH, HEIGHT = 1400, 900
BG, FG, GRID = "#15171c", "#d8dce4", "#2a2e37"
IN_COLOUR, OUT_COLOUR, GR_COLOUR = "#5d7290", "#7fd1b9", "#f0a050"
LIFT_MAX_DB = 18.0


def _app():
    # A full QApplication (not QGuiApplication), so a GUI later in the same
    # process can still use the instance.
    from PyQt6.QtWidgets import QApplication
    if QApplication.instance() is None:
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        _app.ref = QApplication([])
    return QApplication.instance()


def _heat_colour(v: float):
    from PyQt6.QtGui import QColor
    v = min(max(v, 0.0), 1.0)
    return QColor.fromHsvF(0.62 - 0.55 * v, 0.75, 0.15 + 0.85 * v)


def write_report(path: str, trace, title: str) -> None:
    from PyQt6.QtCore import QPointF, QRectF
    from PyQt6.QtGui import QColor, QFont, QImage, QPainter, QPen

    _app()
    t, inp, out, lift, gr = trace.arrays()
    img = QImage(WIDTH, HEIGHT, QImage.Format.Format_RGB32)
    img.fill(QColor(BG))
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    font = QFont()
    font.setPointSize(10)
    p.setFont(font)
    left, right = 90, WIDTH - 30
    panels = [(60, 300, "Waveform (peak): input / output"), (330, 640, "DRIFT lift per band (dB)"),
              (670, 860, "SETTLE gain reduction (dB)")]
    p.setPen(QColor(FG))
    p.drawText(QPointF(left, 30), f"Uplift render report — {os.path.basename(title)}  "
                                  f"({t[-1] if len(t) else 0:.1f} s)")
    duration = float(t[-1]) if len(t) else 1.0

    def x_of(tt):
        return left + (right - left) * (tt / duration if duration > 0 else 0.0)

    for top, bottom, label in panels:
        p.setPen(QPen(QColor(GRID)))
        p.drawRect(QRectF(left, top, right - left, bottom - top))
        p.setPen(QColor(FG))
        p.drawText(QPointF(left, top - 6), label)

    # waveforms: mirrored peak envelopes
    top, bottom = panels[0][:2]
    mid = (top + bottom) / 2
    half = (bottom - top) / 2 - 4
    for env, colour in ((inp, IN_COLOUR), (out, OUT_COLOUR)):
        p.setPen(QPen(QColor(colour), 1.2))
        for k in range(1, len(t)):
            a = min(env[k], 1.0) * half
            xx = x_of(t[k])
            p.drawLine(QPointF(xx, mid - a), QPointF(xx, mid + a))

    # lift heat map: time across, band up
    top, bottom = panels[1][:2]
    nb = M.NUM_BANDS
    if len(t) > 1:
        cell_h = (bottom - top) / nb
        for k in range(len(t) - 1):
            x0, x1 = x_of(t[k]), x_of(t[k + 1])
            for b in range(nb):
                v = lift[k, b] / LIFT_MAX_DB
                if v > 0.01:
                    p.fillRect(QRectF(x0, bottom - (b + 1) * cell_h, max(1.0, x1 - x0), cell_h),
                               _heat_colour(v))
    p.setPen(QColor(FG))
    p.drawText(QPointF(10, bottom), "20 Hz")
    p.drawText(QPointF(10, top + 12), "20 kHz")

    # gain reduction
    top, bottom = panels[2][:2]
    gmax = max(6.0, float(np.max(gr)) if len(gr) else 6.0)
    p.setPen(QPen(QColor(GR_COLOUR), 1.5))
    for k in range(1, len(t)):
        p.drawLine(QPointF(x_of(t[k - 1]), top + (bottom - top) * gr[k - 1] / gmax),
                   QPointF(x_of(t[k]), top + (bottom - top) * gr[k] / gmax))
    p.setPen(QColor(FG))
    p.drawText(QPointF(10, top + 12), "0 dB")
    p.drawText(QPointF(10, bottom), f"{gmax:.0f} dB")
    p.drawText(QPointF(left, HEIGHT - 12), "0 s")
    p.drawText(QPointF(right - 60, HEIGHT - 12), f"{duration:.1f} s")
    p.end()
    if not img.save(path, "PNG"):
        raise OSError(f"cannot write report {path}")
