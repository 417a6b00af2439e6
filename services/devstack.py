"""The whole stack on one machine: embedded PostgreSQL and Redis (unless URLs are given),
migrations, and the four services as separate processes, supervised like Kubernetes would
(a service that dies is restarted, with a line in the log). Used by `tme dev` and the tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.shared.embedded import EmbeddedPostgres, EmbeddedRedis

SERVICES = ("users", "tracking", "subscriber", "gateway")  # start order: gateway last
DEFAULT_PORTS = {"gateway": 8000, "users": 8001, "tracking": 8002, "subscriber": 8003}

LogSink = Callable[[str, str], None]


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
    ) -> None:
        self.data_dir = Path(data_dir)
        self.ports = {**DEFAULT_PORTS, **(ports or {})}
        self.sink = sink
        self.extra_env = extra_env or {}
        self.postgres: EmbeddedPostgres | None = None
        self.redis: EmbeddedRedis | None = None
        self.database_url = database_url or ""
        self.redis_url = redis_url or ""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.database_url:
            self.postgres = EmbeddedPostgres(self.data_dir / "postgres", pg_port, self.data_dir / "postgres.log")
        if not self.redis_url:
            self.redis = EmbeddedRedis(self.data_dir / "redis", redis_port, self.data_dir / "redis.log")
        self.services: dict[str, ServiceProcess] = {}
        self._stopping = False

    # -- dependencies ---------------------------------------------------------------
    def start_dependencies(self) -> None:
        if self.postgres:
            self.database_url = self.postgres.start()
            self.sink("postgres", f"embedded PostgreSQL ready at {self.database_url} (data {self.postgres.data_dir})")
        if self.redis:
            self.redis_url = self.redis.start()
            self.sink("redis", f"embedded Redis ready at {self.redis_url} (data {self.redis.data_dir})")

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

    def supervise(self, poll: float = 1.0) -> None:
        """Restart any service that died, with a back-off, until stop() is called."""
        while not self._stopping:
            for key, svc in list(self.services.items()):
                if not svc.alive() and not self._stopping:
                    name = svc.name
                    code = svc.proc.returncode if svc.proc else None
                    delay = min(30, 2 ** min(svc.restarts, 5))
                    self.sink("tme", f"{name} exited with code {code}; restarting in {delay}s "
                                     f"(restart #{svc.restarts + 1})")
                    time.sleep(delay)
                    if self._stopping:
                        break
                    restarts = svc.restarts + 1
                    new = self.start_service(name, wait=False, key=key, port=svc.port, env=svc.env)
                    new.restarts = restarts
            time.sleep(poll)

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
