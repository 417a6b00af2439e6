"""One person's erasure (`POST /api/projects/{id}/regulations`): their events, profile and id
links, and their share of the rollups, so that nothing of them remains and every answer about the
others is what it would be had the person never been seen.

1. Who: every id of each subject's person (person_ids.linked_ids: the alias tree, and anonymous
   ids that events carry only beside the person's user ids). The job's record keeps them (as
   subjects, with their digests) before anything is deleted, so a retry after a crash still
   knows the ids whose links it already removed.
2. A few hours at a time (one at a time in a busy project: _erase_hours), each unit one
   transaction under the rollup job's advisory lock (taken for that transaction only, so the
   job's runs go on between units): every UTC hour the person had an action in is recomputed from
   raw events without the person's (hourly.recompute_hours; counts and visitor sketches cannot be
   decremented), with its bot count and the SDK sessions the person's actions of that hour were
   part of (the rollup job's session code); with the last such hour of a UTC day, that day's rows
   are summed again from its hours. The recomputes read only rows the job has already added
   (`_ADDED`): rows stored since its last run are added by its next one, and must not be counted
   twice. In the same transaction go the person's events of those hours.
3. The person's other events (identify, alias, group: no rollup reads them), in bounded batches
   per partition, without the lock.
4. Under the lock, held to the end: the hours and SDK sessions of the person's events still there
   (stored since their hour's turn: usually none) are recomputed as in 2; those events go; their
   inactivity sessions (without an SDK sessionId), their pairs in the retention matrices' visitor
   state, their profiles and id links go; and the project's matrices are marked for rebuild
   (questions are answered from raw events until the job's next run has recomputed them).

Why the job's runs between the units of 2 leave every rollup exact: a run only ever adds rows it
has not added before (its snapshot moves forward), so the others' rows of an hour recomputed in 2
that it adds later were left out of the recompute and are counted once; the person's rows of the
hour go with the recompute, in one transaction, so no later run (nor a rebuild of every rollup,
`tme reattribute`) finds them; the person's rows stored after their hour's turn, which a run may
add, are still in `events` at step 4, which recomputes their hours and sessions under the lock and
deletes them before any run can add them again. The visitor state keeps the person's pairs until
step 4; another visitor's row is added against its own pairs only, so an hour's exact visitor count
stays right meanwhile.

Each unit of work (an hour, a batch of deletes, the search for linked ids, the person's footprint)
is followed by a pause UNIT_PAUSE_FACTOR times as long as it took, so the erasure never takes more
than a third of one database core however large the person, and ingest of every project goes on
beside it at nearly its rate (docs/benchmarks.md, bench/lifecycle). A person active in every hour
of a large project costs about what the rollup job's first run costs, spread over three times as
long. The step in progress is the application_name of the job's connection (`tme erasure: hours`,
...), which pg_stat_activity shows.

Rollups come before the rows they are computed from: a retry after a crash finds the hours left to
rewrite in the events still there. The dedupe ledger keeps the erased messages' ids (random ids,
not the person's), so a client resending an erased message within the ledger's window does not
bring it back."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator
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

# after each unit of work, pause this many times as long as it took: the erasure then takes at most
# a third of one database core, which ingest shares (docs/benchmarks.md, bench/lifecycle)
UNIT_PAUSE_FACTOR = 2.0
UNIT_SECONDS = 0.25  # step 2's units grow while they take less than half this, shrink above it
MAX_UNIT_HOURS = 24
STEP_NAME = "tme erasure: {}"  # the application_name of the job's connection during each step

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


class ProjectGone(Exception):
    """The project was deleted while the erasure ran: its deletion job deletes everything, and
    rollups rewritten after that job's last sweep (which waits for the rollup lock) would outlive it."""


class Paced:
    """Units of work on the job's connection, each followed by a pause proportional to its time."""

    def __init__(self, conn: asyncpg.Connection, ctx: JobContext) -> None:
        self.conn, self.ctx = conn, ctx
        self.took = 0.0  # the last unit's time (without waiting for the lock or the pause)

    async def step(self, name: str) -> None:
        await self.conn.execute("SELECT set_config('application_name', $1, false)", STEP_NAME.format(name))

    @contextlib.asynccontextmanager
    async def unit(self, *, locked: bool = False) -> AsyncIterator[None]:
        """One unit; with `locked`, under the rollup job's lock, in a project that still exists."""
        async with contextlib.AsyncExitStack() as stack:
            if locked:
                await stack.enter_async_context(self.ctx.rollup_lock(self.conn))
                if not await self.conn.fetchval("SELECT EXISTS (SELECT 1 FROM projects WHERE id = $1)",
                                                self.ctx.job.project_id):
                    raise ProjectGone
            began = time.perf_counter()
            yield
            self.took = time.perf_counter() - began
        await asyncio.sleep(UNIT_PAUSE_FACTOR * self.took)
        await self.ctx.pause()


async def erase_person(ctx: JobContext) -> None:
    job = ctx.job
    async with ctx.pool.acquire() as proxy:
        conn = cast(asyncpg.Connection, proxy)  # a pool's connection proxies every method of one
        paced = Paced(conn, ctx)
        try:
            await paced.step("linked ids")
            async with paced.unit():
                ids = await person_ids(conn, ctx)
            await paced.step("footprint")
            async with paced.unit():
                hours = await _action_hours(conn, job.project_id, ids, visitor_state=True)
            await paced.step("hours")
            await _erase_hours(paced, ids, hours)
            await paced.step("other events")
            await _delete_events(paced, ids, f"e.type NOT IN {ACTION_TYPES}")
            await paced.step("rest")
            async with ctx.rollup_lock(conn):
                if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM projects WHERE id = $1)", job.project_id):
                    return
                await _erase_rest(paced, ids)
        except ProjectGone:
            return
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


async def _action_hours(conn: asyncpg.Connection, project_id: int, ids: list[str], *,
                        visitor_state: bool) -> list[dt.datetime]:
    """The UTC hours of the person's actions (bots' included, for the bot counts); with
    `visitor_state`, also those the visitor state still has them in (an earlier attempt's)."""
    state = ("UNION SELECT hour FROM rollup_visitor_hours WHERE project_id = $1 AND visitor_id = ANY($2::text[])"
             if visitor_state else "")
    rows = await conn.fetch(
        f"""SELECT DISTINCT {hour_of('e.event_time')} AS hour FROM events e
            WHERE e.project_id = $1 AND e.visitor_id = ANY($2::text[]) AND e.type IN {ACTION_TYPES} {state}""",
        project_id, ids)
    return sorted(r["hour"] for r in rows)


@contextlib.asynccontextmanager
async def _with_ids(conn: asyncpg.Connection, ids: list[str]) -> AsyncIterator[None]:
    """A transaction in which the temp table `erasure_ids` holds the person's ids (the rollup
    code's conditions take no parameters)."""
    async with conn.transaction():
        await conn.execute("CREATE TEMP TABLE erasure_ids (id text PRIMARY KEY) ON COMMIT DROP")
        await conn.execute("INSERT INTO erasure_ids SELECT DISTINCT unnest($1::text[])", ids)
        yield


def _midnight(hour: dt.datetime) -> dt.datetime:
    return hour.astimezone(dt.UTC).replace(hour=0)


async def _erase_hours(paced: Paced, ids: list[str], hours: list[dt.datetime]) -> None:
    """Step 2: the hours a few at a time, each unit a transaction of its own under the lock,
    paced. A unit starts as one hour and doubles (up to MAX_UNIT_HOURS) while units take under
    half of UNIT_SECONDS, halving when one takes longer: a busy project's hours go one by one, so
    no unit holds the lock or the database for long."""
    last_of_day = {_midnight(hour): hour for hour in hours}  # hours are in order: the day's last wins
    size, done = 1, 0
    while done < len(hours):
        unit = hours[done:done + size]
        async with paced.unit(locked=True):
            await _erase_unit(paced, ids, unit, [_midnight(h) for h in unit if last_of_day[_midnight(h)] == h])
        done += len(unit)
        if paced.took < UNIT_SECONDS / 2:
            size = min(2 * size, MAX_UNIT_HOURS)
        elif paced.took > UNIT_SECONDS:
            size = max(1, size // 2)


async def _erase_unit(paced: Paced, ids: list[str], hours: list[dt.datetime], days: list[dt.datetime]) -> None:
    """The given hours without the person (under the lock, the caller's): their rollups, bot
    counts and the SDK sessions of the person's actions in them recomputed from the others' rows the
    job has added, and `days` (midnights) summed again from their hours; then the person's events of
    those hours deleted. Before the job's first run (or after its state was cleared for a rebuild)
    only the events go: that run computes every rollup from the events left."""
    conn, ctx = paced.conn, paced.ctx
    project_id = ctx.job.project_id
    span = (project_id, hours[0], hours[-1] + dt.timedelta(hours=1), hours)
    in_hours = (f"e.project_id = $1 AND e.event_time >= $2 AND e.event_time < $3 "
                f"AND {hour_of('e.event_time')} = ANY($4::timestamptz[])")
    sessions = 0
    async with _with_ids(conn, ids):
        job_ran = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM rollup_state WHERE id = 1)")
        if job_ran:
            sids = [r["session_id"] for r in await conn.fetch(
                f"""SELECT DISTINCT e.session_id FROM events e
                    WHERE {in_hours} AND e.visitor_id = ANY($5::text[]) AND e.session_id IS NOT NULL
                      AND e.type IN {ACTION_TYPES} AND NOT e.is_bot""", *span, ids)]
            await hourly.recompute_hours(conn, project_id, hours, _REWRITE)
            if days:
                await hourly.recompute_days(conn, project_id, days)
            await conn.execute("DELETE FROM rollup_bot_hours WHERE project_id = $1 AND hour = ANY($2::timestamptz[])",
                               project_id, hours)
            await conn.execute(hourly.add_bots(f"{in_hours} AND {_REWRITE}"), *span)
            if sids:
                sessions = await _recompute_sessions(conn, project_id, sids, [])
        status = await conn.execute(f"DELETE FROM events e WHERE {in_hours} AND e.visitor_id = ANY($5::text[])",
                                    *span, ids)
    await ctx.record({"events": _count(status), "rollup_sessions": sessions})


async def _recompute_sessions(conn: asyncpg.Connection, project_id: int, sids: list[str], vids: list[str]) -> int:
    """The SDK sessions `sids` recomputed from the others' rows the job has added, the inactivity
    sessions of the visitors `vids` (the person's ids) deleted; the sessions that went."""
    keys = [f"s:{s}" for s in sids] + [f"v:{v}" for v in vids]
    count = "SELECT count(*) FROM rollup_sessions WHERE project_id = $1 AND grp = ANY($2::text[])"
    before = await conn.fetchval(count, project_id, keys)
    await rollup_sessions(conn, project_id, (sids, vids), only=_REWRITE)
    return int(before) - int(await conn.fetchval(count, project_id, keys))


async def _erase_rest(paced: Paced, ids: list[str]) -> None:
    """Step 4, under the lock (the caller's)."""
    conn, ctx = paced.conn, paced.ctx
    project_id = ctx.job.project_id
    left = await _action_hours(conn, project_id, ids, visitor_state=False)
    if left:
        await _erase_unit(paced, ids, left, sorted({_midnight(h) for h in left}))
    await _delete_events(paced, ids, "TRUE", locked=True)  # came in since the hours were looked at
    async with _with_ids(conn, ids):
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM rollup_state WHERE id = 1)"):
            sessions = await _recompute_sessions(conn, project_id, [], ids)
        else:
            sessions = _count(await conn.execute("DELETE FROM rollup_sessions WHERE project_id = $1 "
                                                 "AND grp = ANY($2::text[])", project_id, [f"v:{v}" for v in ids]))
        hours = await conn.execute("DELETE FROM rollup_visitor_hours WHERE project_id = $1 AND visitor_id = ANY($2)",
                                   project_id, ids)
        aliases = await conn.execute("DELETE FROM rollup_visitor_aliases WHERE project_id = $1 "
                                     "AND (alias_id = ANY($2) OR visitor_id = ANY($2))", project_id, ids)
        await conn.execute("UPDATE rollup_retention_zones SET ready = false WHERE project_id = $1 AND ready",
                           project_id)
        persons = await conn.execute("DELETE FROM persons WHERE project_id = $1 AND visitor_id = ANY($2::text[])",
                                     project_id, ids)
        links = await conn.execute("DELETE FROM person_aliases WHERE project_id = $1 "
                                   "AND (alias_id = ANY($2::text[]) OR visitor_id = ANY($2::text[]))",
                                   project_id, ids)
    await ctx.record({"rollup_sessions": sessions, "rollup_visitor_hours": _count(hours),
                      "rollup_visitor_aliases": _count(aliases), "persons": _count(persons),
                      "person_aliases": _count(links)})


async def _delete_events(paced: Paced, ids: list[str], which: str, *, locked: bool = False) -> None:
    """The person's events that pass `which` (a condition on `e`), partition by partition,
    `batch_rows` at a time, each batch a statement of its own (a short transaction), paced; with
    `locked`, under the lock the caller holds (then without pauses: the rollup job waits)."""
    conn, ctx = paced.conn, paced.ctx
    for partition in await event_partitions(conn):
        table = ident(partition.name)
        while True:
            async with contextlib.AsyncExitStack() as stack:
                if not locked:
                    await stack.enter_async_context(paced.unit())
                status = await conn.execute(
                    f"""DELETE FROM {table} WHERE ctid = ANY(ARRAY(
                            SELECT ctid FROM {table} e
                            WHERE e.project_id = $1 AND e.visitor_id = ANY($2::text[]) AND {which} LIMIT $3))""",
                    ctx.job.project_id, ids, ctx.batch_rows)
            deleted = _count(status)
            await ctx.record({"events": deleted})
            if deleted < ctx.batch_rows:
                break


def _count(status: str) -> int:
    """The rows a command's status ("DELETE 12") names."""
    return int(status.split()[-1])
