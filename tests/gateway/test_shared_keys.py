"""Write keys survive an outage of the users service (or PostgreSQL behind it) on every gateway
process: a key that any gateway resolved is accepted by the others, and a rotation or deletion
through any gateway stops the old key everywhere at once.

`down_gateway` (tests/gateway/conftest.py) is a two-process gateway whose users service cannot
be reached, sharing the stack's Redis and stream: to it, the users service is down. The last
test freezes the stack's PostgreSQL itself."""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from conftest import Database

from services.devstack import DevStack

from .conftest import Account, ExtraGateway


def _track(client: httpx.Client, key: str) -> httpx.Response:
    return client.post("/api/track", json={"apiKey": key, "eventName": "Shared", "messageId": str(uuid.uuid4())})


def _track_anew(gateway: ExtraGateway, key: str) -> httpx.Response:
    with gateway.client() as client:
        return _track(client, key)


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _rows(db: Database, project_id: int) -> int:
    return int(db.fetchval("SELECT count(*) FROM events WHERE project_id = $1", project_id))


def test_a_key_one_gateway_resolved_is_accepted_by_another_while_users_is_down(
    client: httpx.Client, down_gateway: ExtraGateway, alice: Account, db: Database,
) -> None:
    key = alice.project["writeKey"]
    with down_gateway.client() as down:
        unseen = _track(down, key)
        assert unseen.status_code == 503, unseen.text  # no gateway has seen it yet: unknown, not wrong
        assert unseen.headers["Retry-After"]

        assert _track(client, key).status_code == 200  # the stack's gateway asks users and shares the answer

        # fresh connections, so either of its processes may answer; neither can ask users
        accepted = [_track_anew(down_gateway, key) for _ in range(4)]
        assert [r.status_code for r in accepted] == [200] * 4, [r.text for r in accepted]
    wait_until(lambda: _rows(db, alice.project["id"]) >= 5, what="the 5 accepted events to land")
    assert _rows(db, alice.project["id"]) == 5  # acknowledged means stored, once


def test_a_rotated_key_stops_at_once_on_every_gateway(
    client: httpx.Client, down_gateway: ExtraGateway, alice: Account,
) -> None:
    old = alice.project["writeKey"]
    assert _track(client, old).status_code == 200
    with down_gateway.client() as down:
        assert _track(down, old).status_code == 200  # shared, and now cached by that process

        rotated = client.post(f"/api/projects/{alice.project['id']}/rotate-key", headers=alice.auth)
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()["writeKey"]

        assert _track(client, old).status_code == 401
        assert [_track(down, old).status_code for _ in range(4)] == [503] * 4  # forgotten, not accepted
        assert _track(client, new).status_code == 200
        assert _track(down, new).status_code == 200


def test_a_deleted_project_s_key_stops_at_once_on_every_gateway(
    client: httpx.Client, down_gateway: ExtraGateway, alice: Account,
) -> None:
    created = client.post("/api/projects", json={"name": "Doomed"}, headers=alice.auth)
    assert created.status_code == 201, created.text
    project = created.json()
    assert _track(client, project["writeKey"]).status_code == 200
    with down_gateway.client() as down:
        assert _track(down, project["writeKey"]).status_code == 200

        assert client.delete(f"/api/projects/{project['id']}", headers=alice.auth).status_code == 202

        assert _track(client, project["writeKey"]).status_code == 401
        assert [_track(down, project["writeKey"]).status_code for _ in range(4)] == [503] * 4


def _parent(pid_dir: Path) -> int | None:
    try:
        return int((pid_dir / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


@contextlib.contextmanager
def frozen_postgres(stack: DevStack) -> Iterator[None]:
    """The embedded PostgreSQL stopped dead (SIGSTOP to the postmaster and every backend), as a
    hung disk or a paused VM would leave it; resumed (SIGCONT) afterwards whatever happens."""
    if stack.postgres is None or stack.postgres.proc is None:
        pytest.skip("this test freezes the embedded PostgreSQL (TME_TEST_DATABASE_URL is set)")
    root = stack.postgres.proc.pid
    pids = [root, *(int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit() and _parent(d) == root)]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


@pytest.fixture(scope="module")
def fresh_gateway(stack: DevStack) -> Iterator[ExtraGateway]:
    """Another gateway (two processes) in front of the real users service, giving up on a write
    key lookup after 1 s."""
    with ExtraGateway(stack, {"TME_INGEST_KEY_LOOKUP_TIMEOUT_SECONDS": "1"}) as gateway:
        yield gateway


def test_while_postgresql_is_frozen_a_gateway_that_never_saw_a_key_accepts_it(
    stack: DevStack, client: httpx.Client, fresh_gateway: ExtraGateway, alice: Account, db: Database,
) -> None:
    key = alice.project["writeKey"]
    assert _track(client, key).status_code == 200  # the stack's gateway resolved it
    with frozen_postgres(stack):
        answers = [_track_anew(fresh_gateway, key) for _ in range(3)]  # users cannot answer: it waits on PostgreSQL
        assert [r.status_code for r in answers] == [200] * 3, [r.text for r in answers]
        assert _track(client, key).status_code == 200
    wait_until(lambda: _rows(db, alice.project["id"]) >= 5, what="the 5 accepted events to land")
    assert _rows(db, alice.project["id"]) == 5
