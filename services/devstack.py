"""The whole stack on one machine: embedded PostgreSQL and Redis (unless URLs are given),
migrations, and the four services as separate processes, supervised like Kubernetes would: a
service, or an embedded PostgreSQL or Redis, that dies is restarted (on its data, with a line in
the log and a back-off that grows while it keeps dying). Used by `tme dev` and the tests."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.shared.embedded import APPENDFSYNC_MODES, EmbeddedPostgres, EmbeddedRedis

SERVICES = ("users", "tracking", "subscriber", "gateway")  # start order: gateway last
DEFAULT_PORTS = {"gateway": 8000, "users": 8001, "tracking": 8002, "subscriber": 8003}

LogSink = Callable[[str, str], None]
EmbeddedServer = EmbeddedPostgres | EmbeddedRedis


@dataclass
class Backoff:
    """Delays between the restarts of one part: `first`, twice that, ... up to `most` seconds
    while it keeps dying; back to `first` once it has run for `stable_after` seconds."""

    first: float = 1.0
    most: float = 30.0
    stable_after: float = 60.0
    failures: int = 0
    started_at: float = field(default_factory=time.monotonic)

    def started(self) -> None:
        self.started_at = time.monotonic()

    def next_delay(self) -> float:
        if time.monotonic() - self.started_at >= self.stable_after:
            self.failures = 0
        delay = min(self.most, self.first * 2.0 ** min(self.failures, 16))
        self.failures += 1
        return delay


@dataclass
class SupervisedServer:
    """An embedded PostgreSQL or Redis under supervision: when it dies it is reaped, and started
    again on its data once its back-off has passed (`due`)."""

    name: str
    server: EmbeddedServer
    backoff: Backoff = field(default_factory=lambda: Backoff(first=0.5, most=10.0))
    due: float | None = None  # monotonic time of the next start attempt while it is down
    restarts: int = 0


def print_sink(name: str, line: str) -> None:
    sys.stdout.write(f"{name:<10} | {line}\n")
    sys.stdout.flush()


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    sink: LogSink
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    backoff: Backoff = field(default_factory=Backoff)
    _reader: threading.Thread | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.name}"],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self._reader = threading.Thread(target=self._pump, args=(self.proc,), daemon=True)
        self._reader.start()

    def _pump(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            self.sink(self.name, raw.decode(errors="replace").rstrip())

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(sig)

    def stop(self, timeout: float = 30) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited with code {self.proc.returncode if self.proc else '?'}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} did not answer /healthz within {timeout:.0f}s")


class DevStack:
    def __init__(
        self,
        data_dir: Path,
        *,
        ports: dict[str, int] | None = None,
        database_url: str | None = None,
        redis_url: str | None = None,
        pg_port: int = 55432,
        redis_port: int = 56379,
        sink: LogSink = print_sink,
        extra_env: dict[str, str] | None = None,
        redis_appendfsync: str | None = None,
    ) -> None:
        """`redis_appendfsync`: the embedded Redis's AOF fsync policy, "always" (a 2xx means on
        disk; the default) or "everysec" (faster; a power loss may drop the last second of
        acknowledged events); default TME_REDIS_APPENDFSYNC."""
        self.data_dir = Path(data_dir)
        self.ports = {**DEFAULT_PORTS, **(ports or {})}
        self.sink = sink
        self.extra_env = extra_env or {}
        self.internal_token = os.environ.get("TME_INTERNAL_TOKEN") or secrets.token_urlsafe(32)
        self.postgres: EmbeddedPostgres | None = None
        self.redis: EmbeddedRedis | None = None
        self.database_url = database_url or ""
        self.redis_url = redis_url or ""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.database_url:
            self.postgres = EmbeddedPostgres(self.data_dir / "postgres", pg_port, self.data_dir / "postgres.log")
        if not self.redis_url:
            appendfsync = redis_appendfsync or os.environ.get("TME_REDIS_APPENDFSYNC") or "always"
            if appendfsync not in APPENDFSYNC_MODES:
                raise ValueError(f"TME_REDIS_APPENDFSYNC must be one of {', '.join(APPENDFSYNC_MODES)}, "
                                 f"not {appendfsync!r}")
            self.redis = EmbeddedRedis(self.data_dir / "redis", redis_port, self.data_dir / "redis.log",
                                       appendfsync=appendfsync)
        self.services: dict[str, ServiceProcess] = {}
        self.servers = [SupervisedServer(name, server) for name, server in
                        (("postgres", self.postgres), ("redis", self.redis)) if server is not None]
        self._restart_due: dict[str, float] = {}  # service key -> monotonic time of its restart
        self._stopping = False

    # -- dependencies ---------------------------------------------------------------
    def start_dependencies(self) -> None:
        if self.postgres:
            self.database_url = self.postgres.start()
            self.sink("postgres", f"embedded PostgreSQL ready at {self.database_url} (data {self.postgres.data_dir})")
        if self.redis:
            self.redis_url = self.redis.start()
            self.sink("redis", f"embedded Redis ready at {self.redis_url} (data {self.redis.data_dir}, "
                               f"appendfsync {self.redis.appendfsync})")
        for supervised in self.servers:
            supervised.backoff.started()

    def migrate(self) -> None:
        subprocess.run([sys.executable, "-m", "services.cli", "migrate"], env=self.base_env(), check=True)

    # -- services -------------------------------------------------------------------
    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TME_")}
        env.update({
            "TME_DATABASE_URL": self.database_url,
            "TME_REDIS_URL": self.redis_url,
            "TME_USERS_URL": f"http://127.0.0.1:{self.ports['users']}",
            "TME_TRACKING_URL": f"http://127.0.0.1:{self.ports['tracking']}",
            "TME_INTERNAL_TOKEN": self.internal_token,  # shared by this stack's services (internal_auth.py)
            # the tracking service runs the projects' retention hourly (the chart runs it as a CronJob)
            "TME_RETENTION_INTERVAL_SECONDS": "3600",
            "PYTHONUNBUFFERED": "1",
        })
        for key, value in os.environ.items():  # explicit TME_* settings from the caller win
            if key.startswith("TME_") and key not in ("TME_DATABASE_URL", "TME_REDIS_URL"):
                env[key] = value
        env.update(self.extra_env)
        return env

    def service_env(self, name: str) -> dict[str, str]:
        env = self.base_env()
        env["TME_PORT"] = str(self.ports[name])
        env["TME_HOST"] = env.get("TME_HOST", "127.0.0.1") if name == "gateway" else "127.0.0.1"
        return env

    def start_service(
        self, name: str, *, wait: bool = True, env: dict[str, str] | None = None, key: str | None = None,
        port: int | None = None,
    ) -> ServiceProcess:
        """Start `python -m services.<name>`; `key`/`port` run an extra instance (e.g. a 2nd subscriber)."""
        port = port or self.ports[name]
        svc_env = {**self.service_env(name), "TME_PORT": str(port), **(env or {})}
        svc = ServiceProcess(name, port, svc_env, self.sink)
        svc.start()
        self._restart_due.pop(key or name, None)
        self.services[key or name] = svc
        if wait:
            svc.wait_healthy()
        return svc

    def start_services(self) -> None:
        for name in SERVICES:
            self.start_service(name, wait=False)
        for name in SERVICES:
            self.services[name].wait_healthy()

    def start(self) -> None:
        self.start_dependencies()
        self.migrate()
        self.start_services()

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def supervise(self, poll: float = 0.5) -> None:
        """Restart any part that died, with a back-off, until stop() is called. Call it from the
        thread that started the stack and outlives it (the embedded servers die with the thread
        that started them: embedded.py)."""
        while not self._stopping:
            self.supervise_once()
            time.sleep(poll)

    def supervise_once(self) -> None:
        """One round of supervision: note what died since the last round (reaping it), and start
        what is due. Never waits for a back-off; a server's start waits until it is ready."""
        for supervised in self.servers:
            if self._stopping:
                return
            self._supervise_server(supervised)
        now = time.monotonic()
        for key, svc in list(self.services.items()):
            if self._stopping or svc.alive():
                continue
            due = self._restart_due.get(key)
            if due is None:
                delay = svc.backoff.next_delay()
                self._restart_due[key] = now + delay
                code = svc.proc.returncode if svc.proc else None
                self.sink("tme", f"{svc.name} exited with code {code}; restarting in {delay:g}s "
                                 f"(restart #{svc.restarts + 1})")
            elif now >= due:
                new = self.start_service(svc.name, wait=False, key=key, port=svc.port, env=svc.env)
                new.restarts, new.backoff = svc.restarts + 1, svc.backoff
                new.backoff.started()

    def _supervise_server(self, supervised: SupervisedServer) -> None:
        server, name = supervised.server, supervised.name
        if supervised.due is None:
            code = server.exited()  # polls, and so reaps a dead server: no zombie holds its pid
            if code is None:
                return
            delay = supervised.backoff.next_delay()
            supervised.due = time.monotonic() + delay
            self.sink("tme", f"{name} exited with code {code}; restarting it on its data in {delay:g}s "
                             f"(restart #{supervised.restarts + 1})")
            return
        if time.monotonic() < supervised.due:
            return
        supervised.restarts += 1
        try:
            server.start()
        except Exception as exc:  # e.g. PostgreSQL's old backends still hold its shared memory
            server.stop()  # a server that came up half-way is not left running unsupervised
            delay = supervised.backoff.next_delay()
            supervised.due = time.monotonic() + delay
            self.sink("tme", f"{name} did not start again ({str(exc).strip() or type(exc).__name__}); "
                             f"next try in {delay:g}s")
            return
        supervised.due = None
        supervised.backoff.started()
        cleanup = getattr(server, "last_cleanup", None)
        if cleanup:
            self.sink(name, cleanup)
        self.sink("tme", f"{name} is back at {server.url} (restart #{supervised.restarts}, data {server.data_dir})")

    def stop(self) -> None:
        self._stopping = True
        running = list(reversed(self.services.values()))
        for svc in running:
            svc.signal(signal.SIGTERM)
        for svc in running:
            svc.stop()
        if self.redis:
            self.redis.stop()
        if self.postgres:
            self.postgres.stop()
