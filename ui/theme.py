"""Colours, fonts and the application style sheet (dark theme)."""
from __future__ import annotations

from PyQt6.QtGui import QColor, QFont, QPalette

BG = "#14161b"
PANEL = "#1c1f26"
PANEL_HI = "#232731"
BORDER = "#2d323d"
TRACK = "#2a2e38"
TEXT = "#dde1e8"
TEXT_DIM = "#8b93a3"
TEXT_FAINT = "#5d6473"
WARN = "#ffb454"
ERROR = "#ff6b6b"
OK = "#7fd88f"
LEARN = "#ffd166"

#: Accent per parameter group (knob arcs, panel titles, power switches).
ACCENT = {
    "global": "#9aa7bd",
    "input": "#9aa7bd",
    "gate": "#7aa2f7",
    "drift": "#3fd0b0",
    "settle": "#f29e4c",
    "output": "#c792ea",
}

METER_GREEN = QColor("#3fd0b0")
METER_YELLOW = QColor("#e8d25a")
METER_RED = QColor("#ff5d5d")
GR_COLOUR = QColor("#f29e4c")
GATE_GR_COLOUR = QColor("#7aa2f7")


def accent(group: str) -> QColor:
    return QColor(ACCENT.get(group, ACCENT["global"]))


def heat_colour(h: float) -> QColor:
    """Cool (teal-blue) at 0 through amber to red at 1."""
    h = min(max(float(h), 0.0), 1.0)
    stops = [(0.0, (64, 160, 230)), (0.35, (63, 208, 176)), (0.65, (240, 190, 70)),
             (1.0, (255, 80, 70))]
    for (h0, c0), (h1, c1) in zip(stops, stops[1:], strict=False):
        if h <= h1:
            t = (h - h0) / (h1 - h0) if h1 > h0 else 0.0
            return QColor(*(int(round(a + (b - a) * t)) for a, b in zip(c0, c1, strict=True)))
    return QColor(*stops[-1][1])


def ui_font(px: int = 12, bold: bool = False) -> QFont:
    f = QFont()
    f.setPixelSize(px)
    f.setBold(bold)
    return f


STYLE = f"""
QMainWindow, QWidget#central {{ background: {BG}; }}
QWidget {{ color: {TEXT}; font-size: 12px; }}
QToolTip {{ background: {PANEL_HI}; color: {TEXT}; border: 1px solid {BORDER}; padding: 4px; }}
QMenuBar {{ background: {BG}; color: {TEXT}; border-bottom: 1px solid {BORDER}; }}
QMenuBar::item {{ padding: 4px 10px; background: transparent; }}
QMenuBar::item:selected {{ background: {PANEL_HI}; }}
QMenu {{ background: {PANEL}; color: {TEXT}; border: 1px solid {BORDER}; padding: 4px; }}
QMenu::item {{ padding: 5px 22px 5px 22px; }}
QMenu::item:selected {{ background: #2f3644; }}
QMenu::item:disabled {{ color: {TEXT_FAINT}; }}
QMenu::separator {{ height: 1px; background: {BORDER}; margin: 4px 8px; }}
QFrame#panel {{ background: {PANEL}; border: 1px solid {BORDER}; border-radius: 8px; }}
QFrame#header {{ background: {PANEL}; border: 1px solid {BORDER}; border-radius: 8px; }}
QLabel#panelTitle {{ font-size: 12px; font-weight: 700; letter-spacing: 2px; }}
QLabel#wordmark {{ font-size: 17px; font-weight: 800; letter-spacing: 4px; color: {TEXT}; }}
QLabel#readoutKey {{ color: {TEXT_DIM}; font-size: 10px; font-weight: 600; letter-spacing: 1px; }}
QLabel#readoutValue {{ color: {TEXT}; font-size: 13px; font-weight: 600; }}
QLabel#dim {{ color: {TEXT_DIM}; font-size: 11px; }}
QLabel#switchLabel {{ color: {TEXT_DIM}; font-size: 11px; }}
QPushButton {{ background: {PANEL_HI}; color: {TEXT}; border: 1px solid {BORDER};
              border-radius: 5px; padding: 4px 10px; }}
QPushButton:hover {{ border-color: #465063; }}
QPushButton:focus {{ border-color: #5a6a88; }}
QPushButton:checked {{ background: #34405a; border-color: #6f86b8; }}
QPushButton:disabled {{ color: {TEXT_FAINT}; }}
QPushButton#segment {{ border-radius: 0px; padding: 3px 6px; font-size: 11px; }}
QPushButton#segment[first="true"] {{ border-top-left-radius: 5px; border-bottom-left-radius: 5px; }}
QPushButton#segment[last="true"] {{ border-top-right-radius: 5px; border-bottom-right-radius: 5px; }}
QPushButton#bypass:checked {{ background: #5a3a1c; border-color: {WARN}; color: #ffe2b8; }}
QPushButton#match:checked {{ background: #213f5c; border-color: #5fb3ff; color: #d5ebff; }}
QPushButton#bypass, QPushButton#match, QPushButton#ab, QToolButton#listen {{ font-weight: 700;
              letter-spacing: 1px; padding: 6px 14px; }}
QToolButton#listen:checked {{ background: #213f5c; border-color: #5fb3ff; color: #d5ebff; }}
QToolButton {{ background: {PANEL_HI}; color: {TEXT}; border: 1px solid {BORDER};
              border-radius: 5px; padding: 4px 10px; }}
QToolButton:hover {{ border-color: #465063; }}
QToolButton::menu-indicator {{ image: none; width: 0px; }}
QStatusBar {{ background: {BG}; color: {TEXT_DIM}; border-top: 1px solid {BORDER}; }}
QStatusBar QLabel {{ color: {TEXT_DIM}; padding: 0 6px; }}
QLineEdit, QInputDialog QLineEdit {{ background: {BG}; border: 1px solid {BORDER};
              border-radius: 4px; padding: 4px; color: {TEXT}; }}
QDialog, QMessageBox, QInputDialog {{ background: {PANEL}; }}
"""


def apply(app) -> None:
    """Dark palette + style sheet on a QApplication."""
    app.setStyle("Fusion")
    pal = QPalette()
    pal.setColor(QPalette.ColorRole.Window, QColor(BG))
    pal.setColor(QPalette.ColorRole.WindowText, QColor(TEXT))
    pal.setColor(QPalette.ColorRole.Base, QColor(BG))
    pal.setColor(QPalette.ColorRole.AlternateBase, QColor(PANEL))
    pal.setColor(QPalette.ColorRole.Text, QColor(TEXT))
    pal.setColor(QPalette.ColorRole.Button, QColor(PANEL_HI))
    pal.setColor(QPalette.ColorRole.ButtonText, QColor(TEXT))
    pal.setColor(QPalette.ColorRole.Highlight, QColor("#3a5a8c"))
    pal.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
    pal.setColor(QPalette.ColorRole.ToolTipBase, QColor(PANEL_HI))
    pal.setColor(QPalette.ColorRole.ToolTipText, QColor(TEXT))
    app.setPalette(pal)
    app.setStyleSheet(STYLE)
