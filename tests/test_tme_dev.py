"""`tme dev` (what `make run` starts): the whole stack comes up on embedded PostgreSQL and Redis,
a user can register, log in, refresh, read /api/me and create a project through the gateway, a
service that dies is restarted with a line in the log, Ctrl-C leaves nothing running, and a
second start reuses the data. The embedded Redis and PostgreSQL, SIGKILLed while events arrive,
come back by themselves on their data (no zombie left, no stale postmaster.pid in the way), and
every event answered 2xx is stored exactly once."""

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
import schema_check

from bench.faults import FAST_RECLAIM, AckedLoad, count_against_acked
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

    def __init__(self, data_dir: Path, base: int, pg_port: int, redis_port: int,
                 env: dict[str, str] | None = None) -> None:
        self.ports = [base, base + 1, base + 2, base + 3, pg_port, redis_port]
        self.database_url = f"postgresql://postgres@127.0.0.1:{pg_port}/tme"
        env = {**os.environ, "TME_DEMO": "0", "PYTHONUNBUFFERED": "1", **(env or {})}
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

    def wait_for_line(self, text: str, timeout: float, after: int = 0) -> str:
        """The first line from line number `after` on that contains `text`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines[after:]:
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

    def child_running(self, program: str) -> int:
        """The pid of the one process started by this stack whose program is `program`
        (e.g. redis-server, postgres)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                command = (entry / "comm").read_text().strip()  # redis-server rewrites its cmdline
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == self.proc.pid and command == program:
                pids.append(int(entry.name))
        assert len(pids) == 1, f"{program}: {pids}"
        return pids[0]

    def interrupt(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise AssertionError("tme dev did not stop within 60 s of Ctrl-C") from None

    def kill(self) -> None:
        """Stop tme dev and all it started: SIGTERM first, so that it stops its services and
        databases (they run in sessions of their own, which a signal to its process group does not
        reach), SIGKILL to its group when that takes longer than a minute."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
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
    # log lines for a person: "gateway    | 12:04:05 INFO  uvicorn: Application startup complete.", no
    # JSON, and no warning nobody can act on (platformdirs' XDG_RUNTIME_DIR, ...)
    logged = [line.split(" | ", 1)[1] for line in list(dev.lines) if " | " in line]
    assert any(line.endswith("INFO  uvicorn: Application startup complete.") for line in logged), dev.lines
    assert not any(line.startswith("{") for line in logged), dev.lines
    assert not any("Warning" in line or "warning" in line for line in dev.lines), dev.lines

    with httpx.Client(base_url=dev.url, timeout=30, event_hooks=schema_check.schema_hooks()) as http:
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
    login = schema_check.post(f"{again.url}/api/auth/login", json={"email": "dev@example.com",
                                                           "password": "a long dev password"}, timeout=30)
    assert login.status_code == 200, login.text
    assert again.interrupt() == 0
    assert not any(port_open(port) for port in again.ports)


def _gone(pid: int) -> bool:
    """No process of that pid, not even a zombie waiting to be reaped."""
    return not Path(f"/proc/{pid}").exists()


@pytest.fixture(scope="module")
def supervised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    """One `tme dev` for the fault tests; its subscriber reclaims entries whose delivery was lost
    with Redis after 2 s rather than 30 s."""
    dev = DevProcess(tmp_path_factory.mktemp("faults") / "data", _four_free_ports(), free_port(), free_port(),
                     env=FAST_RECLAIM)
    dev.wait_for_line("Track My Events is running", STARTUP_SECONDS)
    yield dev
    dev.kill()


def _account(dev: DevProcess) -> tuple[int, str]:
    registered = schema_check.post(f"{dev.url}/api/auth/register", timeout=30, json={
        "name": "Faults", "email": f"faults-{time.monotonic_ns()}@example.com", "password": "a long dev password"})
    assert registered.status_code == 201, registered.text
    project = registered.json()["project"]
    return int(project["id"]), project["writeKey"]


@pytest.mark.timeout(420)  # tme dev's start (module fixture), the kill, the recovery, the count
@pytest.mark.parametrize("program", ["redis-server", "postgres"])
def test_a_database_sigkilled_mid_ingest_comes_back_by_itself_and_no_acknowledged_event_is_lost(
    supervised: DevProcess, program: str
) -> None:
    """SIGKILL of the embedded Redis (ingest answers 503 + Retry-After meanwhile, and the SDK-like
    sender resends) or of PostgreSQL's postmaster (ingest goes on into the stream) while batches
    arrive: tme dev reaps it, says so, starts it again on its data, and every event answered 2xx
    is stored exactly once."""
    dev = supervised
    name = "redis" if program == "redis-server" else "postgres"
    project_id, key = _account(dev)
    with AckedLoad(dev.url, key) as load:
        load.wait_acked(300, 60)
        mark = len(dev.lines)
        victim = dev.child_running(program)
        os.kill(victim, signal.SIGKILL)
        dev.wait_for_line(f"{name} exited with code -9", 30, after=mark)
        dev.wait_for_line(f"{name} is back", 90, after=mark)
        assert _gone(victim)  # reaped: no zombie holds the pid (nor, for PostgreSQL, postmaster.pid)
        load.wait_acked(load.acked_count() + 300, 60)  # ingest goes on by itself
        assert dev.child_running(program) != victim
    refusals = {status for status in load.statuses if not status.startswith("2")}
    assert refusals <= {"503", "ReadTimeout", "ConnectError", "RemoteProtocolError"}, load.statuses
    outcome = count_against_acked(dev.database_url, project_id, load.acked, timeout=90)
    assert outcome.ok, outcome.summary()


def test_a_stale_postmaster_pid_does_not_block_a_restart(tmp_path: Path) -> None:
    """postmaster.pid left by a killed postmaster whose pid now belongs to another program (pid
    reuse), or to a zombie nobody reaped: PostgreSQL itself would refuse to start while that pid
    exists; the embedded server removes the stale file, says so, and starts on its data."""
    from services.shared.embedded import EmbeddedPostgres

    pg = EmbeddedPostgres(tmp_path / "pg", free_port())
    pg.start()
    pid_file = pg.data_dir / "postmaster.pid"
    assert pg.proc is not None
    pg.proc.kill()
    pg.proc.wait()
    lines = pid_file.read_text().split("\n")
    other = subprocess.Popen(["sleep", "60"])  # alive, not a postgres
    zombie = subprocess.Popen(["true"])  # exits, and is not reaped until the end
    try:
        for pid, why in ((other.pid, "not a postgres"), (zombie.pid, "a zombie")):
            deadline = time.monotonic() + 10
            while why == "a zombie" and not _state_is_zombie(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            pid_file.write_text("\n".join([str(pid), *lines[1:]]))
            pg.start()
            assert pg.last_cleanup == f"removed a stale postmaster.pid (pid {pid} is {why})"
            assert pid_file.read_text().split("\n", 1)[0] == str(pg.proc.pid)
            pg.proc.kill()
            pg.proc.wait()
    finally:
        other.kill()
        other.wait()
        zombie.wait()
        pg.stop()


def _state_is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False
