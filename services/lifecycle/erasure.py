"""One person's erasure (`POST /api/projects/{id}/regulations`): their events, profile and id
links, and their share of the rollups, so that nothing of them remains and every answer about the
others is what it would be had the person never been seen.

1. Who: every id of each subject's person (person_ids.linked_ids: the alias tree, and anonymous
   ids that events carry only beside the person's user ids). The job's record keeps them (as
   subjects, with their digests) before anything is deleted, so a retry after a crash still
   knows the ids whose links it already removed.
2. Under the rollup job's advisory lock (so no run interleaves), the rollups are rewritten
   without the person's events: the hourly rows of every hour they had an action in (counts and
   visitor sketches cannot be decremented: each hour is recomputed from raw events, one UTC day
   per transaction, with hourly.recompute), the bot counts of those hours, their sessions and
   every SDK session they were part of (with the rollup job's session code), and their pairs in
   the retention matrices' visitor state; the project's matrices are then marked for rebuild
   (questions are answered from raw events until the job's next run has recomputed them). The
   recomputes read only rows the job has already added (`_ADDED`): rows stored since its last
   run are added by its next one, and must not be counted twice.
3. Still under the lock, so that no run adds a row about to go: the events, in bounded batches
   per partition (the (project_id, visitor_id, event_time) index finds them), then the profiles
   and id links. An event is the person's when its visitor id (userId, else anonymousId) is one
   of their ids.

Rollups come before the rows they are computed from: a retry after a crash finds the hours to
rewrite in the events still there (a rewrite over hours already rewritten changes nothing).
The dedupe ledger keeps the erased messages' ids (random ids, not the person's), so a client
resending an erased message within the ledger's window does not bring it back."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import cast

import asyncpg

from services.lifecycle.deletion import delete_dead_letters
from services.lifecycle.jobs import subject_digest
from services.lifecycle.partitions import event_partitions, ident
from services.lifecycle.person_ids import linked_ids
from services.lifecycle.runner import JobContext
from services.tracking.rollups import hourly
from services.tracking.rollups.hours import hour_of
from services.tracking.rollups.job import rollup_sessions, unseen_by_last_run
from services.tracking.sql import ACTION_TYPES

SESSIONS_PER_BATCH = 500  # SDK sessions recomputed in one transaction
# after recomputing one day of rollups, pause this many times as long as it took, as the rollup job
# paces itself: a person active every day of a large project makes the erasure recompute nearly all
# its hours (what the job's first run costs), and ingest shares the database meanwhile
# (docs/benchmarks.md, bench/lifecycle)
DAY_PAUSE_FACTOR = 1.0

# Rows the rollup job has added: not stored since its last run's watermark by a transaction its
# snapshot did not see (read from rollup_state, which the lock keeps still). Rows older than a
# day before the watermark count as added without looking at their xmin, whose epoch could no
# longer be told (the job's own margin, TME_ROLLUP_MARGIN_SECONDS, is far below a day).
_ADDED = "NOT ({})".format(unseen_by_last_run(
    "e", since="(SELECT watermark - interval '1 day' FROM rollup_state WHERE id = 1)",
    snapshot="(SELECT snapshot::text FROM rollup_state WHERE id = 1)",
    xmax="(pg_snapshot_xmax(pg_current_snapshot())::text::bigint)"))
# events not about the person (erasure_ids: the temp table `_with_ids` fills)
_OTHERS = "NOT EXISTS (SELECT 1 FROM erasure_ids x WHERE x.id = e.visitor_id)"
_REWRITE = f"{_ADDED} AND {_OTHERS}"


@dataclass
class Footprint:
    """Where the person is in the rollups: the UTC hours of their actions (bots' included, for
    the bot counts) and the SDK sessions of their analytics actions."""

    hours: list[dt.datetime]
    sdk_sessions: list[str]


async def erase_person(ctx: JobContext) -> None:
    job = ctx.job
    async with ctx.pool.acquire() as proxy:
        conn = cast(asyncpg.Connection, proxy)  # a pool's connection proxies every method of one
        ids = await person_ids(conn, ctx)
        async with ctx.rollup_lock(conn):
            if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM projects WHERE id = $1)", job.project_id):
                # deleted meanwhile: its deletion job deletes everything, and rollups rewritten here
                # after that job's last sweep (which waits for this lock) would outlive it
                return
            footprint = await _footprint(conn, job.project_id, ids)
            await _rewrite_rollups(conn, ctx, ids, footprint)
            await _delete_events(conn, ctx, ids)
            await _delete_people(conn, ctx, ids)
            if ctx.redis is not None:  # dead letters that carry the person's events
                await ctx.record({"redis:dead_letters": await delete_dead_letters(
                    ctx.redis, job.project_id, ctx.batch_rows, mentioning=ids)})


async def person_ids(conn: asyncpg.Connection, ctx: JobContext) -> list[str]:
    """The subjects and every id linked to them, kept in the job's record (with their digests)."""
    job = ctx.job
    found = list(job.subject_ids)  # on a retry, the linked ids found before are among them
    reached: set[str] = set()
    for subject in job.subject_ids:
        if subject not in reached:
            linked = await linked_ids(conn, job.project_id, subject)
            reached.update(linked)
            found += linked
    ids = list(dict.fromkeys(found))
    if ids != job.subject_ids:
        await conn.execute("UPDATE data_jobs SET subject_ids = $2, subject_digests = $3, heartbeat_at = now() "
                           "WHERE id = $1", job.id, ids, [subject_digest(i) for i in ids])
    return ids


async def _footprint(conn: asyncpg.Connection, project_id: int, ids: list[str]) -> Footprint:
    hours = await conn.fetch(
        f"""SELECT DISTINCT {hour_of('e.event_time')} AS hour FROM events e
            WHERE e.project_id = $1 AND e.visitor_id = ANY($2::text[]) AND e.type IN {ACTION_TYPES}
            UNION
            SELECT hour FROM rollup_visitor_hours WHERE project_id = $1 AND visitor_id = ANY($2::text[])""",
        project_id, ids)
    sessions = await conn.fetch(
        f"""SELECT DISTINCT e.session_id FROM events e
            WHERE e.project_id = $1 AND e.visitor_id = ANY($2::text[]) AND e.session_id IS NOT NULL
              AND e.type IN {ACTION_TYPES} AND NOT e.is_bot""", project_id, ids)
    return Footprint(sorted(r["hour"] for r in hours), sorted(r["session_id"] for r in sessions))


@contextlib.asynccontextmanager
async def _with_ids(conn: asyncpg.Connection, ids: list[str]) -> AsyncIterator[None]:
    """A transaction in which the temp table `erasure_ids` holds the person's ids (the rollup
    code's conditions take no parameters)."""
    async with conn.transaction():
        await conn.execute("CREATE TEMP TABLE erasure_ids (id text PRIMARY KEY) ON COMMIT DROP")
        await conn.execute("INSERT INTO erasure_ids SELECT DISTINCT unnest($1::text[])", ids)
        yield


async def _rewrite_rollups(conn: asyncpg.Connection, ctx: JobContext, ids: list[str], footprint: Footprint) -> None:
    project_id = ctx.job.project_id
    job_ran = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM rollup_state WHERE id = 1)")
    if job_ran:  # else the job's first run computes every rollup from the events left
        for day in hourly.day_chunks(footprint.hours, 1):
            low, high = day[0], day[-1] + dt.timedelta(hours=1)
            began = time.perf_counter()
            async with _with_ids(conn, ids):
                await hourly.recompute(conn, project_id, day, _REWRITE)
                await conn.execute("DELETE FROM rollup_bot_hours WHERE project_id = $1 "
                                   "AND hour = ANY($2::timestamptz[])", project_id, day)
                await conn.execute(hourly.add_bots(
                    f"""e.project_id = $1 AND e.event_time >= $2 AND e.event_time < $3
                        AND {hour_of('e.event_time')} = ANY($4::timestamptz[]) AND {_REWRITE}"""),
                    project_id, low, high, day)
            await asyncio.sleep(DAY_PAUSE_FACTOR * (time.perf_counter() - began))
            await ctx.pause()
    await _rewrite_sessions(conn, ctx, ids, footprint.sdk_sessions, recompute=job_ran)
    async with conn.transaction():
        hours = await conn.execute("DELETE FROM rollup_visitor_hours WHERE project_id = $1 AND visitor_id = ANY($2)",
                                   project_id, ids)
        aliases = await conn.execute("DELETE FROM rollup_visitor_aliases WHERE project_id = $1 "
                                     "AND (alias_id = ANY($2) OR visitor_id = ANY($2))", project_id, ids)
        await conn.execute("UPDATE rollup_retention_zones SET ready = false WHERE project_id = $1 AND ready",
                           project_id)
    await ctx.record({"rollup_visitor_hours": _count(hours), "rollup_visitor_aliases": _count(aliases)})


async def _rewrite_sessions(conn: asyncpg.Connection, ctx: JobContext, ids: list[str], sdk_sessions: list[str], *,
                            recompute: bool) -> None:
    """The person's sessions go; the SDK sessions they were part of are recomputed from the
    events of the others (or just go, before the job's first run: it computes them all)."""
    project_id = ctx.job.project_id
    batches = [sdk_sessions[i:i + SESSIONS_PER_BATCH] for i in range(0, len(sdk_sessions), SESSIONS_PER_BATCH)]
    for n, sids in enumerate(batches or [[]]):
        vids = ids if n == 0 else []
        keys = [f"s:{s}" for s in sids] + [f"v:{v}" for v in vids]
        count = "SELECT count(*) FROM rollup_sessions WHERE project_id = $1 AND grp = ANY($2::text[])"
        async with _with_ids(conn, ids):
            before = await conn.fetchval(count, project_id, keys)
            if recompute:
                await rollup_sessions(conn, project_id, (sids, vids), only=_REWRITE)
            else:
                await conn.execute("DELETE FROM rollup_sessions WHERE project_id = $1 AND grp = ANY($2::text[])",
                                   project_id, keys)
            after = await conn.fetchval(count, project_id, keys)
        await ctx.record({"rollup_sessions": int(before) - int(after)})
        await ctx.pause()


async def _delete_events(conn: asyncpg.Connection, ctx: JobContext, ids: list[str]) -> None:
    """Each partition's events of the person, `batch_rows` at a time, each batch a statement of
    its own (a short transaction)."""
    project_id = ctx.job.project_id
    for partition in await event_partitions(conn):
        table = ident(partition.name)
        while True:
            status = await conn.execute(
                f"""DELETE FROM {table} WHERE ctid = ANY(ARRAY(
                        SELECT ctid FROM {table} WHERE project_id = $1 AND visitor_id = ANY($2::text[]) LIMIT $3))""",
                project_id, ids, ctx.batch_rows)
            deleted = _count(status)
            await ctx.record({"events": deleted})
            if deleted < ctx.batch_rows:
                break
            await ctx.pause()


async def _delete_people(conn: asyncpg.Connection, ctx: JobContext, ids: list[str]) -> None:
    project_id = ctx.job.project_id
    async with conn.transaction():
        persons = await conn.execute("DELETE FROM persons WHERE project_id = $1 AND visitor_id = ANY($2::text[])",
                                     project_id, ids)
        aliases = await conn.execute("DELETE FROM person_aliases WHERE project_id = $1 "
                                     "AND (alias_id = ANY($2::text[]) OR visitor_id = ANY($2::text[]))",
                                     project_id, ids)
    await ctx.record({"persons": _count(persons), "person_aliases": _count(aliases)})


def _count(status: str) -> int:
    """The rows a command's status ("DELETE 12") names."""
    return int(status.split()[-1])
