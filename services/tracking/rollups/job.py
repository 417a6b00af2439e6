"""The rollup job: keeps the rollup tables (migrations 0004_rollups, 0005_retention_rollups,
0006_incremental_rollups) equal to what the raw queries would compute, a few seconds behind the
event table.

Each run first analyzes event partitions whose statistics miss most of their rows (a new month:
see analyze_fresh_partitions). The rest of the run is one REPEATABLE READ transaction: it reads
the rows new since the last run -- stored since its watermark minus a margin (`created_at`,
through the BRIN index) by transactions its snapshot did not see -- and:
- adds them to their UTC hours and days (hourly.py: counts, visitor sketches, exact visitors),
  and the bot actions among them to the bot counts per hour;
- merges them into their SDK sessions (start, end and counts) and recomputes from raw events the
  inactivity sessions of the visitors without a sessionId they belong to, then the session
  aggregates of every start hour that gained or lost a session;
- updates the retention cohort matrices for the visitors those rows and new aliases touch
  (cohorts.py);
and stores its own snapshot with what it did. So every row is added exactly once: a run that
fails changes nothing and the next one redoes its work. The first run (and a run that rebuilds
the visitor state) recomputes every hour whole instead. A PostgreSQL advisory lock lets one
replica run at a time; the others skip their turn."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from services.shared.background import BackgroundLoop
from services.shared.db import locked_connection
from services.tracking.metrics import ROLLUP_LAG, ROLLUP_RUNS
from services.tracking.queries.sessionize import sessions_ctes
from services.tracking.rollups import cohorts, hourly
from services.tracking.rollups.hours import hour_of
from services.tracking.scope import analytics_where
from services.tracking.settings import TrackingSettings
from services.tracking.sql import ACTION_TYPES, VIEW_TYPES, Params

log = logging.getLogger("tme.tracking.rollups")

LOCK_KEY = 7_245_004  # pg advisory lock: one rollup job at a time across replicas
BUSY_PAUSE_FACTOR = 3.0  # pause at least 3x as long as the last run took: the job runs <= 25% of the time
FULL_SESSIONS_ABOVE = 200_000  # more session groups touched than this: recompute all the project's sessions
# emptied by a run without state (DELETE, not TRUNCATE: questions go on reading them meanwhile);
# the visitor state and the matrices are rebuilt by cohorts.update
REBUILT = ("rollup_hours", "rollup_dim_hours", "rollup_dim_days", "rollup_sessions", "rollup_session_hours",
           "rollup_bot_hours")
SLOW_RUN_SECONDS = 5.0  # a run this long is logged with the time of each step
FRESH_PARTITION_ROWS = 10_000  # an event partition with this many new rows, unknown to its statistics, is analyzed
SHUTDOWN_GRACE_SECONDS = 5.0  # a run in progress at shutdown may finish within this long


@dataclass
class RunStats:
    hours: int = 0
    session_groups: int = 0
    full_projects: list[int] = field(default_factory=list)
    cohort_matrices: int = 0  # retention matrices computed whole
    matrices_dropped: int = 0  # retention matrices nobody asked for in a while
    analyzed: list[str] = field(default_factory=list)  # event partitions analyzed before the run
    rows: int = 0  # analytics rows new since the last run (0 on a first run: every event)
    seconds: dict[str, float] = field(default_factory=dict)  # time per step

    def timed(self, step: str, since: float) -> float:
        """Records the step that ran from `since` (perf_counter); returns now."""
        now = time.perf_counter()
        self.seconds[step] = round(now - since, 3)
        return now


async def refresh(conn: asyncpg.Connection, margin_seconds: float, matrix_days: int = 30) -> RunStats:
    """One run; returns what it did. Retention matrices nobody asked for in `matrix_days` days
    are dropped."""
    stats = RunStats()
    clock = time.perf_counter()
    state = await conn.fetchrow("SELECT watermark, snapshot::text AS snapshot, visitors_ready "
                                "FROM rollup_state WHERE id = 1")
    stats.analyzed = await analyze_fresh_partitions(conn)
    stats.matrices_dropped = await cohorts.drop_unused(conn, matrix_days)
    # before the snapshot: a transaction writing now may commit after it, with rows whose
    # created_at (its start) is older than the clock; the next run looks back to its start
    watermark = await conn.fetchval(
        "SELECT least(clock_timestamp(), (SELECT min(xact_start) FROM pg_stat_activity "
        "WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()))")
    async with conn.transaction(isolation="repeatable_read"):
        snapshot = await conn.fetchrow("SELECT pg_current_snapshot()::text AS text, "
                                       "pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax")
        assert snapshot is not None
        if state is None:  # the first run, or a rebuild: every event, into emptied tables
            await conn.execute("; ".join(f"DELETE FROM {table}" for table in REBUILT))
            source, recent_aliases, args = "events", "TRUE", []
        else:
            args = [state["watermark"] - dt.timedelta(seconds=margin_seconds), state["snapshot"], snapshot["xmax"]]
            columns = ", ".join(f"e.{c}" for c in (*hourly.SOURCE_COLUMNS, "is_bot", "session_id"))
            # the rows new since the last run, read once (BRIN on created_at) for every step below
            status = await conn.execute(f"""CREATE TEMP TABLE rollup_recent ON COMMIT DROP AS
                SELECT {columns} FROM events e
                WHERE {unseen_by_last_run("e")} AND e.type IN {ACTION_TYPES} AND NOT e.is_bot""", *args)
            stats.rows = int(status.split()[-1])  # "SELECT <rows>"
            await conn.execute("ANALYZE rollup_recent")
            source, recent_aliases = "rollup_recent", unseen_by_last_run("a")
        clock = stats.timed("recent", clock)

        touched = await conn.fetch(
            f"""SELECT e.project_id,
                       array_agg(DISTINCT e.session_id) FILTER (WHERE e.session_id IS NOT NULL) AS sids,
                       array_agg(DISTINCT e.visitor_id) FILTER (WHERE e.session_id IS NULL) AS vids
                FROM {source} e
                WHERE e.type IN {ACTION_TYPES} AND NOT e.is_bot AND e.visitor_id IS NOT NULL
                GROUP BY e.project_id""")
        for row in touched:
            sids, vids = row["sids"] or [], row["vids"] or []
            stats.session_groups += len(sids) + len(vids)
            full = len(sids) + len(vids) > FULL_SESSIONS_ABOVE
            if full:
                stats.full_projects.append(row["project_id"])
            await rollup_sessions(conn, row["project_id"], None if full else (sids, vids),
                                   merge_recent=state is not None)
        clock = stats.timed("sessions", clock)

        rebuild = state is None or not state["visitors_ready"]
        stats.cohort_matrices = await cohorts.update(conn, "events" if rebuild else source, recent_aliases, args,
                                                     full=rebuild)
        clock = stats.timed("retention", clock)
        if rebuild:  # the visitor state is rebuilt: which pairs are new is unknown, recompute whole hours
            stats.hours = await hourly.recompute_all(conn, source)
        else:
            stats.hours = await hourly.add_recent(conn, cohorts.FRESH_PAIRS)
        # bots are left out of everything above; their counts per hour come from the same rows
        await conn.execute(hourly.add_bots("TRUE" if state is None else unseen_by_last_run("e")),
                           *([] if state is None else args[:3]))
        clock = stats.timed("hours", clock)

        await conn.execute(
            """INSERT INTO rollup_state (id, watermark, snapshot, visitors_ready)
               VALUES (1, $1, $2::text::pg_snapshot, true)
               ON CONFLICT (id) DO UPDATE
               SET watermark = excluded.watermark, snapshot = excluded.snapshot, visitors_ready = true,
                   updated_at = now()""",
            watermark, snapshot["text"])
    return stats


async def analyze_fresh_partitions(conn: asyncpg.Connection) -> list[str]:
    """ANALYZE the event partitions that gained at least FRESH_PARTITION_ROWS rows, and more rows
    than their statistics know of, since they were last analyzed: a new month's partition (never
    analyzed, or analyzed while empty by an `ANALYZE events`). Until autovacuum gets to one, the
    planner takes it for (nearly) empty and the run's plans over it go wrong (many times slower,
    docs/benchmarks.md). A partition is analyzed again only once it has doubled."""
    names = [r["name"] for r in await conn.fetch(
        """SELECT s.relname AS name FROM pg_stat_user_tables s
           JOIN pg_inherits i ON i.inhrelid = s.relid JOIN pg_class c ON c.oid = s.relid
           WHERE i.inhparent = 'events'::regclass AND s.n_mod_since_analyze >= greatest($1, c.reltuples)""",
        FRESH_PARTITION_ROWS)]
    for name in names:
        await conn.execute(f'ANALYZE "{name}"')
    return names


def unseen_by_last_run(alias: str, since: str = "$1", snapshot: str = "$2", xmax: str = "$3") -> str:
    """Rows of `alias` the last run did not see: stored since its watermark minus a margin
    (`since`; the BRIN index on created_at finds them) by transactions its snapshot (`snapshot`)
    does not see. A row's xmin has 32 bits; its epoch is the current snapshot's xmax's (`xmax`)
    or, when the low bits are higher than xmax's, the one before. (Events are inserted by
    top-level transactions: pg_visible_in_snapshot cannot judge a subtransaction's xid.) The
    three are SQL expressions: the run's parameters by default."""
    low = f"{alias}.xmin::text::bigint"
    full = (f"({xmax}::bigint - {xmax}::bigint % 4294967296 + {low} "
            f"- CASE WHEN {low} > {xmax}::bigint % 4294967296 THEN 4294967296 ELSE 0 END)")
    return (f"{alias}.created_at >= {since} "
            f"AND NOT pg_visible_in_snapshot({full}::text::xid8, {snapshot}::text::pg_snapshot)")


async def rollup_sessions(conn: asyncpg.Connection, project_id: int,
                           groups: tuple[list[str], list[str]] | None, *, merge_recent: bool = False,
                           only: str = "TRUE") -> None:
    """Recompute (inside the run's transaction) the sessions of the given groups (SDK session
    ids, visitor ids of events without one), or of the whole project when `groups` is None, from
    the events that pass `only` (a condition on `e` without parameters; all of them by default).
    With `merge_recent`, the SDK sessions instead take in the rows of `rollup_recent` (exactly
    the rows new since the last run): an SDK session is all the events of its sessionId, so its
    start, end and counts merge (a visitor's inactivity sessions may split or join: those are
    recomputed)."""
    def insert(group_filter: str | None, ids: list[str] | None = None) -> tuple[str, list[Any]]:
        """The INSERT of the sessions of the project's events that pass `group_filter` (with
        `ids` as its text[] parameter): one index condition, never an OR of two `= ANY(...)`,
        which PostgreSQL would re-check row by row against the whole array (quadratic in the
        number of touched groups)."""
        params = Params()
        where = analytics_where(params, project_id, None, None, []) + f" AND {only}"
        if group_filter is not None:
            where += " AND " + group_filter.format(ids=params.add(ids, "text[]"))
        sql = f"""WITH {sessions_ctes(where)}
            INSERT INTO rollup_sessions (project_id, grp, started_at, ended_at, events, pageviews)
            SELECT {params.add(project_id)}, grp, started_at, ended_at, events, pageviews FROM sessions"""
        return sql, params.values
    # a bounce: one page view and no other action; `viewed`: sessions with page views (summary.py)
    session_hours = f"""INSERT INTO rollup_session_hours (project_id, hour, sessions, bounces, duration, pageviews,
                                                          viewed)
        SELECT $1, {hour_of('s.started_at')}, count(*), count(*) FILTER (WHERE s.events = 1 AND s.pageviews = 1),
               coalesce(sum(extract(epoch FROM s.ended_at - s.started_at)), 0), sum(s.pageviews),
               count(*) FILTER (WHERE s.pageviews > 0)
        FROM rollup_sessions s
        WHERE s.project_id = $1 AND {{starts}}
        GROUP BY 2"""
    if groups is None:
        await conn.execute("DELETE FROM rollup_sessions WHERE project_id = $1", project_id)
        await conn.execute("DELETE FROM rollup_session_hours WHERE project_id = $1", project_id)
        sql, values = insert(None)
        await conn.execute(sql, *values)
        await conn.execute(session_hours.format(starts="TRUE"), project_id)
        return
    sids, vids = groups
    old: list[asyncpg.Record] = []
    new: list[asyncpg.Record] = []
    if merge_recent and sids:
        old, new = await _merge_recent_sdk_sessions(conn, project_id)
        sids = []
    keys = [f"s:{s}" for s in sids] + [f"v:{v}" for v in vids]
    old += await conn.fetch(f"DELETE FROM rollup_sessions WHERE project_id = $1 AND grp = ANY($2::text[]) "
                            f"RETURNING {hour_of('started_at')} AS hour", project_id, keys)
    # SDK sessions and visitors' inactivity sessions are disjoint groups: recompute each apart
    for group_filter, ids in (("e.session_id = ANY({ids})", sids),
                              ("e.session_id IS NULL AND e.visitor_id = ANY({ids})", vids)):
        if ids:
            sql, values = insert(group_filter, ids)
            new += await conn.fetch(f"{sql} RETURNING {hour_of('started_at')} AS hour", *values)
    hours = sorted({r["hour"] for r in old} | {r["hour"] for r in new})
    if not hours:
        return
    await conn.execute("DELETE FROM rollup_session_hours WHERE project_id = $1 AND hour = ANY($2::timestamptz[])",
                       project_id, hours)
    starts = (f"s.started_at >= $2 AND s.started_at < $3 AND {hour_of('s.started_at')} = ANY($4::timestamptz[])")
    await conn.execute(session_hours.format(starts=starts), project_id, hours[0],
                       hours[-1] + dt.timedelta(hours=1), hours)


async def _merge_recent_sdk_sessions(conn: asyncpg.Connection,
                                     project_id: int) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
    """Merges the project's rows of `rollup_recent` that carry a sessionId into their SDK
    sessions; the start hours of the sessions replaced and of the sessions stored."""
    await conn.execute(
        f"""CREATE TEMP TABLE rollup_sdk_delta ON COMMIT DROP AS
            SELECT 's:' || r.session_id AS grp, min(r.event_time) AS started_at, max(r.event_time) AS ended_at,
                   count(*) AS events, count(*) FILTER (WHERE r.type IN {VIEW_TYPES}) AS pageviews
            FROM rollup_recent r
            WHERE r.project_id = $1 AND r.session_id IS NOT NULL AND r.visitor_id IS NOT NULL
            GROUP BY r.session_id""", project_id)
    await conn.execute(
        """CREATE TEMP TABLE rollup_sdk_old ON COMMIT DROP AS
           WITH gone AS (DELETE FROM rollup_sessions s USING rollup_sdk_delta d
                         WHERE s.project_id = $1 AND s.grp = d.grp RETURNING s.*)
           SELECT * FROM gone""", project_id)
    old = await conn.fetch(f"SELECT {hour_of('started_at')} AS hour FROM rollup_sdk_old")
    new = await conn.fetch(
        f"""INSERT INTO rollup_sessions (project_id, grp, started_at, ended_at, events, pageviews)
            SELECT $1, d.grp, least(d.started_at, o.started_at), greatest(d.ended_at, o.ended_at),
                   d.events + coalesce(o.events, 0), d.pageviews + coalesce(o.pageviews, 0)
            FROM rollup_sdk_delta d LEFT JOIN rollup_sdk_old o ON o.grp = d.grp
            RETURNING {hour_of('started_at')} AS hour""", project_id)
    await conn.execute("DROP TABLE rollup_sdk_delta, rollup_sdk_old")
    return old, new


async def run_once(settings: TrackingSettings, *, wait: bool = False) -> RunStats | None:
    """One run under the advisory lock on its own connection; None when another replica holds it
    (or, with `wait`, after waiting for it to finish)."""
    async with locked_connection(settings.database_url, LOCK_KEY, wait=wait) as conn:
        if conn is None:
            return None
        try:
            return await refresh(conn, settings.rollup_margin_seconds, settings.retention_matrix_days)
        except asyncpg.SerializationError:
            # a question updated a retention zone row the run's snapshot had read: run again
            return await refresh(conn, settings.rollup_margin_seconds, settings.retention_matrix_days)


def pause_after(run_seconds: float, interval: float) -> float:
    """The pause before the next run: `interval`, or BUSY_PAUSE_FACTOR times the last run when
    that is longer. A run's work grows with the rows stored since the last one (and the sessions
    and visitors they touch); under heavy ingest the pause keeps the job to at most a quarter of
    one database core (ingest shares it) at the price of answers that lag by up to ~4 runs."""
    return max(interval, BUSY_PAUSE_FACTOR * run_seconds)


def rollup_loop(settings: TrackingSettings) -> BackgroundLoop:
    """The job as a background loop: a run, then a pause (`pause_after`); a run that fails is
    counted and the loop goes on after a back-off. `wake()` starts the next run early: a new
    retention matrix is computed within seconds, not after a long pause. On shutdown a run in
    progress gets 5 s to finish; one cut short rolls back and the next one redoes it."""
    async def one_run() -> float:
        start = time.perf_counter()
        try:
            stats = await run_once(settings)
        except Exception:
            ROLLUP_RUNS.labels("error").inc()
            raise
        if stats is None:
            ROLLUP_RUNS.labels("skipped").inc()
        else:
            ROLLUP_RUNS.labels("ok").inc()
            took = time.perf_counter() - start
            ROLLUP_LAG.observe(took)
            if stats.full_projects or took >= SLOW_RUN_SECONDS:
                log.info("long rollup run", extra={"seconds": stats.seconds, "rows": stats.rows,
                                                   "hours": stats.hours, "session_groups": stats.session_groups,
                                                   "full_projects": stats.full_projects})
        return pause_after(time.perf_counter() - start, settings.rollup_interval_seconds)

    return BackgroundLoop(settings.service_name, "rollups", one_run, interval=settings.rollup_interval_seconds,
                          grace=SHUTDOWN_GRACE_SECONDS)
