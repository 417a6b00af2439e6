"""Whole monthly partitions of `events` (migration 0002_events) that hold only expired rows:
found, detached and dropped by the retention run (retention.py).

A partition may go when its upper bound is at or before the retention cutoff of every project
with rows in it. Those projects are found by a loose index scan over the partition's
(project_id, event_time) index: one index probe per project, however many rows each has. A
partition with a row of a project that keeps data longer, forever, or of a project that no
longer exists, stays; so does an empty one (nothing to gain) and the DEFAULT partition.

`DETACH PARTITION ... CONCURRENTLY` is refused on a table that has a DEFAULT partition, and
`events` has one (`events_default`), so the detach is the plain one: it needs an ACCESS
EXCLUSIVE lock on `events`, held for milliseconds. It runs with a short `lock_timeout` (ingest
and questions queue behind a lock request that waits, so it never waits long) under the rollup
job's advisory lock (whose run reads `events` for seconds); when it cannot get the lock in a few
tries, the partition stays and the run's batched deletes remove its expired rows instead. In the
detach's transaction the table's projects are looked at again (an event may have come in since)
and it is renamed `<name>_retired`: the run then counts its rows per project and drops it, and a
retired table that a stopped run left behind is dropped by the next one."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass

import asyncpg

from services.lifecycle.jobs import Conn
from services.tracking.rollups.job import LOCK_KEY as ROLLUP_LOCK

log = logging.getLogger("tme.lifecycle.partitions")

RETIRED_SUFFIX = "_retired"
LOCK_TIMEOUT_MS = 2000  # the longest the detach waits for its lock (others queue behind it meanwhile)
DETACH_ATTEMPTS = 3
DETACH_RETRY_SECONDS = 2.0


@dataclass(frozen=True)
class Partition:
    name: str
    lower: dt.datetime | None  # None: the DEFAULT partition
    upper: dt.datetime | None


def ident(name: str) -> str:
    """A table name as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


async def event_partitions(conn: Conn) -> list[Partition]:
    """The partitions attached to `events`, oldest first, the DEFAULT one last."""
    rows = await conn.fetch(
        r"""SELECT name, bounds[1]::timestamptz AS lower, bounds[2]::timestamptz AS upper FROM (
                SELECT c.relname AS name,
                       regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\) TO \(''([^'']+)''\)')
                           AS bounds
                FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'events'::regclass) p
            ORDER BY lower NULLS LAST, name""")
    return [Partition(r["name"], r["lower"], r["upper"]) for r in rows]


async def projects_in(conn: Conn, table: str) -> list[int]:
    """The project ids with rows in one partition (or retired table): a loose index scan, each
    step the next project id after the last one found."""
    t = ident(table)
    rows = await conn.fetch(
        f"""WITH RECURSIVE p AS (
                (SELECT project_id FROM {t} ORDER BY project_id LIMIT 1)
                UNION ALL
                SELECT (SELECT project_id FROM {t} WHERE project_id > p.project_id ORDER BY project_id LIMIT 1)
                FROM p WHERE p.project_id IS NOT NULL)
            SELECT project_id FROM p WHERE project_id IS NOT NULL""")
    return [int(r["project_id"]) for r in rows]


def all_expired(projects: list[int], upper: dt.datetime, cutoffs: dict[int, dt.datetime]) -> bool:
    """Whether every one of `projects` keeps nothing up to `upper`."""
    return all(p in cutoffs and upper <= cutoffs[p] for p in projects)


class _NotExpired(Exception):
    """The detached table holds a row of a project that keeps it: the detach is rolled back."""


async def retire(conn: asyncpg.Connection, partition: Partition, cutoffs: dict[int, dt.datetime]) -> bool:
    """Detach the partition and rename it `<name>_retired` when it still holds only expired rows;
    whether it was retired."""
    assert partition.upper is not None
    for attempt in range(1, DETACH_ATTEMPTS + 1):
        try:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", ROLLUP_LOCK)  # a rollup run ends first
                await conn.execute(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
                await conn.execute(f"ALTER TABLE events DETACH PARTITION {ident(partition.name)}")
                if not all_expired(await projects_in(conn, partition.name), partition.upper, cutoffs):
                    raise _NotExpired
                await conn.execute(f"ALTER TABLE {ident(partition.name)} RENAME TO "
                                   f"{ident(partition.name + RETIRED_SUFFIX)}")
            return True
        except _NotExpired:
            return False
        except asyncpg.LockNotAvailableError:
            log.info("partition busy, detach tried again later",
                     extra={"partition": partition.name, "attempt": attempt})
            if attempt < DETACH_ATTEMPTS:
                await asyncio.sleep(DETACH_RETRY_SECONDS)
    return False


async def retired_tables(conn: Conn) -> list[str]:
    """Tables retired by this run or left by one that stopped before dropping them."""
    rows = await conn.fetch(
        """SELECT c.relname FROM pg_class c
           WHERE c.relkind = 'r' AND NOT c.relispartition AND pg_table_is_visible(c.oid)
             AND c.relname ~ ('^events_[0-9]{4}_[0-9]{2}' || $1 || '$')
           ORDER BY c.relname""", RETIRED_SUFFIX)
    return [r["relname"] for r in rows]


async def drop_retired(conn: Conn, table: str) -> dict[int, int]:
    """Drop a retired table; the rows each project had in it."""
    counts = {int(r["project_id"]): int(r["n"]) for r in await conn.fetch(
        f"SELECT project_id, count(*) AS n FROM {ident(table)} GROUP BY project_id")}
    await conn.execute(f"DROP TABLE {ident(table)}")
    return counts
