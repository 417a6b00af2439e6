"""The bulk path: demo events straight into PostgreSQL, as the subscriber would store them.

Rows are built by the gateway's and the subscriber's own code (services.demo.rows), then written
in batches of `batch_size` events, each in one transaction: binary COPY of the (project,
messageId) pairs into the `event_ids` dedupe ledger, binary COPY of the rows into `events`
(epoch-millisecond times as timestamps), and the identify facts into `persons` /
`person_aliases` by the subscriber's own statement. Demo message ids are new by construction, so
the ledger's current generation is filled by COPY rather than by the subscriber's INSERT ... ON
CONFLICT statement; a batch whose ids the ledger already holds is refused, so loading the same
seed into the same project twice (within the dedupe window) fails.

The next batch is built in a thread while PostgreSQL stores the previous one. Monthly partitions
for the whole range are created first; `ANALYZE events` runs at the end."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.demo.generator import Generator
from services.demo.progress import Progress
from services.demo.rows import RowBuilder
from services.shared.db import plain_url
from services.subscriber.rows import ROW_COLUMNS, PersonFact, Row
from services.subscriber.writer import CURRENT_GENERATION, LEDGER_GATE, EventWriter

Batch = tuple[list[Row], list[PersonFact]]
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

assert ROW_COLUMNS[:2] == ("seq", "project_id")
# events' columns in a row's order: seq dropped, `*_ms` epoch milliseconds -> timestamptz
EVENT_COLUMNS = tuple(n.removesuffix("_ms") for n in ROW_COLUMNS[1:])
_MS_AT = tuple(i - 1 for i, n in enumerate(ROW_COLUMNS) if n.endswith("_ms"))
_MESSAGE_ID = ROW_COLUMNS.index("message_id")


class AlreadyLoaded(Exception):
    """The project already holds events of this seed."""


_SAME_SEED = "this project already holds events of this seed; use another --seed"


def event_records(rows: list[Row]) -> list[list[Any]]:
    out = []
    timedelta = dt.timedelta
    for row in rows:
        record = list(row[1:])
        for i in _MS_AT:
            value = record[i]
            if value is not None:
                record[i] = EPOCH + timedelta(milliseconds=value)
        out.append(record)
    return out


_LOADED_BEFORE = f"""
SELECT {CURRENT_GENERATION},
       EXISTS (SELECT 1 FROM event_ids WHERE project_id = $1 AND message_id = ANY($2::text[]))
"""


async def store(conn: asyncpg.Connection, rows: list[Row], facts: list[PersonFact]) -> None:
    """One batch in one transaction: ledger, events, persons."""
    async with conn.transaction():
        await conn.execute(LEDGER_GATE)
        record = await conn.fetchrow(_LOADED_BEFORE, rows[0][1], [r[_MESSAGE_ID] for r in rows])
        assert record is not None  # a SELECT without FROM: always one row
        generation, loaded = record
        if loaded:
            raise AlreadyLoaded(_SAME_SEED)
        try:
            await conn.copy_records_to_table("event_ids", records=[(r[1], r[_MESSAGE_ID], generation) for r in rows],
                                              columns=("project_id", "message_id", "generation"))
        except asyncpg.UniqueViolationError:  # a load of the same seed running at the same time
            raise AlreadyLoaded(_SAME_SEED) from None
        await conn.copy_records_to_table("events", records=event_records(rows), columns=EVENT_COLUMNS)
        if facts:
            await EventWriter._people(conn, list(facts))  # the subscriber's persons/aliases upsert


@dataclass
class BulkResult:
    stored: int
    seconds: float


def _month_index(moment: dt.datetime) -> int:
    return moment.year * 12 + moment.month - 1


def partition_months(start_ms: int, end_ms: int, now: dt.datetime | None = None) -> tuple[int, int]:
    """(months_back, months_ahead) for tme_ensure_event_partitions covering [start, end]."""
    now = now or dt.datetime.now(dt.UTC)
    start = dt.datetime.fromtimestamp(start_ms / 1000, dt.UTC)
    end = dt.datetime.fromtimestamp(end_ms / 1000, dt.UTC)
    return max(1, _month_index(now) - _month_index(start)), max(3, _month_index(end) - _month_index(now))


def batches(generator: Generator, size: int) -> Iterator[list[dict[str, Any]]]:
    """The generator's events regrouped into lists of `size` (the last one shorter)."""
    pending: list[dict[str, Any]] = []
    for chunk in generator.chunks():
        pending.extend(chunk)
        while len(pending) >= size:
            yield pending[:size]
            pending = pending[size:]
    if pending:
        yield pending


async def project_exists(conn: asyncpg.Connection, project_id: int) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM projects WHERE id = $1)", project_id))


async def load(database_url: str, project_id: int, generator: Generator, *, batch_size: int = 50_000,
               progress: Progress | None = None, analyze: bool = True) -> BulkResult:
    url = plain_url(database_url)
    conn = await asyncpg.connect(url, timeout=10)
    try:
        if not await project_exists(conn, project_id):
            raise LookupError(f"project {project_id} does not exist in this database")
    finally:
        await conn.close()
    started = time.monotonic()
    switch = sys.getswitchinterval()
    # the builder thread holds the GIL while asyncpg streams the COPY: switch often, or each
    # write to the socket waits out a whole 5 ms interval
    sys.setswitchinterval(0.0002)
    writer = EventWriter(url)
    builder = RowBuilder(project_id)
    stored = 0
    try:
        back, ahead = partition_months(generator.plan.start_ms, generator.plan.end_ms)
        await writer.ensure_partitions(ahead, months_back=back)
        conn = await writer.connection()
        source = batches(generator, batch_size)

        def build_next() -> tuple[int, Batch] | None:
            events = next(source, None)
            if events is None:
                return None
            return len(events), builder.rows(events, int(time.time() * 1000))

        upcoming = await asyncio.to_thread(build_next)
        while upcoming is not None:
            count, (rows, facts) = upcoming
            writing = asyncio.ensure_future(store(conn, rows, facts))
            try:
                upcoming = await asyncio.to_thread(build_next)  # overlaps with PostgreSQL storing the batch
            finally:
                await writing
            stored += count
            if progress is not None:
                progress.advance(count)
        if analyze:
            await conn.execute("ANALYZE events")
    finally:
        sys.setswitchinterval(switch)
        await writer.close()
    return BulkResult(stored, time.monotonic() - started)
