"""The rollup job: keeps the rollup tables (migrations 0004_rollups, 0005_retention_rollups)
equal to what the raw queries would compute, a few seconds behind the event table (more under
heavy ingest: see pause_after).

Each run first analyzes event partitions whose statistics miss most of their rows (a new month:
see analyze_fresh_partitions). It then looks at the rows stored since the last watermark
minus a margin (`created_at`, found through the BRIN index; the margin catches rows that
concurrent writers committed late), and recomputes from raw events, whole:
- every UTC hour those rows fall in (totals and per-dimension rows with visitor sketches), then
  the UTC days of those hours from the hours (`bit_or` of the sketches);
- every session group (SDK sessionId, else visitor without one) they belong to, then the
  session aggregates of every start hour that gained or lost a session;
- the retention cohort matrices (migration 0005_retention_rollups), updated for the visitors
  those rows and new aliases touch (cohorts.py).
Each hour and session piece is replaced with DELETE + INSERT in one transaction, and the
matrices are updated in one transaction, so a run that fails halfway leaves consistent tables and
the next run redoes the rest; running twice changes nothing. A
PostgreSQL advisory lock lets one replica run at a time; the others skip their turn."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from services.shared.db import plain_url
from services.tracking.filters import COLUMNS
from services.tracking.metrics import ROLLUP_LAG, ROLLUP_RUNS
from services.tracking.queries.breakdown import KEEPS_NULL
from services.tracking.queries.sessionize import sessions_ctes
from services.tracking.rollups import cohorts
from services.tracking.rollups.hours import day_of, hour_of
from services.tracking.scope import analytics_where
from services.tracking.settings import TrackingSettings
from services.tracking.sql import ACTION_TYPES, VIEW_TYPES, Params

log = logging.getLogger("tme.tracking.rollups")

LOCK_KEY = 7_245_004  # pg advisory lock: one rollup job at a time across replicas
# breakdown dimensions kept per hour/day (entry/exit pages and JSON keys are answered from raw events)
DIMENSIONS = ("event", "page", "referrer", "source", "utmSource", "utmMedium", "utmCampaign", "utmTerm",
              "utmContent", "browser", "os", "device")
CHUNK_DAYS = 7
BUSY_PAUSE_FACTOR = 3.0  # pause at least 3x as long as the last run took: the job runs <= 25% of the time
FULL_SESSIONS_ABOVE = 200_000  # more session groups touched than this: recompute all the project's sessions
FRESH_PARTITION_ROWS = 10_000  # an event partition with this many new rows, unknown to its statistics, is analyzed


@dataclass
class RunStats:
    hours: int = 0
    session_groups: int = 0
    full_projects: list[int] = field(default_factory=list)
    cohort_matrices: int = 0  # retention matrices computed whole
    matrices_dropped: int = 0  # retention matrices nobody asked for in a while
    analyzed: list[str] = field(default_factory=list)  # event partitions analyzed before the run


async def refresh(conn: asyncpg.Connection, margin_seconds: float, matrix_days: int = 30) -> RunStats:
    """One run; returns what it recomputed. Retention matrices nobody asked for in `matrix_days`
    days are dropped."""
    stats = RunStats()
    now = await conn.fetchrow("SELECT clock_timestamp() AS at, "
                              "pg_snapshot_xmin(pg_current_snapshot())::text::bigint % 4294967296 AS xid_low")
    assert now is not None
    state = await conn.fetchrow("SELECT watermark, xid_low, visitors_ready FROM rollup_state WHERE id = 1")
    stats.analyzed = await analyze_fresh_partitions(conn)
    if state is None:  # the first run: every event
        source, recent_aliases, args = "events", "TRUE", []
    else:
        # the rows stored lately, read once (BRIN on created_at) for the three steps below: each
        # scan of them costs ~0.5 s at a few million events, whatever their number
        args = [state["watermark"] - dt.timedelta(seconds=margin_seconds), state["xid_low"]]
        await conn.execute("DROP TABLE IF EXISTS rollup_recent")
        await conn.execute(f"""CREATE TEMP TABLE rollup_recent AS
            SELECT e.project_id, e.event_time, e.type, e.is_bot, e.visitor_id, e.session_id
            FROM events e WHERE {_stored_lately("e")}""", *args)
        source, recent_aliases = "rollup_recent", _stored_lately("a")

    hours: dict[int, list[dt.datetime]] = defaultdict(list)
    for row in await conn.fetch(f"SELECT DISTINCT e.project_id, {hour_of('e.event_time')} AS hour FROM {source} e"):
        hours[row["project_id"]].append(row["hour"])
    for project_id, project_hours in hours.items():
        stats.hours += len(project_hours)
        for chunk in _day_chunks(project_hours):
            await _rollup_hours(conn, project_id, chunk)

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
        await _rollup_sessions(conn, row["project_id"], None if full else (sids, vids))

    stats.matrices_dropped = await cohorts.drop_unused(conn, matrix_days)
    full = state is None or not state["visitors_ready"]
    stats.cohort_matrices = await cohorts.update(conn, "events" if full else source, recent_aliases, args, full=full)
    await conn.execute("DROP TABLE IF EXISTS rollup_recent")

    await conn.execute("""INSERT INTO rollup_state (id, watermark, xid_low, visitors_ready) VALUES (1, $1, $2, true)
                          ON CONFLICT (id) DO UPDATE
                          SET watermark = excluded.watermark, xid_low = excluded.xid_low, visitors_ready = true,
                              updated_at = now()""",
                       now["at"], now["xid_low"])
    return stats


async def analyze_fresh_partitions(conn: asyncpg.Connection) -> list[str]:
    """ANALYZE the event partitions that gained at least FRESH_PARTITION_ROWS rows, and more rows
    than their statistics know of, since they were last analyzed: a new month's partition (never
    analyzed, or analyzed while empty by an `ANALYZE events`). Until autovacuum gets to one, the
    planner takes it for (nearly) empty and the run's plans over it go wrong: measured ~30 s
    instead of ~4 s at 260k rows. A partition is analyzed again only once it has doubled."""
    names = [r["name"] for r in await conn.fetch(
        """SELECT s.relname AS name FROM pg_stat_user_tables s
           JOIN pg_inherits i ON i.inhrelid = s.relid JOIN pg_class c ON c.oid = s.relid
           WHERE i.inhparent = 'events'::regclass AND s.n_mod_since_analyze >= greatest($1, c.reltuples)""",
        FRESH_PARTITION_ROWS)]
    for name in names:
        await conn.execute(f'ANALYZE "{name}"')
    return names


def _stored_lately(alias: str) -> str:
    """Rows of `alias` ($1: the last watermark minus the margin, $2: that run's snapshot xmin)
    stored lately by transactions not older than the last run's snapshot (xids wrap at 2^32)."""
    return (f"{alias}.created_at > $1 "
            f"AND ({alias}.xmin::text::bigint - $2 + 4294967296) % 4294967296 < 2147483648")


def _day_chunks(hours: list[dt.datetime]) -> list[list[dt.datetime]]:
    """Hours grouped into runs of at most CHUNK_DAYS whole UTC days (a day is never split)."""
    by_day: dict[dt.date, list[dt.datetime]] = defaultdict(list)
    for hour in hours:
        by_day[hour.astimezone(dt.UTC).date()].append(hour)
    days = sorted(by_day)
    return [[h for day in days[i:i + CHUNK_DAYS] for h in by_day[day]] for i in range(0, len(days), CHUNK_DAYS)]


def _dimension_inserts() -> list[str]:
    statements = []
    for dim in DIMENSIONS:
        expr = COLUMNS[dim].replace("e.", "s.")
        where = []
        if dim == "page":
            where.append("s.type = 'page'")
        if dim not in KEEPS_NULL:
            where.append(f"{expr} IS NOT NULL")
        statements.append(
            f"""INSERT INTO rollup_dim_hours (project_id, dim, hour, value, events, sketch)
                SELECT $1, '{dim}', s.hour, {expr}, count(*), tme_hll_sketch(array_agg(s.pos))
                FROM rollup_src s {'WHERE ' + ' AND '.join(where) if where else ''}
                GROUP BY s.hour, {expr}""")
    return statements


_DIMENSION_INSERTS = _dimension_inserts()


def _source_select() -> str:
    columns = ["e.type", "e.path", "e.event_name", "e.referrer_host", "e.utm_source", "e.utm_medium",
               "e.utm_campaign", "e.utm_term", "e.utm_content", "e.browser", "e.os", "e.device_type"]
    return ", ".join(f"{c} AS {c[2:]}" for c in columns)


async def _rollup_hours(conn: asyncpg.Connection, project_id: int, hours: list[dt.datetime]) -> None:
    low, high = min(hours), max(hours) + dt.timedelta(hours=1)
    days = sorted({hour.astimezone(dt.UTC).replace(hour=0) for hour in hours})
    async with conn.transaction():
        await conn.execute("DELETE FROM rollup_hours WHERE project_id = $1 AND hour = ANY($2::timestamptz[])",
                           project_id, hours)
        await conn.execute("DELETE FROM rollup_dim_hours WHERE project_id = $1 AND hour >= $2 AND hour < $3 "
                           "AND hour = ANY($4::timestamptz[])", project_id, low, high, hours)
        await conn.execute(
            f"""CREATE TEMP TABLE rollup_src ON COMMIT DROP AS
                SELECT {hour_of('e.event_time')} AS hour, e.visitor_id, tme_hll_pos(e.visitor_id) AS pos,
                       {_source_select()}
                FROM events e
                WHERE e.project_id = $1 AND e.event_time >= $2 AND e.event_time < $3
                  AND {hour_of('e.event_time')} = ANY($4::timestamptz[])
                  AND e.type IN {ACTION_TYPES} AND NOT e.is_bot""", project_id, low, high, hours)
        await conn.execute(
            f"""INSERT INTO rollup_hours (project_id, hour, events, pageviews, v_events, v_pageviews, visitors, sketch)
                SELECT $1, s.hour, count(*), count(*) FILTER (WHERE s.type IN {VIEW_TYPES}),
                       count(s.visitor_id), count(s.visitor_id) FILTER (WHERE s.type IN {VIEW_TYPES}),
                       count(DISTINCT s.visitor_id), tme_hll_sketch(array_agg(s.pos))
                FROM rollup_src s GROUP BY s.hour""", project_id)
        for statement in _DIMENSION_INSERTS:
            await conn.execute(statement, project_id)
        await conn.execute("DELETE FROM rollup_dim_days WHERE project_id = $1 AND day = ANY($2::timestamptz[])",
                           project_id, days)
        await conn.execute(
            f"""INSERT INTO rollup_dim_days (project_id, dim, day, value, events, sketch)
                SELECT $1, h.dim, {day_of('h.hour')}, h.value, sum(h.events), bit_or(h.sketch)
                FROM rollup_dim_hours h
                WHERE h.project_id = $1 AND h.hour >= $2 AND h.hour < $3
                  AND {day_of('h.hour')} = ANY($4::timestamptz[])
                GROUP BY h.dim, {day_of('h.hour')}, h.value""",
            project_id, days[0], days[-1] + dt.timedelta(days=1), days)


async def _rollup_sessions(conn: asyncpg.Connection, project_id: int,
                           groups: tuple[list[str], list[str]] | None) -> None:
    """Recompute the sessions of the given groups (SDK session ids, visitor ids of events
    without one), or of the whole project when `groups` is None."""
    def insert(group_filter: str | None, ids: list[str] | None = None) -> tuple[str, list[Any]]:
        """The INSERT of the sessions of the project's events that pass `group_filter` (with
        `ids` as its text[] parameter): one index condition, never an OR of two `= ANY(...)`,
        which PostgreSQL would re-check row by row against the whole array (quadratic in the
        number of touched groups)."""
        params = Params()
        where = analytics_where(params, project_id, None, None, [])
        if group_filter is not None:
            where += " AND " + group_filter.format(ids=params.add(ids, "text[]"))
        sql = f"""WITH {sessions_ctes(where)}
            INSERT INTO rollup_sessions (project_id, grp, started_at, ended_at, events, pageviews)
            SELECT {params.add(project_id)}, grp, started_at, ended_at, events, pageviews FROM sessions"""
        return sql, params.values
    session_hours = f"""INSERT INTO rollup_session_hours (project_id, hour, sessions, bounces, duration, pageviews)
        SELECT $1, {hour_of('s.started_at')}, count(*), count(*) FILTER (WHERE s.events = 1),
               coalesce(sum(extract(epoch FROM s.ended_at - s.started_at)), 0), sum(s.pageviews)
        FROM rollup_sessions s
        WHERE s.project_id = $1 AND {{only}}
        GROUP BY 2"""
    async with conn.transaction():
        if groups is None:
            await conn.execute("DELETE FROM rollup_sessions WHERE project_id = $1", project_id)
            await conn.execute("DELETE FROM rollup_session_hours WHERE project_id = $1", project_id)
            sql, values = insert(None)
            await conn.execute(sql, *values)
            await conn.execute(session_hours.format(only="TRUE"), project_id)
            return
        sids, vids = groups
        keys = [f"s:{s}" for s in sids] + [f"v:{v}" for v in vids]
        old = await conn.fetch(f"DELETE FROM rollup_sessions WHERE project_id = $1 AND grp = ANY($2::text[]) "
                               f"RETURNING {hour_of('started_at')} AS hour", project_id, keys)
        new = []
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
        only = (f"s.started_at >= $2 AND s.started_at < $3 AND {hour_of('s.started_at')} = ANY($4::timestamptz[])")
        await conn.execute(session_hours.format(only=only), project_id, hours[0],
                           hours[-1] + dt.timedelta(hours=1), hours)


async def run_once(settings: TrackingSettings, *, wait: bool = False) -> RunStats | None:
    """One run under the advisory lock on its own connection; None when another replica holds it
    (or, with `wait`, after waiting for it to finish)."""
    conn = await asyncpg.connect(plain_url(settings.database_url))
    try:
        if wait:
            await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
        elif not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
            return None
        try:
            return await refresh(conn, settings.rollup_margin_seconds, settings.retention_matrix_days)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
    finally:
        await conn.close()


def pause_after(run_seconds: float, interval: float) -> float:
    """The pause before the next run: `interval`, or BUSY_PAUSE_FACTOR times the last run when
    that is longer. A run recomputes every touched hour whole, so under heavy ingest a run over
    the current hour grows with the hour; the pause keeps the job to at most a quarter of one
    database core (ingest shares it) at the price of answers that lag by up to ~4 runs."""
    return max(interval, BUSY_PAUSE_FACTOR * run_seconds)


async def run_periodically(settings: TrackingSettings, stop: asyncio.Event, wake: asyncio.Event) -> None:
    """Runs until `stop` is set (set `wake` too, to end the pause at once). Setting `wake` starts
    the next run early: a new retention matrix is computed within seconds, not after a long pause."""
    while not stop.is_set():
        start = time.perf_counter()
        try:
            stats = await run_once(settings)
            if stats is None:
                ROLLUP_RUNS.labels("skipped").inc()
            else:
                ROLLUP_RUNS.labels("ok").inc()
                ROLLUP_LAG.observe(time.perf_counter() - start)
                if stats.full_projects:
                    log.info("rollups rebuilt", extra={"projects": stats.full_projects, "hours": stats.hours})
        except Exception:  # the job must outlive a failing run; the next run redoes the work
            ROLLUP_RUNS.labels("error").inc()
            log.exception("rollup run failed")
        try:
            await asyncio.wait_for(wake.wait(), timeout=pause_after(time.perf_counter() - start,
                                                                    settings.rollup_interval_seconds))
        except TimeoutError:
            pass
        wake.clear()
