"""A project's deletion (`delete_project` jobs, asked for when a project or an account is deleted:
services/users/project_deletion.py): every row of the project in every table that has a
`project_id` column, then its dead letters and shared write-key entries in Redis.

The tables are read from the database catalogue on every run, so a table added later is covered
without a change here; only KEPT is left alone. Rows go in batches of `batch_rows`, each its own
short transaction that deletes, by ctid, the rows an index scan on `project_id` finds in one plain
table (each partition of `events` and of the dedupe ledger `event_ids` on its own): no statement
runs long, no lock is held between batches, and the job pauses between batches
(JobContext.pause) so that ingest of other projects goes on.

A batch goes through a btree index whose first column is project_id (no sequential or bitmap scan:
either would read the whole table, or all the project's rows, once per batch), in the order of
the index's second column from where the last batch stopped (Table.batch), so no batch steps again
over the entries of rows already deleted. At migration 0012 that is, per table (index, then the
column followed):
- `events` partitions: `events_*_project_id_event_time_idx` (0002's (project_id, event_time)), event_time;
- `event_ids` partitions: their primary key (project_id, message_id), message_id;
- persons (visitor_id), person_aliases (alias_id), file_imports (file_digest), rollup_hours,
  rollup_session_hours, rollup_bot_hours (hour), rollup_visitor_hours (visitor_id),
  rollup_visitor_aliases (alias_id), rollup_retention_zones and rollup_retention (tz): their
  primary keys;
- rollup_dim_hours (hour) and rollup_dim_days (dim): rollup_dim_hours_key and rollup_dim_days_key;
- rollup_sessions: rollup_sessions_start_idx (project_id, started_at), started_at;
- legacy_imports: legacy_imports_project_idx (project_id alone: a handful of rows per project).
tests/lifecycle/test_project_deletion.py checks that every table with the column has such an index
and that the batch's plan uses it.

The job runs once the project's row is gone (the users service deletes it, under the ledger lock,
in the transaction that queues this job), so ingest adds nothing to it. The rollup job may have
read the project's last events before they went and write their rollups after they went: once
everything is deleted, the tables are swept once more while holding the rollup job's lock, that
is after any run in progress."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis

from services.lifecycle.jobs import Conn
from services.lifecycle.runner import JobContext
from services.shared.redis import DEAD_LETTER_STREAM, delete_project_write_keys

log = logging.getLogger("tme.lifecycle.deletion")

# tables with a project_id column whose rows stay: data_jobs is the audit record of deletions and
# erasures, this one included (who asked, when, how many rows), meant to outlive the project, and
# audit_events the team's log (which says the project was deleted, and by whom); neither holds
# anything a visitor sent
KEPT = frozenset({"data_jobs", "audit_events"})

# every plain table (a partition, or an unpartitioned table) of our schema with a project_id
# column: its name, the table its rows are counted under (a partition's root), and the btree index
# its batches go through: one whose first column is project_id, valid and not partial, preferably
# one whose second column is NOT NULL (the key the batches follow), the smallest of those
_TABLES = """
SELECT c.oid::regclass::text AS leaf,
       coalesce(pg_partition_root(c.oid), c.oid)::regclass::text AS root,
       ix.index, ix.key
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'project_id' AND NOT a.attisdropped
LEFT JOIN LATERAL (
    SELECT i.indexrelid::regclass::text AS index, quote_ident(k.attname) AS key
    FROM pg_index i
    JOIN pg_class ic ON ic.oid = i.indexrelid
    JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'btree'
    LEFT JOIN pg_attribute k ON i.indnkeyatts > 1 AND k.attrelid = c.oid AND k.attnum = i.indkey[1]
                             AND k.attnotnull
    WHERE i.indrelid = c.oid AND i.indkey[0] = a.attnum AND i.indisvalid AND i.indpred IS NULL
    ORDER BY k.attname IS NULL, i.indnkeyatts, i.indexrelid
    LIMIT 1
) ix ON true
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' AND c.relpersistence <> 't'
  AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.conrelid = c.oid AND f.contype = 'f'
                  AND f.confrelid = 'projects'::regclass AND f.confdeltype = 'c')
"""
# (tables whose project_id references projects ON DELETE CASCADE -- invitations, guests, share
# links -- lose their rows with the project's row, in the users service's transaction)

# a batch's scan goes through its index in the index's order: no sequential or bitmap scan (either
# reads the whole table, or every row of the project, once per batch) and no sort
INDEX_ONLY = ("SET LOCAL enable_seqscan = off", "SET LOCAL enable_bitmapscan = off", "SET LOCAL enable_sort = off")


@dataclass(frozen=True)
class Table:
    leaf: str  # the plain table the rows are in
    root: str  # the table they are counted under: a partition's partitioned table, else the table
    index: str | None  # the index on project_id its batches use
    key: str | None  # the index's second column (NOT NULL), which the batches follow

    @property
    def order(self) -> tuple[int, str]:
        """Events first (what rollups and people are made from), rollups last."""
        return (0 if self.root == "events" else 2 if self.root.startswith("rollup_") else 1, self.leaf)

    def batch(self, *, resume: bool) -> str:
        """The statement that deletes up to $2 rows of project $1, by ctid, and says how many it
        found and deleted and the key it ended at. With a key, the rows are taken in the index's
        order from the key the last batch ended at ($3): each batch starts where the last one
        stopped instead of stepping again over the index entries of the rows already deleted
        (they stay in the index until vacuum, and while an older snapshot is open nothing marks
        them dead)."""
        key = self.key
        if key is None:
            pick = f"SELECT ctid, NULL::text AS k FROM {self.leaf} WHERE project_id = $1 LIMIT $2"
        else:
            after = f" AND {key} >= $3" if resume else ""
            pick = f"SELECT ctid, {key} AS k FROM {self.leaf} WHERE project_id = $1{after} ORDER BY {key} LIMIT $2"
        return f"""WITH batch AS MATERIALIZED ({pick}),
            gone AS (DELETE FROM {self.leaf} WHERE ctid = ANY(ARRAY(SELECT ctid FROM batch)) RETURNING 1)
            SELECT (SELECT count(*) FROM batch) AS found, (SELECT count(*) FROM gone) AS deleted,
                   (SELECT k FROM batch ORDER BY k DESC LIMIT 1) AS last"""


async def leaf_tables(conn: Conn) -> list[Table]:
    """Every plain table with a project_id column, KEPT left out, in the order they are emptied."""
    rows = await conn.fetch(_TABLES)
    tables = [Table(r["leaf"], r["root"], r["index"], r["key"]) for r in rows if r["root"] not in KEPT]
    return sorted(tables, key=lambda t: t.order)


async def delete_project(ctx: JobContext) -> None:
    project_id = ctx.job.project_id
    async with ctx.pool.acquire() as conn:
        if await conn.fetchval("SELECT 1 FROM projects WHERE id = $1", project_id):
            # the users service deletes the row first, under the ledger lock: else ingest could go on
            raise RuntimeError(f"project {project_id} still exists; it must be deleted before its data")
    async with ctx.pool.acquire() as conn:
        tables = await leaf_tables(conn)
    for table in tables:
        if table.index is None:
            log.warning("%s has no index on project_id: each deletion batch reads the whole table", table.leaf)
    for table in tables:
        await _empty(ctx, table)
    await _sweep_after_rollups(ctx, tables)
    await _delete_from_redis(ctx)


async def _empty(ctx: JobContext, table: Table) -> int:
    """Delete the project's rows of one table, batch by batch; how many."""
    total = 0
    last: Any = None
    while True:
        args = (ctx.job.project_id, ctx.batch_rows) if last is None else (ctx.job.project_id, ctx.batch_rows, last)
        async with ctx.pool.acquire() as conn, conn.transaction():
            for setting in INDEX_ONLY:
                await conn.execute(setting)
            row = await conn.fetchrow(table.batch(resume=last is not None), *args)
        assert row is not None
        deleted = int(row["deleted"])
        total += deleted
        await ctx.record({table.root: deleted})
        if row["found"] < ctx.batch_rows:
            return total
        last = row["last"]
        await ctx.pause()


async def _sweep_after_rollups(ctx: JobContext, tables: list[Table]) -> None:
    """Every table once more, holding the rollup job's lock (after the run in progress, if any,
    which may have written rollups of events read before they were deleted). The job's heartbeat
    goes on while it waits."""
    async with ctx.pool.acquire() as conn, ctx.rollup_lock(conn):
        late = {table.leaf: await _empty(ctx, table) for table in tables}
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


async def delete_dead_letters(redis: aioredis.Redis, project_id: int, page: int,
                              mentioning: list[str] | None = None) -> int:
    """Delete the dead letters of a project (their `p` field, services/subscriber/deadletters.py),
    or only those whose events mention one of the ids in `mentioning` (an erasure: the id as a JSON
    string anywhere in the entry's events, so an entry that cannot be parsed is matched too),
    reading the dead-letter stream `page` entries at a time; how many went."""
    wanted = str(project_id).encode()
    needles = [orjson.dumps(i) for i in mentioning or []]
    start = "-"
    deleted = 0
    while True:
        entries = await redis.xrange(DEAD_LETTER_STREAM, min=start, count=page)
        if not entries:
            return deleted
        doomed = [entry_id for entry_id, fields in entries
                  if isinstance(entry_id, bytes) and fields is not None and fields.get(b"p") == wanted
                  and (not needles or any(n in fields.get(b"e", b"") for n in needles))]
        if doomed:
            deleted += int(await redis.xdel(DEAD_LETTER_STREAM, *doomed))
        last = entries[-1][0]
        start = "(" + (last.decode() if isinstance(last, bytes) else str(last))
