"""One project's data before its retention cutoff, deleted in bounded batches (retention.py runs
this for every project with a retention, after whole partitions have been dropped).

Every batch is one statement in its own short transaction, removing at most `batch_rows` rows,
with a pause after each batch that deleted something, so a large first run over years of history
never holds a transaction or many locks for long and ingest goes on beside it.

- Events: in each partition that may hold rows before the cutoff (the DEFAULT one included), by
  ctid: the partition's (project_id, event_time) index finds the oldest rows first.
- Rollups: sessions that contain the cutoff are recomputed from the events left, by the rollup
  job's own code and under its lock (so that a question over a range starting at the cutoff
  counts them as the raw events now do); then every row before the cutoff goes from the hourly
  and daily tables, the sessions and the visitor state of the retention matrices. The project's
  matrices are marked for rebuild before and after their visitor state is trimmed: retention
  questions are answered from raw events until the rollup job has recomputed them from the
  trimmed state.
- People: an id link (person_aliases, and the rollup job's copy of it) goes when neither of its
  ids has an event left; a person's profile when their last identify is before the cutoff, no
  event of theirs is left and no link to them is. A person still active keeps their profile and
  every link a remaining event resolves through stays, so the answers over the data kept do not
  change.
- The dedupe ledger needs nothing: it keeps ids for a bounded window already (migration 0008)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from services.lifecycle.partitions import event_partitions, ident
from services.tracking.rollups.job import LOCK_KEY as ROLLUP_LOCK
from services.tracking.rollups.job import rollup_sessions as recompute_sessions

# tables whose rows before the cutoff go, with the time column their index follows project_id by
_HOURLY = (("rollup_hours", "hour"), ("rollup_dim_hours", "hour"), ("rollup_bot_hours", "hour"),
           ("rollup_session_hours", "hour"))
# the project's dimensions in rollup_dim_days: a loose index scan, one probe per dimension
_DAY_DIMENSIONS = """
    WITH RECURSIVE d AS (
        (SELECT dim FROM rollup_dim_days WHERE project_id = $1 ORDER BY dim LIMIT 1)
        UNION ALL
        SELECT (SELECT dim FROM rollup_dim_days WHERE project_id = $1 AND dim > d.dim ORDER BY dim LIMIT 1)
        FROM d WHERE d.dim IS NOT NULL)
    SELECT dim FROM d WHERE dim IS NOT NULL"""
_NOTHING_LEFT = "NOT EXISTS (SELECT 1 FROM events e WHERE e.project_id = $1 AND e.visitor_id = {id} " \
                "AND e.event_time >= $2)"


@dataclass
class Trim:
    """One project's trim: its cutoff, the batch limits, and what it deleted (table -> rows)."""

    project_id: int
    cutoff: dt.datetime
    batch_rows: int
    batch_pause: float
    rows: dict[str, int] = field(default_factory=dict)
    batches: int = 0

    def add(self, table: str, n: int) -> None:
        if n:
            self.rows[table] = self.rows.get(table, 0) + n

    async def pause_after(self, deleted: int) -> None:
        """A batch ended: counted, and a pause when it deleted something."""
        if deleted:
            self.batches += 1
            if self.batch_pause > 0:
                await asyncio.sleep(self.batch_pause)

    async def by_ctid(self, conn: asyncpg.Connection, table: str, where: str, args: Sequence[Any],
                      counted_as: str | None = None) -> None:
        """Delete the rows of `table` matching `where` ($1 the project, $2 the cutoff, then
        `args`), `batch_rows` at a time. For tables whose index yields those rows first."""
        t = ident(table)
        while True:
            status = await conn.execute(
                f"DELETE FROM {t} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {t} WHERE {where} LIMIT {self.batch_rows}))",
                self.project_id, self.cutoff, *args)
            deleted = int(status.split()[-1])
            self.add(counted_as or table, deleted)
            await self.pause_after(deleted)
            if deleted < self.batch_rows:
                return


    async def by_pages(self, conn: asyncpg.Connection, sql: str, counted: dict[str, str]) -> None:
        """Walk a table's rows of the project in key order, `batch_rows` a page: `sql` ($1 the
        project, $2 the cutoff, $3 the last key of the page before, $4 the page size) deletes what
        goes of one page and answers `seen` (the page's rows), `last` (its last key) and a count per
        column of `counted` (column -> the table it is counted as)."""
        last = ""
        while True:
            row = await conn.fetchrow(sql, self.project_id, self.cutoff, last, self.batch_rows)
            assert row is not None
            for column, table in counted.items():
                self.add(table, row[column])
            await self.pause_after(row["deleted"])
            if row["seen"] < self.batch_rows:
                return
            last = row["last"]


async def trim_project(conn: asyncpg.Connection, trim: Trim) -> Trim:
    await _events(conn, trim)
    await _sessions_at_cutoff(conn, trim)
    # the matrices' pairs come from the rows the hours count (in the same rollup run): none is
    # before the cutoff unless an hour is, so the walk over every pair is skipped when none is.
    # They go before the hours, with the matrices marked for rebuild before and after: a run
    # stopped anywhere in between finds the hours, marks them again and walks again.
    if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM rollup_hours WHERE project_id = $1 AND hour < $2)",
                           trim.project_id, trim.cutoff):
        await _rebuild_matrices(conn, trim.project_id)
        await _visitor_hours(conn, trim)
        if trim.rows.get("rollup_visitor_hours"):
            await _rebuild_matrices(conn, trim.project_id)  # the rollup job may have rebuilt them meanwhile
    for table, column in _HOURLY:
        await trim.by_ctid(conn, table, f"project_id = $1 AND {column} < $2", [])
    for row in await conn.fetch(_DAY_DIMENSIONS, trim.project_id):  # its index leads with (project_id, dim)
        await trim.by_ctid(conn, "rollup_dim_days", "project_id = $1 AND dim = $3 AND day < $2", [row["dim"]])
    await trim.by_ctid(conn, "rollup_sessions", "project_id = $1 AND started_at < $2 AND ended_at < $2", [])
    await _aliases(conn, trim)
    await _persons(conn, trim)
    return trim


async def _rebuild_matrices(conn: asyncpg.Connection, project_id: int) -> None:
    """Mark the project's retention matrices for the rollup job to compute again from its state
    (until then retention questions are answered from raw events). A link that goes changes no
    matrix: neither of its ids has a pair left."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", ROLLUP_LOCK)
        await conn.execute("UPDATE rollup_retention_zones SET ready = false WHERE project_id = $1 AND ready",
                           project_id)


async def _events(conn: asyncpg.Connection, trim: Trim) -> None:
    if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM events WHERE project_id = $1 AND event_time < $2)",
                               trim.project_id, trim.cutoff):
        return
    for partition in await event_partitions(conn):
        if partition.lower is None or partition.lower < trim.cutoff:
            await trim.by_ctid(conn, partition.name, "project_id = $1 AND event_time < $2", [], counted_as="events")


async def _sessions_at_cutoff(conn: asyncpg.Connection, trim: Trim) -> None:
    """Recompute the sessions that started before the cutoff and ended after it from the events
    left (the rollup job's grouping: an SDK session id, else a visitor's inactivity sessions)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", ROLLUP_LOCK)
        groups = [r["grp"] for r in await conn.fetch(
            "SELECT DISTINCT grp FROM rollup_sessions WHERE project_id = $1 AND started_at < $2 AND ended_at >= $2",
            trim.project_id, trim.cutoff)]
        if groups:
            await recompute_sessions(conn, trim.project_id, ([g[2:] for g in groups if g.startswith("s:")],
                                                             [g[2:] for g in groups if g.startswith("v:")]))


async def _visitor_hours(conn: asyncpg.Connection, trim: Trim) -> None:
    """The retention matrices' (visitor, hour) pairs before the cutoff: its index leads with the
    visitor, so the project's pairs are walked in key order, a page at a time."""
    visitor, hour = "", dt.datetime(1, 1, 1, tzinfo=dt.UTC)
    while True:
        row = await conn.fetchrow(
            """WITH page AS (
                   SELECT visitor_id, hour FROM rollup_visitor_hours
                   WHERE project_id = $1 AND (project_id, visitor_id, hour) > ($1, $3, $4)
                   ORDER BY visitor_id, hour LIMIT $5),
               gone AS (
                   DELETE FROM rollup_visitor_hours h USING page p
                   WHERE h.project_id = $1 AND h.visitor_id = p.visitor_id AND h.hour = p.hour AND p.hour < $2
                   RETURNING 1),
               last AS (SELECT visitor_id, hour FROM page ORDER BY visitor_id DESC, hour DESC LIMIT 1)
               SELECT (SELECT count(*) FROM page) AS seen, (SELECT count(*) FROM gone) AS deleted,
                      (SELECT visitor_id FROM last) AS visitor, (SELECT hour FROM last) AS hour""",
            trim.project_id, trim.cutoff, visitor, hour, trim.batch_rows)
        assert row is not None
        trim.add("rollup_visitor_hours", row["deleted"])
        await trim.pause_after(row["deleted"])
        if row["seen"] < trim.batch_rows:
            return
        visitor, hour = row["visitor"], row["hour"]


async def _aliases(conn: asyncpg.Connection, trim: Trim) -> None:
    """Links stored before the cutoff whose two ids have no event left, from person_aliases and
    the rollup job's copy."""
    await trim.by_pages(conn, f"""
        WITH page AS (
            SELECT alias_id FROM person_aliases
            WHERE project_id = $1 AND alias_id > $3 AND created_at < $2
            ORDER BY alias_id LIMIT $4),
        gone AS (
            DELETE FROM person_aliases a USING page p
            WHERE a.project_id = $1 AND a.alias_id = p.alias_id
              AND {_NOTHING_LEFT.format(id="a.alias_id")} AND {_NOTHING_LEFT.format(id="a.visitor_id")}
            RETURNING a.alias_id),
        copy AS (
            DELETE FROM rollup_visitor_aliases r USING gone g
            WHERE r.project_id = $1 AND r.alias_id = g.alias_id
            RETURNING 1)
        SELECT (SELECT count(*) FROM page) AS seen, (SELECT max(alias_id) FROM page) AS last,
               (SELECT count(*) FROM gone) AS deleted, (SELECT count(*) FROM copy) AS copies""",
        {"deleted": "person_aliases", "copies": "rollup_visitor_aliases"})


async def _persons(conn: asyncpg.Connection, trim: Trim) -> None:
    """Profiles last identified before the cutoff with no event and no link left."""
    await trim.by_pages(conn, f"""
        WITH page AS (
            SELECT visitor_id FROM persons
            WHERE project_id = $1 AND visitor_id > $3 AND last_seen < $2
            ORDER BY visitor_id LIMIT $4),
        gone AS (
            DELETE FROM persons p USING page g
            WHERE p.project_id = $1 AND p.visitor_id = g.visitor_id AND p.last_seen < $2
              AND {_NOTHING_LEFT.format(id="p.visitor_id")}
              AND NOT EXISTS (SELECT 1 FROM person_aliases a
                              WHERE a.project_id = $1 AND a.visitor_id = p.visitor_id)
            RETURNING 1)
        SELECT (SELECT count(*) FROM page) AS seen, (SELECT max(visitor_id) FROM page) AS last,
               (SELECT count(*) FROM gone) AS deleted""",
        {"deleted": "persons"})
