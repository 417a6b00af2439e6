"""A project's deletion (`delete_project` jobs, asked for when a project or an account is deleted:
services/users/project_deletion.py): every row of the project in every table that has a
`project_id` column, then its dead letters and shared write-key entries in Redis.

The tables are read from the database catalogue on every run, so a table added later is covered
without a change here; only KEPT is left alone. Rows go in batches of `batch_rows`, each its own
short transaction: a batch deletes, by ctid, the rows an index scan on `project_id` finds in one
plain table (each partition of `events` and of the dedupe ledger `event_ids` on its own), so no
statement runs long and no lock is held between batches, and the job pauses between batches
(JobContext.pause) so that ingest of other projects goes on.

Each batch's scan uses an index whose first column is `project_id` (seq and bitmap scans are
turned off for it: either would read the whole table, or every row of the project, once per
batch). As of migration 0012 those are:
- `events` partitions: one of the (project_id, ...) indexes of migrations 0002-0007 (the planner
  takes the one it finds cheapest; at 0012 the slim (project_id, event_name, event_time,
  visitor_id) index of 0007);
- `event_ids` partitions: their primary key (project_id, message_id);
- persons, person_aliases, rollup_hours, rollup_sessions, rollup_session_hours, rollup_bot_hours,
  rollup_visitor_hours, rollup_visitor_aliases, rollup_retention_zones, rollup_retention,
  file_imports: their primary keys, which start with project_id;
- rollup_dim_hours, rollup_dim_days: rollup_dim_hours_key, rollup_dim_days_key;
- legacy_imports: legacy_imports_project_idx.
tests/lifecycle/test_project_deletion.py checks that every table with the column has such an index
and that the batch's plan uses it.

The job runs once the project's row is gone (the users service deletes it, under the ledger lock,
in the transaction that queues this job), so ingest adds nothing to it. The rollup job may have
read the project's last events before they went and write their rollups after they went: once
everything is deleted, the tables are swept once more while holding the rollup job's lock, that
is after any run in progress."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import redis.asyncio as aioredis

from services.lifecycle.runner import JobContext
from services.shared.redis import DEAD_LETTER_STREAM, delete_project_write_keys
from services.tracking.rollups.job import LOCK_KEY as ROLLUP_LOCK

log = logging.getLogger("tme.lifecycle.deletion")

# tables with a project_id column whose rows stay: data_jobs is the audit record of deletions and
# erasures, this one included (who asked, when, how many rows), meant to outlive the project
KEPT = frozenset({"data_jobs"})
LOCK_RETRY_SECONDS = 0.5  # while a rollup run holds its lock, look again this often

# every plain table (a partition, or an unpartitioned table) of our schema with a project_id
# column: its name, the table its rows are counted under (a partition's root), and the first
# valid, non-partial index on project_id, if any
_TABLES = """
SELECT c.oid::regclass::text AS leaf,
       coalesce(pg_partition_root(c.oid), c.oid)::regclass::text AS root,
       (SELECT i.indexrelid::regclass::text FROM pg_index i
        WHERE i.indrelid = c.oid AND i.indkey[0] = a.attnum AND i.indisvalid AND i.indpred IS NULL
        ORDER BY i.indisprimary DESC, i.indnatts, i.indexrelid LIMIT 1) AS index
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'project_id' AND NOT a.attisdropped
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' AND c.relpersistence <> 't'
"""

# the scan that finds a batch, forced onto an index (see the module docstring)
INDEX_ONLY = ("SET LOCAL enable_seqscan = off", "SET LOCAL enable_bitmapscan = off")


def batch_delete(leaf: str) -> str:
    """The statement that deletes up to $2 rows of project $1 from one plain table."""
    return (f"DELETE FROM {leaf} WHERE ctid = ANY(ARRAY("
            f"SELECT ctid FROM {leaf} WHERE project_id = $1 LIMIT $2))")


@dataclass(frozen=True)
class Table:
    leaf: str  # the plain table the rows are in
    root: str  # the table they are counted under: a partition's partitioned table, else the table
    index: str | None  # the index on project_id its batches use

    @property
    def order(self) -> tuple[int, str]:
        """Events first (what rollups and people are made from), rollups last."""
        return (0 if self.root == "events" else 2 if self.root.startswith("rollup_") else 1, self.leaf)


async def project_tables(ctx: JobContext) -> list[Table]:
    """The tables holding rows of a project, KEPT left out, in the order they are emptied."""
    async with ctx.pool.acquire() as conn:
        rows = await conn.fetch(_TABLES)
    tables = [Table(r["leaf"], r["root"], r["index"]) for r in rows if r["root"] not in KEPT]
    for table in tables:
        if table.index is None:
            log.warning("%s has no index on project_id: each deletion batch reads the whole table", table.leaf)
    return sorted(tables, key=lambda t: t.order)


async def delete_project(ctx: JobContext) -> None:
    project_id = ctx.job.project_id
    async with ctx.pool.acquire() as conn:
        if await conn.fetchval("SELECT 1 FROM projects WHERE id = $1", project_id):
            # the users service deletes the row first, under the ledger lock: else ingest could go on
            raise RuntimeError(f"project {project_id} still exists; it must be deleted before its data")
    tables = await project_tables(ctx)
    for table in tables:
        await _empty(ctx, table)
    await _sweep_after_rollups(ctx, tables)
    await _delete_from_redis(ctx)


async def _empty(ctx: JobContext, table: Table) -> int:
    """Delete the project's rows of one table, batch by batch; how many."""
    statement = batch_delete(table.leaf)
    total = 0
    while True:
        async with ctx.pool.acquire() as conn, conn.transaction():
            for setting in INDEX_ONLY:
                await conn.execute(setting)
            status = await conn.execute(statement, ctx.job.project_id, ctx.batch_rows)
        deleted = int(status.split()[-1])  # "DELETE <rows>"
        total += deleted
        await ctx.record({table.root: deleted})
        if deleted < ctx.batch_rows:
            return total
        await ctx.pause()


async def _sweep_after_rollups(ctx: JobContext, tables: list[Table]) -> None:
    """Every table once more, holding the rollup job's lock (after the run in progress, if any,
    which may have written rollups of events read before they were deleted). The job's heartbeat
    goes on while it waits."""
    async with ctx.pool.acquire() as conn:
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", ROLLUP_LOCK):
            await ctx.pause()
            await asyncio.sleep(LOCK_RETRY_SECONDS)
        try:
            late = {table.leaf: await _empty(ctx, table) for table in tables}
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", ROLLUP_LOCK)
    if any(late.values()):
        log.info("rows written while the project was being deleted, deleted too",
                 extra={"job_id": ctx.job.id, "rows": {k: v for k, v in late.items() if v}})


async def _delete_from_redis(ctx: JobContext) -> None:
    """The project's dead letters and shared write-key entries. Entries of the project still in
    the event stream are the subscriber's: it drops them (the project no longer exists)."""
    if ctx.redis is None:
        log.warning("TME_REDIS_URL is not set: the project's dead letters and shared write keys stay in Redis",
                    extra={"job_id": ctx.job.id, "project_id": ctx.job.project_id})
        return
    letters = await delete_dead_letters(ctx.redis, ctx.job.project_id, ctx.batch_rows)
    keys = await delete_project_write_keys(ctx.redis, ctx.job.project_id)
    await ctx.record({"redis:dead_letters": letters, "redis:write_keys": keys})


async def delete_dead_letters(redis: aioredis.Redis, project_id: int, page: int) -> int:
    """Delete the dead letters of a project (their `p` field, services/subscriber/deadletters.py),
    reading the dead-letter stream `page` entries at a time; how many went."""
    wanted = str(project_id).encode()
    start = "-"
    deleted = 0
    while True:
        entries = await redis.xrange(DEAD_LETTER_STREAM, min=start, count=page)
        if not entries:
            return deleted
        doomed = [entry_id for entry_id, fields in entries
                  if isinstance(entry_id, bytes) and fields is not None and fields.get(b"p") == wanted]
        if doomed:
            deleted += int(await redis.xdel(DEAD_LETTER_STREAM, *doomed))
        last = entries[-1][0]
        start = "(" + (last.decode() if isinstance(last, bytes) else str(last))
