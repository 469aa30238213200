"""OSC control as a GUI setting (product.md, "OSC"): on or off, port, and
whether other computers may reach it; kept in settings.json ("osc") and
started with the window. `--osc PORT` on the command line wins for that run
and is not saved."""
from __future__ import annotations

from PyQt6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QSpinBox, QVBoxLayout

LOCAL, ANY = "127.0.0.1", "0.0.0.0"
DEFAULT_PORT = 9000
SETTINGS_KEY = "osc"


class OscControl:
    """Owns the window's OscServer; `session()` returns the session in use."""

    def __init__(self, session):
        self._session = session
        self.server = None
        self.error: str | None = None

    @property
    def running(self) -> bool:
        return self.server is not None

    def status(self) -> str:
        if self.server is not None:
            host, port = self.server.address[:2]
            return f"OSC on {host}:{port}"
        return f"OSC off ({self.error})" if self.error else "OSC off"

    def start(self, port: int, host: str = LOCAL) -> bool:
        from app.control.osc import OscError, OscServer
        self.stop()
        try:
            self.server = OscServer(self._session, int(port), host).start()
            self.error = None
            return True
        except OscError as e:
            self.error = str(e)
            return False

    def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            server.stop()

    def saved(self) -> dict:
        """{"enabled", "port", "host"} from settings.json; defaults where missing or odd."""
        from app.settings import SettingsError, load_settings
        try:
            item = load_settings().get(SETTINGS_KEY)
        except SettingsError:
            item = None
        item = item if isinstance(item, dict) else {}
        port = item.get("port")
        ok_port = isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535
        return {"enabled": item.get("enabled") is True,
                "port": port if ok_port else DEFAULT_PORT,
                "host": ANY if item.get("host") == ANY else LOCAL}

    def apply(self, enabled: bool, port: int, host: str = LOCAL) -> bool:
        """Start or stop as asked and save the choice. False if OSC could not
        start (the reason is in `error`; the choice is saved all the same)."""
        from app.settings import SettingsError, update_settings
        ok = self.start(port, host) if enabled else (self.stop() or True)
        try:
            update_settings(**{SETTINGS_KEY: {"enabled": bool(enabled), "port": int(port),
                                              "host": host}})
        except SettingsError as e:
            self.error = f"{self.error + '; ' if self.error else ''}not saved: {e}"
            return False
        return ok

    def start_from_settings(self) -> bool:
        s = self.saved()
        return self.start(s["port"], s["host"]) if s["enabled"] else False


class OscDialog(QDialog):
    def __init__(self, control: OscControl, parent=None):
        super().__init__(parent)
        self.control = control
        self.setWindowTitle("OSC control")
        s = control.saved()
        if control.server is not None:
            s = {"enabled": True, "port": control.server.address[1],
                 "host": control.server.address[0]}
        self.enabled = QCheckBox("Listen for OSC")
        self.enabled.setChecked(s["enabled"])
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(s["port"])
        self.remote = QCheckBox("Accept from other computers (all network interfaces)")
        self.remote.setChecked(s["host"] == ANY)
        form = QFormLayout()
        form.addRow(self.enabled)
        form.addRow("UDP port", self.port)
        form.addRow(self.remote)
        help_ = QLabel("/uplift/param/&lt;id&gt; value sets, /uplift/get/&lt;id&gt; replies, "
                       "/uplift/preset name loads, /uplift/meters/subscribe hz streams "
                       "meters. Off the local machine anyone on the network can "
                       "control Uplift: open it only on a network you trust.")
        help_.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(help_)
        lay.addWidget(buttons)

    def choice(self) -> tuple[bool, int, str]:
        return (self.enabled.isChecked(), self.port.value(),
                ANY if self.remote.isChecked() else LOCAL)
