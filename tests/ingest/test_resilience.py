"""Nothing accepted is lost, nothing is stored twice: subscribers killed with SIGKILL or stopped
with SIGTERM mid-batch, PostgreSQL down while events arrive, two subscribers sharing the stream,
a full backlog, and entries the database refuses. Each test restores the shared stack."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import httpx
import pytest
import redis
import schema_check
from conftest import Database

from services.devstack import DevStack
from services.shared.embedded import free_port
from services.shared.redis import DEAD_LETTER_STREAM, EVENTS_GROUP, EVENTS_STREAM
from services.shared.stream import encode_batch

from .helpers import Project, ensure_healthy, event, metric, post_batch, wait_drained, wait_rows, wait_until

FAST_RECLAIM = {"TME_SUBSCRIBER_CLAIM_IDLE_MS": "1000", "TME_SUBSCRIBER_CLAIM_INTERVAL_SECONDS": "0.5"}


class TableLock:
    """Holds `LOCK TABLE event_ids IN SHARE MODE` in an open transaction: subscribers that try to
    write block mid-batch, with their entries read but not acknowledged."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.conn: asyncpg.Connection = self.loop.run_until_complete(asyncpg.connect(url))
        self.loop.run_until_complete(self.conn.execute("BEGIN; LOCK TABLE event_ids IN SHARE MODE"))

    def release(self) -> None:
        if not self.conn.is_closed():
            self.loop.run_until_complete(self.conn.execute("ROLLBACK"))
            self.loop.run_until_complete(self.conn.close())
        self.loop.close()


@pytest.fixture
def restore(stack: DevStack) -> Iterator[DevStack]:
    yield stack
    ensure_healthy(stack)


def send_batches(client: httpx.Client, key: str, batches: int, size: int, tag: str) -> set[str]:
    ids: set[str] = set()
    for i in range(batches):
        events = [event(f"{tag}-{i}") for _ in range(size)]
        response = post_batch(client, key, events)
        assert response.status_code == 200, response.text
        ids.update(e["messageId"] for e in events)
    return ids


def pending_of(rds: redis.Redis, consumer: str | None = None) -> int:
    summary = rds.xpending(EVENTS_STREAM, EVENTS_GROUP)
    if consumer is None:
        return int(summary["pending"])
    return sum(int(c["pending"]) for c in summary["consumers"] or [] if c["name"].decode() == consumer)


def stored_ids(db: Database, project_id: int) -> list[str]:
    return [r["message_id"] for r in db.fetch("SELECT message_id FROM events WHERE project_id = $1", project_id)]


def test_subscriber_killed_mid_batch_loses_and_duplicates_nothing(
    restore: DevStack, client: httpx.Client, db: Database, rds: redis.Redis, project: Project
) -> None:
    stack = restore
    sent = send_batches(client, project.write_key, 5, 20, "before")
    wait_rows(db, project.id, len(sent))

    lock = TableLock(stack.database_url)
    try:
        sent |= send_batches(client, project.write_key, 10, 20, "during")
        wait_until(lambda: pending_of(rds) > 0, 10, "the subscriber to hold entries mid-batch")
        victim = stack.services["subscriber"]
        assert victim.proc is not None
        victim.proc.kill()  # SIGKILL: no shutdown, no acknowledgement
        victim.proc.wait(10)
    finally:
        lock.release()
    assert pending_of(rds) > 0  # the dead consumer's entries are still pending

    replacement = stack.start_service("subscriber", env=FAST_RECLAIM)
    sent |= send_batches(client, project.write_key, 5, 20, "after")
    wait_rows(db, project.id, len(sent), timeout=30)
    wait_drained(rds)
    ids = stored_ids(db, project.id)
    assert len(ids) == len(sent) and set(ids) == sent  # every event exactly once
    assert metric(replacement.url, "tme_subscriber_reclaimed_total") > 0


def test_postgres_down_while_events_arrive(
    restore: DevStack, client: httpx.Client, db: Database, project: Project
) -> None:
    stack = restore
    assert stack.postgres is not None, "this test needs the embedded PostgreSQL"
    sent = send_batches(client, project.write_key, 1, 5, "warm")  # write key now cached by the gateway
    wait_rows(db, project.id, len(sent))

    stack.postgres.stop()
    try:
        for i in range(10):
            sent |= send_batches(client, project.write_key, 1, 20, f"outage-{i}")  # all answered 200
            time.sleep(0.1)
        time.sleep(1.0)  # the subscriber keeps retrying meanwhile
    finally:
        stack.postgres.start()
    wait_rows(db, project.id, len(sent), timeout=40)
    ids = stored_ids(db, project.id)
    assert len(ids) == len(sent) and set(ids) == sent


def test_redis_restarted_while_events_arrive(
    restore: DevStack, client: httpx.Client, db: Database, project: Project
) -> None:
    """While Redis is down the gateway answers 503 with Retry-After (never a 2xx for an event it
    could not queue); once Redis is back it queues again on a new connection, and every event
    answered 2xx, before, during or after, is stored exactly once."""
    stack = restore
    assert stack.redis is not None, "this test needs the embedded Redis"
    sent = send_batches(client, project.write_key, 1, 5, "before")
    wait_rows(db, project.id, len(sent))

    stack.redis.stop()
    try:
        for i in range(5):
            response = post_batch(client, project.write_key, [event(f"down-{i}") for _ in range(3)])
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"].isdigit()
            assert response.json()["error"]["code"] == "queue_unavailable"
    finally:
        stack.redis.start()
    for i in range(20):  # both gateway workers, each on a new connection: not one refusal
        events = [event(f"after-{i}") for _ in range(3)]
        response = post_batch(client, project.write_key, events)
        assert response.status_code == 200, response.text
        sent.update(e["messageId"] for e in events)
    wait_rows(db, project.id, len(sent), timeout=40)
    ids = stored_ids(db, project.id)
    assert len(ids) == len(sent) and set(ids) == sent


def test_two_subscribers_share_the_work_without_duplicates(
    restore: DevStack, gateway_url: str, db: Database, rds: redis.Redis, project: Project
) -> None:
    stack = restore
    second = stack.start_service("subscriber", key="subscriber-2", port=free_port())
    try:
        def worker(n: int) -> set[str]:
            with httpx.Client(base_url=gateway_url, timeout=30, event_hooks=schema_check.schema_hooks()) as c:
                return send_batches(c, project.write_key, 40, 20, f"w{n}")

        with ThreadPoolExecutor(4) as pool:
            sent = set().union(*pool.map(worker, range(4)))
        wait_rows(db, project.id, len(sent), timeout=30)
        wait_drained(rds)
        ids = stored_ids(db, project.id)
        assert len(ids) == len(sent) and set(ids) == sent
        first_rows = metric(stack.services["subscriber"].url, "tme_subscriber_rows_inserted_total")
        second_rows = metric(second.url, "tme_subscriber_rows_inserted_total")
        assert first_rows > 0 and second_rows > 0
    finally:
        second.stop()
        del stack.services["subscriber-2"]


def test_sigterm_finishes_and_acknowledges_the_batch_in_hand(
    restore: DevStack, client: httpx.Client, db: Database, rds: redis.Redis, project: Project
) -> None:
    stack = restore
    name = f"term-{uuid.uuid4().hex[:8]}"
    leaving = stack.start_service("subscriber", key="subscriber-term", port=free_port(),
                                  env={"TME_CONSUMER_NAME": name})
    try:
        lock = TableLock(stack.database_url)
        try:
            sent: set[str] = set()

            def leaving_holds_entries() -> bool:
                sent.update(send_batches(client, project.write_key, 1, 10, "term"))
                return pending_of(rds, name) > 0

            wait_until(leaving_holds_entries, 10, f"{name} to hold entries mid-batch")
            leaving.signal(signal.SIGTERM)
            time.sleep(0.5)
            assert leaving.alive()  # still finishing its batch
        finally:
            lock.release()
        assert leaving.proc is not None
        # uvicorn re-raises SIGTERM once its graceful shutdown is complete, hence -15 rather than 0
        assert leaving.proc.wait(25) in (0, -signal.SIGTERM)
        assert pending_of(rds, name) == 0  # acknowledged, not left for others to reclaim
        wait_rows(db, project.id, len(sent))
        wait_drained(rds)
        ids = stored_ids(db, project.id)
        assert len(ids) == len(sent) and set(ids) == sent
    finally:
        leaving.stop()
        del stack.services["subscriber-term"]


def test_full_backlog_answers_503_with_retry_after(
    restore: DevStack, client: httpx.Client, db: Database, rds: redis.Redis, project: Project
) -> None:
    stack = restore
    wait_drained(rds)
    stack.services["subscriber"].stop()  # SIGTERM: nothing consumes the stream now
    length = int(rds.xlen(EVENTS_STREAM))
    gateway = stack.start_service("gateway", key="gateway-backlog", port=free_port(), env={
        "TME_INGEST_MAX_BACKLOG": str(length + 3), "TME_INGEST_BACKLOG_CHECK_SECONDS": "0"})
    try:
        with httpx.Client(base_url=gateway.url, timeout=10, event_hooks=schema_check.schema_hooks()) as small:
            sent = send_batches(small, project.write_key, 3, 5, "fits")
            refused = post_batch(small, project.write_key, [event("too-many")])
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "overloaded"
        assert int(refused.headers["retry-after"]) > 0
        assert int(rds.xlen(EVENTS_STREAM)) == length + 3  # nothing trimmed to make room
    finally:
        gateway.stop()
        del stack.services["gateway-backlog"]
    ensure_healthy(stack)  # the subscriber comes back and drains the backlog
    wait_rows(db, project.id, len(sent))
    assert set(stored_ids(db, project.id)) == sent


def test_entries_that_cannot_be_stored_go_to_the_dead_letter_stream(
    restore: DevStack, db: Database, rds: redis.Redis, project: Project
) -> None:
    last = rds.xrevrange(DEAD_LETTER_STREAM, count=1)
    since = last[0][0].decode() if last else "0-0"
    now = int(time.time() * 1000)

    def stream_event(name: str) -> dict:
        return {"messageId": str(uuid.uuid4()), "type": "track", "event": name, "userId": "u", "timestamp": now,
                "properties": {}, "context": {}, "isBot": False}

    good = encode_batch(project.id, project.write_key, now, [stream_event("good-1"), stream_event("good-2")], {})
    refused = encode_batch(project.id, project.write_key, now, [stream_event("nul\x00byte")], {})  # PostgreSQL refuses
    rds.xadd(EVENTS_STREAM, refused)
    rds.xadd(EVENTS_STREAM, {b"v": b"1", b"p": b"not-a-number"})
    rds.xadd(EVENTS_STREAM, good)

    rows = wait_rows(db, project.id, 2)  # the good entry is not held up by the bad ones
    assert {r["event_name"] for r in rows} == {"good-1", "good-2"}

    def letters() -> dict[str, dict[bytes, bytes]]:
        return {f[b"kind"].decode(): f for _, f in rds.xrange(DEAD_LETTER_STREAM, min=f"({since}")}

    found = wait_until(lambda: len(letters()) >= 2 and letters(), 30, "two dead letters")
    assert set(found) == {"refused", "unreadable"}
    assert int(found["refused"][b"deliveries"]) >= 5  # tried, then given up after max deliveries
    # PostgreSQL's reason names the NUL (its JSON parser: "\u0000 cannot be converted to text")
    assert any(nul in found["refused"][b"reason"] for nul in (b"0x00", b"22021", b"UTF8", b"\\u0000"))
    assert found["refused"][b"e"] == refused[b"e"]  # the original payload is kept for a replay
    wait_drained(rds)
    assert count_bad_rows(db, project.id) == 0


def test_an_entry_of_a_project_that_no_longer_exists_is_dropped_not_dead_lettered(
    stack: DevStack, db: Database, rds: redis.Redis, project: Project
) -> None:
    """A deleted project's events still on the stream are neither stored nor kept as dead letters
    (which would keep the deleted project's data); the subscriber counts them."""
    subscriber = stack.services["subscriber"].url
    dropped = metric(subscriber, "tme_subscriber_deleted_project_events_total")
    last = rds.xrevrange(DEAD_LETTER_STREAM, count=1)
    since = last[0][0].decode() if last else "0-0"
    now = int(time.time() * 1000)
    events = [{"messageId": str(uuid.uuid4()), "type": "track", "event": name, "userId": "u", "timestamp": now,
               "properties": {}, "context": {}, "isBot": False} for name in ("orphan-1", "orphan-2")]
    rds.xadd(EVENTS_STREAM, encode_batch(987_654_321, "wk_gone", now, events, {}))
    good = {**events[0], "messageId": str(uuid.uuid4()), "event": "good"}
    rds.xadd(EVENTS_STREAM, encode_batch(project.id, project.write_key, now, [good], {}))

    [row] = wait_rows(db, project.id, 1)  # the next entry is not held up
    assert row["event_name"] == "good"
    wait_drained(rds)
    assert metric(subscriber, "tme_subscriber_deleted_project_events_total") - dropped == 2
    assert db.fetchval("SELECT count(*) FROM events WHERE project_id = 987654321") == 0
    assert db.fetchval("SELECT count(*) FROM event_ids WHERE project_id = 987654321") == 0
    assert not [f for _, f in rds.xrange(DEAD_LETTER_STREAM, min=f"({since}") if f.get(b"p") == b"987654321"]


def count_bad_rows(db: Database, project_id: int) -> int:
    return int(db.fetchval("SELECT count(*) FROM events WHERE project_id = $1 AND event_name NOT LIKE 'good-%'",
                           project_id))


def test_write_keys_cannot_be_checked_without_the_users_service(stack: DevStack) -> None:
    """An unseen key while users is unreachable: 503 + Retry-After (try later), never a 401."""
    gateway = stack.start_service("gateway", key="gateway-nousers", port=free_port(),
                                  env={"TME_USERS_URL": f"http://127.0.0.1:{free_port()}"})
    try:
        response = schema_check.post(f"{gateway.url}/api/track",
                                     json={"apiKey": "wk_not_seen_before", "eventName": "x"})
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "unavailable"
        assert int(response.headers["retry-after"]) > 0
    finally:
        gateway.stop()
        del stack.services["gateway-nousers"]


def test_dead_letters_can_be_listed_and_replayed(stack: DevStack, db: Database, rds: redis.Redis,
                                                 project: Project) -> None:
    """After the cause is fixed, an operator puts a dead letter back on the stream; it lands."""
    now = int(time.time() * 1000)
    entry = encode_batch(project.id, project.write_key, now, [{
        "messageId": f"replayed-{uuid.uuid4()}", "type": "track", "event": "came back", "userId": "u",
        "timestamp": now, "properties": {}, "context": {}, "isBot": False}], {})
    letter_id = rds.xadd(DEAD_LETTER_STREAM, {**entry, b"kind": b"refused", b"reason": b"fixed since",
                                              b"deliveries": b"5", b"original_id": b"1-0"}).decode()
    env = {**stack.base_env(), "TME_REDIS_URL": stack.redis_url}
    listed = subprocess.run([sys.executable, "-m", "services.subscriber.deadletters", "list", "--count", "100000"],
                            env=env, capture_output=True, text=True, check=True).stdout
    assert letter_id in listed and "fixed since" in listed
    replayed = subprocess.run([sys.executable, "-m", "services.subscriber.deadletters", "replay", "--id", letter_id],
                              env=env, capture_output=True, text=True, check=True).stdout
    assert "replayed 1" in replayed
    [row] = wait_rows(db, project.id, 1)
    assert row["event_name"] == "came back"
    assert not rds.xrange(DEAD_LETTER_STREAM, min=letter_id, max=letter_id)
