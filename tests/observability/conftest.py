"""Fixtures of the observability tests: a stack of their own with tracing on (every span goes to
a JSON-lines file, TME_TRACE_FILE), dependency metrics sampled every second, and its service
logs in a file of their own; and one full user flow through it (register, login, refresh, track,
analytics) whose secrets the tests look for in the logs."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from conftest import Database
from ingest.helpers import wait_until
from schema_check import schema_hooks

from services.devstack import DevStack
from services.shared.embedded import free_port

SERVICES = ("gateway", "users", "tracking", "subscriber")
PASSWORD = "observability horse battery staple"


class LogFile:
    """Collects each service's output lines (thread-safe) and keeps a copy on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._file = open(path, "w", buffering=1)

    def __call__(self, name: str, line: str) -> None:
        with self._lock:
            self.lines.append((name, line))
            self._file.write(f"{name:<10} | {line}\n")


@dataclass
class TracedStack:
    dev: DevStack
    spans_path: Path
    logs: LogFile

    @property
    def gateway_url(self) -> str:
        return self.dev.gateway_url

    def url(self, service: str) -> str:
        return self.dev.services[service].url

    def spans(self) -> list[dict[str, Any]]:
        if not self.spans_path.exists():
            return []
        return [orjson.loads(line) for line in self.spans_path.read_bytes().splitlines() if line.strip()]

    def service_log_lines(self) -> list[tuple[str, str]]:
        return [(name, line) for name, line in list(self.logs.lines) if name in SERVICES]


@pytest.fixture(scope="session")
def traced_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TracedStack]:
    data_dir = tmp_path_factory.mktemp("traced-stack")
    spans = data_dir / "spans.jsonl"
    logs = LogFile(data_dir / "services.log")
    dev = DevStack(
        data_dir,
        ports={name: free_port() for name in SERVICES},
        pg_port=free_port(),
        redis_port=free_port(),
        sink=logs,
        extra_env={"TME_TRACE_FILE": str(spans), "TME_MONITOR_INTERVAL_SECONDS": "1", "TME_LOG_LEVEL": "INFO"},
    )
    try:
        dev.start()
        yield TracedStack(dev, spans, logs)
    finally:
        dev.stop()


def wait_for(predicate: Any, what: str, timeout: float = 30.0) -> Any:
    return wait_until(predicate, timeout, what)


@dataclass
class Flow:
    """What one user did through the gateway, and the secrets involved."""

    email: str
    project_id: int
    write_key: str
    secrets: dict[str, str] = field(default_factory=dict)
    track_trace_ids: list[str] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)


def run_flow(stack: TracedStack) -> Flow:
    email = f"obs-{uuid.uuid4().hex[:10]}@example.com"
    with httpx.Client(base_url=stack.gateway_url, timeout=30, event_hooks=schema_hooks()) as client:
        registered = client.post("/api/auth/register", json={"name": "Obs", "email": email, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        body = registered.json()
        flow = Flow(email, int(body["project"]["id"]), body["project"]["writeKey"])
        flow.secrets = {"password": PASSWORD, "register access token": body["accessToken"],
                        "register refresh token": body["refreshToken"]}
        wrong = client.post("/api/auth/login", json={"email": email, "password": PASSWORD + "!"})
        assert wrong.status_code == 401, wrong.text
        flow.secrets["wrong password"] = PASSWORD + "!"
        login = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        refreshed = client.post("/api/auth/refresh", json={"refreshToken": login.json()["refreshToken"]})
        assert refreshed.status_code == 200, refreshed.text
        tokens = refreshed.json()
        flow.secrets.update({"login access token": login.json()["accessToken"],
                             "login refresh token": login.json()["refreshToken"],
                             "refreshed access token": tokens["accessToken"],
                             "refreshed refresh token": tokens["refreshToken"]})
        now = int(time.time() * 1000)
        for i in range(3):
            message_id = f"obs-{uuid.uuid4().hex}"
            sent = client.post("/api/track", json={
                "apiKey": flow.write_key, "eventName": "PAGE_VIEW", "userId": f"visitor-{i}", "sessionId": "s-1",
                "eventTime": now - 1000, "messageId": message_id, "page": "https://shop.example.com/",
            })
            assert sent.status_code == 200, sent.text
            flow.message_ids.append(message_id)
        refused = client.post("/api/track", json={"apiKey": flow.write_key, "eventName": ""})
        assert refused.status_code == 422, refused.text
        unknown = client.post("/api/track", json={"apiKey": "wk_unknown", "eventName": "x", "userId": "u"})
        assert unknown.status_code == 401, unknown.text
        auth = {"Authorization": f"Bearer {tokens['accessToken']}"}
        base = f"/api/projects/{flow.project_id}"

        db = Database(stack.dev.database_url)
        wait_for(lambda: db.fetchval("SELECT count(*) FROM events WHERE project_id = $1", flow.project_id) >= 3,
                 "the tracked events to be stored")
        for path in ("stats/summary", "stats/timeseries", "stats/breakdown?by=browser", "events", "sessions",
                     "retention"):
            answer = client.get(f"{base}/{path}", headers=auth)
            assert answer.status_code == 200, (path, answer.text)
    return flow


@pytest.fixture(scope="session")
def flow(traced_stack: TracedStack) -> Flow:
    return run_flow(traced_stack)
