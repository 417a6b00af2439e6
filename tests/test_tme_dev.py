"""`tme dev` (what `make run` starts): the whole stack comes up on embedded PostgreSQL and Redis,
a user can register, log in, refresh, read /api/me and create a project through the gateway, a
service that dies is restarted with a line in the log, Ctrl-C leaves nothing running, and a
second start reuses the data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.shared.embedded import free_port, port_free, port_open

STARTUP_SECONDS = 90  # the bound for a fresh machine


def _four_free_ports() -> int:
    """A base port with base..base+3 free (gateway, users, tracking, subscriber)."""
    for _ in range(50):
        base = free_port()
        if all(port_free(base + i) for i in range(1, 4)):
            return base
    raise RuntimeError("no four consecutive free ports")


class DevProcess:
    """`python -m services.cli dev` in its own process group, its output collected line by line."""

    def __init__(self, data_dir: Path, base: int, pg_port: int, redis_port: int) -> None:
        self.ports = [base, base + 1, base + 2, base + 3, pg_port, redis_port]
        env = {**os.environ, "TME_DEMO": "0", "PYTHONUNBUFFERED": "1"}
        for name in ("TME_DATABASE_URL", "TME_REDIS_URL"):
            env.pop(name, None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "dev", "--data-dir", str(data_dir), "--port", str(base),
             "--pg-port", str(pg_port), "--redis-port", str(redis_port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        self.lines: list[str] = []
        self.url = f"http://127.0.0.1:{base}"
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip())

    def wait_for_line(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if text in line:
                    return line
            assert self.proc.poll() is None, "tme dev exited:\n" + "\n".join(self.lines[-150:])
            time.sleep(0.2)
        raise AssertionError(f"no line with {text!r} within {timeout}s:\n" + "\n".join(self.lines[-150:]))

    def children_running(self, module: str) -> list[int]:
        """Pids of processes started by this stack that run `module`."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == self.proc.pid and module.encode() in cmdline:
                pids.append(int(entry.name))
        return pids

    def interrupt(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise AssertionError("tme dev did not stop within 60 s of Ctrl-C") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def dev_ports() -> tuple[int, int, int]:
    return _four_free_ports(), free_port(), free_port()


@pytest.fixture
def run_dev(tmp_path: Path, dev_ports: tuple[int, int, int]) -> Iterator:
    started: list[DevProcess] = []

    def start() -> DevProcess:
        dev = DevProcess(tmp_path / "data", *dev_ports)
        started.append(dev)
        return dev

    yield start
    for dev in started:
        dev.kill()


def test_tme_dev_serves_the_account_round_trip_restarts_services_and_stops_cleanly(run_dev) -> None:
    dev = run_dev()
    dev.wait_for_line("Track My Events is running", STARTUP_SECONDS)
    assert httpx.get(f"{dev.url}/healthz").json() == {"status": "ok"}

    with httpx.Client(base_url=dev.url, timeout=30) as http:
        registered = http.post("/api/auth/register", json={"name": "Dev", "email": "dev@example.com",
                                                           "password": "a long dev password"})
        assert registered.status_code == 201, registered.text
        login = http.post("/api/auth/login", json={"email": "dev@example.com", "password": "a long dev password"})
        assert login.status_code == 200, login.text
        refreshed = http.post("/api/auth/refresh", json={"refreshToken": login.json()["refreshToken"]})
        assert refreshed.status_code == 200, refreshed.text
        bearer = {"authorization": f"Bearer {refreshed.json()['accessToken']}"}
        assert http.get("/api/me", headers=bearer).json()["email"] == "dev@example.com"
        project = http.post("/api/projects", json={"name": "Shop"}, headers=bearer)
        assert project.status_code == 201, project.text
        assert project.json()["writeKey"]

    # a service that dies is restarted, with a line in the log
    (users_pid,) = dev.children_running("services.users")
    os.kill(users_pid, signal.SIGKILL)
    dev.wait_for_line("users exited with code", 15)
    deadline = time.monotonic() + 30
    while not dev.children_running("services.users") or httpx.get(f"{dev.url}/readyz").status_code != 200:
        assert time.monotonic() < deadline, "users was not restarted:\n" + "\n".join(dev.lines[-20:])
        time.sleep(0.3)

    assert dev.interrupt() == 0
    # a server's worker processes may release their sockets a moment after their parent exits
    deadline = time.monotonic() + 5
    while (still := [port for port in dev.ports if port_open(port)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not still, f"ports {still} of {dev.ports} still listen 5 s after Ctrl-C:\n" + "\n".join(dev.lines[-30:])

    # a second start reuses the data: the account is still there
    again = run_dev()
    again.wait_for_line("Track My Events is running", STARTUP_SECONDS)
    login = httpx.post(f"{again.url}/api/auth/login", json={"email": "dev@example.com",
                                                           "password": "a long dev password"}, timeout=30)
    assert login.status_code == 200, login.text
    assert again.interrupt() == 0
    assert not any(port_open(port) for port in again.ports)
