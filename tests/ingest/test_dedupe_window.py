"""The dedupe ledger keeps message ids for a window, not forever: a repeat within the window is
dropped even after the ledger moved on to a new generation, ids two generations old are
forgotten, the subscriber rotates the ledger by itself, and copies of one message written at the
same moment as a rotation are still stored once."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid

import httpx
import orjson
import pytest
import redis
from conftest import Database

from services.devstack import DevStack
from services.shared.embedded import free_port
from services.shared.stream import StreamBatch
from services.subscriber.writer import EventWriter

from .helpers import Project, count_rows, wait_drained, wait_until


def rotate(db: Database) -> int:
    """What the subscriber does once the current generation is a window old (here: now)."""
    return int(db.fetchval("SELECT tme_rotate_event_ids(interval '0')"))


def generations(db: Database) -> list[int]:
    return [r["generation"] for r in db.fetch("SELECT generation FROM event_id_generations ORDER BY 1")]


class Message:
    """Copies of one Segment message, as a client resends it: the same messageId and timestamp,
    a later sentAt each time, each copy consumed by the subscriber before the next is sent."""

    def __init__(self, client: httpx.Client, rds: redis.Redis, project: Project) -> None:
        self.client, self.rds, self.project = client, rds, project
        self.message_id = str(uuid.uuid4())
        self.copies = 0

    def send(self) -> None:
        self.copies += 1
        sent = dt.datetime(2026, 12, 1, 10, 0, self.copies, tzinfo=dt.UTC)
        response = self.client.post("/v1/batch", auth=(self.project.write_key, ""), json={
            "batch": [{"type": "track", "userId": "u", "event": "Retried", "messageId": self.message_id,
                       "timestamp": "2026-12-01T10:00:00Z"}], "sentAt": sent.isoformat()})
        assert response.status_code == 200, response.text
        wait_drained(self.rds)


@pytest.fixture
def message(client: httpx.Client, rds: redis.Redis, project: Project) -> Message:
    return Message(client, rds, project)


def test_a_repeat_after_the_ledger_rotated_is_still_dropped(message: Message, db: Database, project: Project) -> None:
    message.send()
    started = rotate(db)
    assert generations(db)[-1] == started
    message.send()
    assert count_rows(db, project.id) == 1


def test_ids_two_generations_old_are_forgotten(message: Message, db: Database, project: Project) -> None:
    message.send()
    first = rotate(db)
    second = rotate(db)
    assert generations(db) == [first, second]  # older generations and their partitions are gone
    partitions = {r["relname"] for r in db.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'event_ids'::regclass")}
    assert partitions == {f"event_ids_{first}", f"event_ids_{second}"}
    assert db.fetchval("SELECT count(*) FROM event_ids WHERE project_id = $1", project.id) == 0
    # beyond the window a messageId is new again: this copy is stored (docs/operations.md)
    message.send()
    assert count_rows(db, project.id) == 2


def test_the_subscriber_rotates_the_ledger_by_itself(stack: DevStack, db: Database) -> None:
    before = generations(db)[-1]
    rotating = stack.start_service("subscriber", key="subscriber-rotating", port=free_port(),
                                   env={"TME_SUBSCRIBER_DEDUPE_WINDOW_HOURS": str(1 / 3600)})  # one second
    try:
        wait_until(lambda: generations(db)[-1] >= before + 2, 20, "two rotations by the subscriber")
        assert len(generations(db)) == 2
    finally:
        rotating.stop()
        del stack.services["subscriber-rotating"]


def _entry(project_id: int, message_ids: list[str]) -> StreamBatch:
    now = int(time.time() * 1000)
    events = [{"messageId": m, "type": "track", "event": "Raced", "userId": "u", "timestamp": now, "sentAt": now}
              for m in message_ids]
    return StreamBatch(b"0-0", project_id, "key", now, [], raw_events=orjson.dumps(events), count=len(events))


async def _race(database_url: str, project_id: int, rounds: int) -> tuple[int, int]:
    """Two writers store the same messages at the same moment, round after round, while a third
    connection rotates the ledger as fast as it can."""
    writers = [EventWriter(database_url), EventWriter(database_url)]
    rotator = EventWriter(database_url)
    done = asyncio.Event()

    async def rotate_until_done() -> int:
        rotations = 0
        while not done.is_set():
            rotations += bool(await rotator.rotate_ledger(0))
            await asyncio.sleep(0)
        return rotations

    rotating = asyncio.ensure_future(rotate_until_done())
    inserted = 0
    try:
        for _ in range(rounds):
            ids = [str(uuid.uuid4()) for _ in range(50)]
            results = await asyncio.gather(*(w.write([_entry(project_id, ids)], []) for w in writers))
            inserted += sum(r.inserted for r in results)
    finally:
        done.set()
        rotations = await rotating
        for w in [*writers, rotator]:
            await w.close()
    return inserted, rotations


def test_copies_written_at_once_during_rotations_are_stored_once(
    db: Database, database_url: str, project: Project
) -> None:
    rounds = 60
    inserted, rotations = asyncio.run(_race(database_url, project.id, rounds))
    assert rotations >= 10
    assert inserted == rounds * 50
    assert db.fetchval("SELECT count(*) FROM events WHERE project_id = $1", project.id) == rounds * 50
    assert db.fetchval("SELECT count(DISTINCT message_id) FROM events WHERE project_id = $1", project.id) == rounds * 50
