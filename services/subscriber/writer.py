"""PostgreSQL side of the subscriber, on one dedicated connection (also the one its `/readyz` and
dependency monitor check: `ping`, one operation at a time).

A batch (several stream entries) is written in one statement, in one transaction. The entries'
events go to PostgreSQL as the gateway serialised them (one JSON array per entry), and
PostgreSQL parses them (`json_to_recordset`): the subscriber builds no Python object per event,
which was three quarters of its CPU. Repeats of a message inside the batch are dropped (the
first one stays), the (project_id, message_id) pairs no older ledger generation holds go into the
current generation of the `event_ids` dedupe ledger with ON CONFLICT DO NOTHING, and `events`
gets only the rows whose id was new; identify and alias facts of those new rows update `persons`
/ `person_aliases`. A retry of a message an hour later (another sentAt, so another event_time)
finds its id in the ledger and is dropped. The transaction first takes the ledger lock shared,
so a rotation of the ledger (`rotate_ledger`, migration 0008) never falls between two writers of
one message.

Only events of projects that exist are stored: the statement that adds ids to the ledger keeps
those whose project it finds (read once per statement), so nothing of a deleted project enters
any table; such entries are dropped and counted (`BatchResult.dropped`), not dead-lettered (a dead
letter would keep the deleted project's data). A project's deletion takes the ledger lock
exclusively (services/users/project_deletion.py): a write either committed before it (its rows are
the deletion job's) or starts after it and finds the project gone. An entry
whose events PostgreSQL refuses (a missing messageId, a wrong type) fails the statement with a
data error: the consumer then retries entries one by one and dead-letters the culprit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import orjson

from services.shared.db import plain_url
from services.shared.stream import STORED_FIELDS, StoredField, StreamBatch
from services.subscriber.rows import PersonFact

log = logging.getLogger("tme.subscriber.writer")

_MS = "timestamptz 'epoch' + {} * interval '1 millisecond'"

# the dedupe ledger's current generation: the newest one (migration 0008)
CURRENT_GENERATION = "(SELECT max(generation) FROM event_id_generations)"

# StreamEvent's fields as json_to_recordset reads them (the gateway's normalised event)
_FIELD_TYPES = ", ".join(f'"{f.key}" {f.sql_type}' for f in STORED_FIELDS)
_FIELD_NAMES = ", ".join(f'"{f.key}"' for f in STORED_FIELDS)
_EMPTY = {"jsonb": "'{}'", "boolean": "false"}  # what a missing JSON object or flag is stored as


def _stored_value(f: StoredField) -> str:
    value = f'b."{f.key}"'
    if f.is_time:
        return _MS.format(value)
    if not f.optional and f.sql_type in _EMPTY:
        return f"coalesce({value}, {_EMPTY[f.sql_type]})"
    return value


_COLUMNS = ", ".join(["project_id", "received_at", *(f.column for f in STORED_FIELDS)])
_VALUES = ", ".join(["b.project_id", _MS.format("b.received"), *(_stored_value(f) for f in STORED_FIELDS)])

_INSERT = f"""
WITH src AS MATERIALIZED (
    SELECT DISTINCT ON (u.project_id, x."messageId") u.project_id, u.received, x.*
    FROM unnest($1::bigint[], $2::bigint[], $3::text[]) WITH ORDINALITY AS u(project_id, received, doc, entry)
    CROSS JOIN LATERAL ROWS FROM (json_to_recordset(u.doc::json) AS ({_FIELD_TYPES}))
        WITH ORDINALITY AS x({_FIELD_NAMES}, pos)
    ORDER BY u.project_id, x."messageId", u.entry, x.pos
), live AS MATERIALIZED (
    SELECT p.id FROM projects p WHERE p.id = ANY($1::bigint[])
), ledger AS (
    SELECT {CURRENT_GENERATION} AS generation
), fresh AS (
    INSERT INTO event_ids (project_id, message_id, generation)
    SELECT s.project_id, s."messageId", l.generation FROM src s CROSS JOIN ledger l
    WHERE EXISTS (SELECT 1 FROM live p WHERE p.id = s.project_id)
      AND (SELECT 1 FROM event_ids o WHERE o.project_id = s.project_id AND o.message_id = s."messageId"
             AND o.generation < l.generation LIMIT 1) IS NULL
    ON CONFLICT DO NOTHING
    RETURNING project_id, message_id
), stored AS (
    INSERT INTO events ({_COLUMNS})
    SELECT {_VALUES}
    FROM src b JOIN fresh f ON f.project_id = b.project_id AND f.message_id = b."messageId"
    RETURNING project_id, message_id, type
)
SELECT (SELECT count(*) FROM stored) AS inserted,
       (SELECT jsonb_agg(jsonb_build_array(project_id, message_id)) FROM stored
         WHERE type IN ('identify', 'alias')) AS people,
       ARRAY(SELECT DISTINCT g FROM unnest($1::bigint[]) g WHERE g NOT IN (SELECT id FROM live)) AS gone
"""

_UPSERT_PERSON = f"""
INSERT INTO persons AS p (project_id, visitor_id, traits, first_seen, last_seen)
VALUES ($1, $2, $3::jsonb, {_MS.format("$4::bigint")}, {_MS.format("$4::bigint")})
ON CONFLICT (project_id, visitor_id) DO UPDATE SET
    traits = CASE WHEN EXCLUDED.last_seen >= p.last_seen THEN p.traits || EXCLUDED.traits
                  ELSE EXCLUDED.traits || p.traits END,
    first_seen = least(p.first_seen, EXCLUDED.first_seen),
    last_seen = greatest(p.last_seen, EXCLUDED.last_seen),
    updated_at = now()
"""

_LINK_ALIAS = """
INSERT INTO person_aliases (project_id, alias_id, visitor_id) VALUES ($1, $2, $3)
ON CONFLICT (project_id, alias_id) DO NOTHING
"""

_PARTITION_LOCK = 0x746D6570  # advisory lock id for partition maintenance ("tmep")

# taken by every transaction that adds ids to the ledger; a rotation takes it exclusively
LEDGER_GATE = "SELECT pg_advisory_xact_lock_shared(tme_ledger_lock())"


class BatchResult:
    def __init__(self, staged: int, inserted: int, gone: frozenset[int] = frozenset(), dropped: int = 0) -> None:
        self.staged = staged
        self.inserted = inserted
        self.gone = gone  # projects of the batch that no longer exist
        self.dropped = dropped  # their events, not stored

    @property
    def duplicates(self) -> int:
        return self.staged - self.inserted - self.dropped


class EventWriter:
    def __init__(self, database_url: str) -> None:
        self.url = plain_url(database_url)
        self.conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()  # one operation at a time on the connection: the consumer's or a ping

    async def connection(self) -> asyncpg.Connection:
        if self.conn is None or self.conn.is_closed():
            # work_mem: a batch's parsed events (~20 MB at 20k events) stay in memory
            self.conn = await asyncpg.connect(self.url, timeout=10, command_timeout=120,
                                              server_settings={"work_mem": "64MB"})
        return self.conn

    @contextlib.asynccontextmanager
    async def _connected(self) -> AsyncIterator[asyncpg.Connection]:
        async with self._lock:
            yield await self.connection()

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self._connected() as conn, conn.transaction():
            yield conn

    async def ping(self) -> None:
        """Readiness: the connection the writes go through answers (opened if it is not). Waits
        for an operation in progress; a connection that fails the ping is dropped."""
        async with self._connected() as conn:
            try:
                await conn.fetchval("SELECT 1")
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                self.discard()
                raise

    def usage(self) -> tuple[int, int, int]:
        """(in use, idle, most) of the writer's one connection, for the pool gauges (monitor.py)."""
        connected = self.conn is not None and not self.conn.is_closed()
        busy = self._lock.locked()
        return int(connected and busy), int(connected and not busy), 1

    def discard(self) -> None:
        """Forget the connection after an error (it may be broken or in a failed transaction)."""
        if self.conn is not None:
            self.conn.terminate()
            self.conn = None

    async def close(self) -> None:
        if self.conn is not None:
            try:
                await self.conn.close(timeout=5)
            except Exception:
                self.conn.terminate()
            self.conn = None

    async def write(self, batches: Sequence[StreamBatch], facts: Sequence[PersonFact]) -> BatchResult:
        """Store the batches' events (their serialised `raw_events`) in one transaction."""
        async with self._transaction() as conn:
            return await store_batches(conn, batches, facts)

    @staticmethod
    async def _people(conn: asyncpg.Connection, facts: list[PersonFact]) -> None:
        facts.sort(key=lambda f: f.time_ms)  # later traits win
        merged: dict[tuple[int, str], tuple[dict[str, Any], int]] = {}
        links: dict[tuple[int, str], str] = {}
        for fact in facts:
            if fact.kind == "identify":
                key = (fact.project_id, fact.visitor_id)
                traits, _ = merged.get(key, ({}, 0))
                merged[key] = ({**traits, **(fact.traits or {})}, fact.time_ms)
            if fact.alias_id:
                links.setdefault((fact.project_id, fact.alias_id), fact.visitor_id)
        if merged:
            await conn.executemany(_UPSERT_PERSON, [
                (p, v, orjson.dumps(traits).decode(), when) for (p, v), (traits, when) in sorted(merged.items())
            ])
        if links:
            await conn.executemany(_LINK_ALIAS, [(p, a, v) for (p, a), v in sorted(links.items())])

    async def ensure_partitions(self, months_ahead: int, months_back: int = 1) -> int:
        async with self._transaction() as conn:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _PARTITION_LOCK)
            created = await conn.fetchval("SELECT tme_ensure_event_partitions($1, $2)", months_back, months_ahead)
        if created:
            log.info("created %s event partition(s)", created)
        return int(created or 0)

    async def rotate_ledger(self, window_seconds: float) -> int:
        """Start a new dedupe generation if the current one is `window_seconds` old (dropping the
        generations before the previous one); the new generation's number, or 0."""
        async with self._transaction() as conn:
            started = await conn.fetchval("SELECT tme_rotate_event_ids(make_interval(secs => $1))", window_seconds)
        if started:
            log.info("dedupe ledger generation %s started; ids older than the previous one dropped", started)
        return int(started or 0)


async def store_batches(conn: asyncpg.Connection, batches: Sequence[StreamBatch],
                        facts: Sequence[PersonFact]) -> BatchResult:
    """Store the batches' events in the caller's transaction on `conn`: the subscriber's write, also
    used by `tme import-legacy` (services/lifecycle/legacy_import.py), which records its position
    in the same transaction."""
    await conn.execute(LEDGER_GATE)
    record = await conn.fetchrow(_INSERT, [b.project_id for b in batches], [b.received_at for b in batches],
                                 [b.raw_events.decode() for b in batches])
    assert record is not None
    if facts and record["people"]:
        new = {(int(p), str(m)) for p, m in orjson.loads(record["people"])}
        await EventWriter._people(conn, [f for f in facts if (f.project_id, f.message_id) in new])
    gone = frozenset(int(p) for p in record["gone"])
    return BatchResult(staged=sum(b.count for b in batches), inserted=int(record["inserted"]), gone=gone,
                       dropped=sum(b.count for b in batches if b.project_id in gone))
