"""The demo project `tme dev` offers: once the stack is healthy, a background thread loads ~30
days of demo traffic through the bulk path the first time (when `<data dir>/demo-credentials.json`
does not exist yet), prints the dashboard URL with the demo login, then keeps a gentle live
trickle through the real ingest path so the realtime view is alive. Each step is a `tme demo`
subprocess in its own session; stop() ends it (no orphans)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from services.demo.account import read_credentials

Sink = Callable[[str, str], None]
DEV_EVENTS = 50_000
DEV_DAYS = 30


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

    def _call(self, command: list[str]) -> int:
        with self._lock:
            if self._stopping.is_set():
                return -1
            self._proc = subprocess.Popen(command, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        proc = self._proc
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            if line and not line.startswith(("DEMO ", "dashboard: ")):  # _login_line() says it once
                self.sink("demo", line)
        return proc.wait()

    def _login_line(self) -> None:
        saved = read_credentials(self.credentials)
        if saved:
            self.sink("demo", f"demo dashboard: open {self.gateway_url}/ and log in as {saved['email']} / "
                              f"{saved['password']}  (saved in {self.credentials})")

    def _run(self) -> None:
        if self.credentials.exists():
            self._login_line()
        else:
            self.sink("demo", f"loading a demo project ({self.events:,} events over {self.days:g} days) in the "
                              "background; `tme dev --no-demo` or TME_DEMO=0 turns this off")
            code = self._call(self._command("--events", str(self.events), "--days", str(self.days), "--via", "bulk",
                                            "--database-url", self.database_url))
            if self._stopping.is_set():
                return
            if code != 0:
                self.sink("demo", f"loading the demo project failed (exit code {code}); the stack runs without it")
                return
            self._login_line()
        if self.live and not self._stopping.is_set():
            self._call(self._command("--events", "0", "--live"))

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
