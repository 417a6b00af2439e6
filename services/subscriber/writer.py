"""PostgreSQL side of the subscriber, on one dedicated connection.

A batch is written in one transaction: repeats of a message inside the batch are dropped, the
rest goes by binary COPY into a session temp table, then one statement inserts the
(project_id, message_id) pairs into the `event_ids` ledger with ON CONFLICT DO NOTHING and
inserts into `events` only the rows whose id was new; identify and alias facts of those new
rows update `persons` / `person_aliases`. A retry of a message an hour later (another sentAt,
so another event_time) finds its id in the ledger and is dropped."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import asyncpg
import orjson

from services.shared.db import plain_url
from services.subscriber.rows import STAGING_COLUMNS, PersonFact, Row

log = logging.getLogger("tme.subscriber.writer")

_STAGING_DDL = """
CREATE TEMP TABLE IF NOT EXISTS tme_event_staging (
    seq integer, project_id bigint, event_time_ms bigint, message_id text, type text, event_name text,
    user_id text, anonymous_id text, session_id text, group_id text, previous_id text,
    page text, path text, referrer text, referrer_host text,
    utm_source text, utm_medium text, utm_campaign text, utm_term text, utm_content text,
    properties text, traits text, context text,
    user_agent text, browser text, browser_version text, os text, os_version text, device_type text,
    is_bot boolean, sent_at_ms bigint, received_at_ms bigint
) ON COMMIT DELETE ROWS
"""

_MS = "timestamptz 'epoch' + {} * interval '1 millisecond'"

_INSERT = f"""
WITH fresh AS (
    INSERT INTO event_ids (project_id, message_id)
    SELECT project_id, message_id FROM tme_event_staging
    ON CONFLICT DO NOTHING
    RETURNING project_id, message_id
), stored AS (
    INSERT INTO events (
        project_id, event_time, message_id, type, event_name, user_id, anonymous_id, session_id, group_id,
        previous_id, page, path, referrer, referrer_host, utm_source, utm_medium, utm_campaign, utm_term,
        utm_content, properties, traits, context, user_agent, browser, browser_version, os, os_version,
        device_type, is_bot, sent_at, received_at)
    SELECT b.project_id, {_MS.format("b.event_time_ms")}, b.message_id, b.type, b.event_name, b.user_id,
        b.anonymous_id, b.session_id, b.group_id, b.previous_id, b.page, b.path, b.referrer, b.referrer_host,
        b.utm_source, b.utm_medium, b.utm_campaign, b.utm_term, b.utm_content, b.properties::jsonb,
        b.traits::jsonb, b.context::jsonb, b.user_agent, b.browser, b.browser_version, b.os, b.os_version,
        b.device_type, b.is_bot, {_MS.format("b.sent_at_ms")}, {_MS.format("b.received_at_ms")}
    FROM tme_event_staging b JOIN fresh f ON f.project_id = b.project_id AND f.message_id = b.message_id
    RETURNING project_id, message_id, type
)
SELECT (SELECT count(*) FROM stored) AS inserted,
       (SELECT jsonb_agg(jsonb_build_array(project_id, message_id)) FROM stored
         WHERE type IN ('identify', 'alias')) AS people
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


def _first_of_each_message(rows: Sequence[Row]) -> Sequence[Row]:
    """The rows without repeats of a (project_id, message_id) within the batch (first one kept)."""
    seen: set[tuple[int, str]] = set()
    unique: list[Row] = []
    for row in rows:
        key = (row[1], row[3])
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return unique if len(unique) < len(rows) else rows


class BatchResult:
    def __init__(self, staged: int, inserted: int) -> None:
        self.staged = staged
        self.inserted = inserted

    @property
    def duplicates(self) -> int:
        return self.staged - self.inserted


class EventWriter:
    def __init__(self, database_url: str) -> None:
        self.url = plain_url(database_url)
        self.conn: asyncpg.Connection | None = None
        self._projects: dict[int, float] = {}  # project id -> known until (monotonic)

    async def connection(self) -> asyncpg.Connection:
        if self.conn is None or self.conn.is_closed():
            conn = await asyncpg.connect(self.url, timeout=10, command_timeout=120)
            try:
                await conn.execute(_STAGING_DDL)
            except BaseException:
                conn.terminate()
                raise
            self.conn = conn
        return self.conn

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

    async def missing_projects(self, project_ids: set[int], cache_seconds: float) -> set[int]:
        now = time.monotonic()
        unknown = {p for p in project_ids if self._projects.get(p, 0) <= now}
        if not unknown:
            return set()
        conn = await self.connection()
        found = {r["id"] for r in await conn.fetch("SELECT id FROM projects WHERE id = ANY($1::bigint[])",
                                                    list(unknown))}
        for project_id in found:
            self._projects[project_id] = now + cache_seconds
        return unknown - found

    async def write(self, rows: Sequence[Row], facts: Sequence[PersonFact]) -> BatchResult:
        unique = _first_of_each_message(rows)
        conn = await self.connection()
        async with conn.transaction():
            await conn.copy_records_to_table("tme_event_staging", records=unique, columns=STAGING_COLUMNS)
            record = await conn.fetchrow(_INSERT)
            assert record is not None
            if facts and record["people"]:
                new = {(int(p), str(m)) for p, m in orjson.loads(record["people"])}
                await self._people(conn, [f for f in facts if (f.project_id, f.message_id) in new])
        return BatchResult(staged=len(rows), inserted=int(record["inserted"]))

    @staticmethod
    async def _people(conn: asyncpg.Connection, facts: list[PersonFact]) -> None:
        facts.sort(key=lambda f: f.time_ms)  # later traits win
        merged: dict[tuple[int, str], tuple[dict, int]] = {}
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
        conn = await self.connection()
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _PARTITION_LOCK)
            created = await conn.fetchval("SELECT tme_ensure_event_partitions($1, $2)", months_back, months_ahead)
        if created:
            log.info("created %s event partition(s)", created)
        return int(created or 0)
