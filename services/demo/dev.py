"""The demo project `tme dev` offers: once the stack is healthy, a background thread loads 180
days of demo traffic (twice the dashboard's longest preset, so every preset has a previous period
to compare with) through the bulk path the first time (when `<data dir>/demo-credentials.json`
does not exist yet), prints the dashboard URL with the demo login, then keeps live traffic at
the history's own volume and daily shape through the real ingest path so the realtime view moves.
Each step is a `tme demo` subprocess in its own session; stop() ends it (no orphans)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from services.demo.account import read_credentials
from services.demo.command import DEMO_DAYS, DEMO_EVENTS

Sink = Callable[[str, str], None]
# lines of `tme demo` that the box says once, or that only repeat the account's details
_SAID_ONCE = ("DEMO ", "dashboard: ", "demo project ", "sending live traffic")


def login_box(gateway_url: str, email: str, password: str, saved_in: Path) -> list[str]:
    """The demo's URL and login framed so that they stand out among the services' log lines."""
    rows = ["Demo dashboard", "", f"  open      {gateway_url}/", f"  email     {email}", f"  password  {password}",
            "", f"saved in {saved_in}", "`tme dev --no-demo` or TME_DEMO=0 turns the demo off"]
    width = max(map(len, rows))
    return ["┌" + "─" * (width + 2) + "┐", *(f"│ {row:<{width}} │" for row in rows), "└" + "─" * (width + 2) + "┘"]
DEV_EVENTS = DEMO_EVENTS
DEV_DAYS = DEMO_DAYS


def demo_enabled(no_demo: bool) -> bool:
    return not no_demo and os.environ.get("TME_DEMO", "1") != "0"


class DemoOffer:
    def __init__(self, *, data_dir: Path, gateway_url: str, database_url: str, env: dict[str, str], sink: Sink,
                 live: bool | None = None, events: int = DEV_EVENTS, days: float = DEV_DAYS) -> None:
        self.credentials = Path(data_dir) / "demo-credentials.json"
        self.gateway_url = gateway_url
        self.database_url = database_url
        self.env = env
        self.sink = sink
        self.live = os.environ.get("TME_DEMO_LIVE", "1") != "0" if live is None else live
        self.events = events
        self.days = days
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="tme-demo", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _command(self, *extra: str) -> list[str]:
        return [sys.executable, "-m", "services.cli", "demo", "--gateway-url", self.gateway_url,
                "--credentials", str(self.credentials), "--quiet", *extra]

    def _call(self, command: list[str], on_ready: Callable[[], None] | None = None) -> int:
        """Runs one `tme demo`, passing its lines on; `on_ready` once it has the account (its
        DEMO line)."""
        with self._lock:
            if self._stopping.is_set():
                return -1
            self._proc = subprocess.Popen(command, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        proc = self._proc
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            if line and not line.startswith(_SAID_ONCE):
                self.sink("demo", line)
            if on_ready is not None and line.startswith("DEMO "):
                on_ready()
                on_ready = None
        code = proc.wait()
        if on_ready is not None and not self._stopping.is_set():  # it ended before: the login all the same
            on_ready()
        return code

    def _login_line(self) -> None:
        """The demo login in a box, the last thing the start prints (service logs aside)."""
        saved = read_credentials(self.credentials)
        if saved:
            for line in login_box(self.gateway_url, saved["email"], saved["password"], self.credentials):
                self.sink("demo", line)

    def _run(self) -> None:
        if not self.credentials.exists():
            self.sink("demo", f"loading a demo project ({self.events:,} events over {self.days:g} days) in the "
                              "background; its login follows in a moment")
            code = self._call(self._command("--events", str(self.events), "--days", str(self.days), "--via", "bulk",
                                            "--database-url", self.database_url))
            if self._stopping.is_set():
                return
            if code != 0:
                self.sink("demo", f"loading the demo project failed (exit code {code}); the stack runs without it")
                return
        if self.live and not self._stopping.is_set():
            # the box once the live sender has logged in, so that its login's log line comes before it
            self._call(self._command("--events", "0", "--live", "--history-events", str(self.events),
                                     "--history-days", str(self.days)), on_ready=self._login_line)
        else:
            self._login_line()

    def stop(self, timeout: float = 10) -> None:
        with self._lock:
            self._stopping.set()
            proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._thread.join(timeout)
