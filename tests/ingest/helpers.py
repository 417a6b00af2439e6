"""Ingest test helpers: a registered project (write key), waiting for rows to land, reading the
event stream's state, and restoring the shared stack after a test disturbed it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import redis
from conftest import Database, unique_email

from services.devstack import DevStack
from services.shared.redis import EVENTS_GROUP, EVENTS_STREAM

PASSWORD = "correct horse battery staple"


@dataclass
class Project:
    id: int
    write_key: str
    access_token: str


def new_project(client: httpx.Client) -> Project:
    response = client.post("/api/auth/register",
                           json={"name": "Ingest", "email": unique_email("ingest"), "password": PASSWORD})
    assert response.status_code == 201, response.text
    body = response.json()
    return Project(int(body["project"]["id"]), body["project"]["writeKey"], body["accessToken"])


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


def count_rows(db: Database, project_id: int) -> int:
    return int(db.fetchval("SELECT count(*) FROM events WHERE project_id = $1", project_id))


def wait_rows(db: Database, project_id: int, expected: int, timeout: float = 20.0) -> list[Any]:
    wait_until(lambda: count_rows(db, project_id) >= expected, timeout, f"{expected} rows of project {project_id}")
    return db.fetch("SELECT * FROM events WHERE project_id = $1 ORDER BY event_time, message_id", project_id)


def stream_drained(rds: redis.Redis) -> bool:
    """True when every entry in the stream was delivered to the group and acknowledged."""
    groups = {g["name"]: g for g in rds.xinfo_groups(EVENTS_STREAM)}
    group = groups.get(EVENTS_GROUP.encode())
    if group is None:
        return False
    last = rds.xrevrange(EVENTS_STREAM, count=1)
    delivered = not last or _id(group["last-delivered-id"]) >= _id(last[0][0])
    return delivered and int(group["pending"]) == 0


def wait_drained(rds: redis.Redis, timeout: float = 20.0) -> None:
    wait_until(lambda: stream_drained(rds), timeout, "the event stream to be consumed and acknowledged")


def _id(value: bytes | str) -> tuple[int, int]:
    text = value.decode() if isinstance(value, bytes) else value
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def metric(url: str, name: str, labels: str = "") -> float:
    """Sum of a Prometheus sample (optionally filtered by a label fragment) at url/metrics."""
    total = 0.0
    for line in httpx.get(f"{url}/metrics", timeout=5).text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {") and labels in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def event(name: str = "Clicked", **extra: Any) -> dict[str, Any]:
    return {"eventName": name, "sessionId": "s-1", "userId": "u-1", "messageId": str(uuid.uuid4()), **extra}


def post_batch(client: httpx.Client, key: str, events: list[dict[str, Any]]) -> httpx.Response:
    return client.post("/api/track", json={"apiKey": key, "batch": events})


def ensure_healthy(stack: DevStack) -> None:
    """Bring the shared stack back to a working state after a test stopped parts of it."""
    if stack.postgres is not None and (stack.postgres.proc is None or stack.postgres.proc.poll() is not None):
        stack.postgres.start()
    if stack.redis is not None and (stack.redis.proc is None or stack.redis.proc.poll() is not None):
        stack.redis.start()
    for name in ("users", "tracking", "subscriber", "gateway"):
        svc = stack.services.get(name)
        if svc is None or not svc.alive():
            stack.start_service(name, env=svc.env if svc else None)
    for name in ("users", "tracking", "subscriber", "gateway"):
        url = stack.services[name].url
        wait_until(lambda url=url: _ready(url), 30, f"{name} to be ready")


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False
