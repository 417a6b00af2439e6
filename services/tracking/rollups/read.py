"""Answers from the rollup tables, equal to the raw queries' answers (visitors over long ranges
excepted: a HyperLogLog estimate, see hll.py).

Only unfiltered questions whose range starts and ends on UTC hours come here (answers.py
decides). Events, page views and sessions are sums of hourly rows. A session that crosses the
range's start or end counts, like in the raw queries, only with its events inside the range: the
few sessions containing a boundary are found through the start index (short ones) or a partial
GiST index on their span (those longer than LONG_SESSION) and their in-range part is
recomputed from their raw events."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg

from services.tracking.buckets import bucket_of, bucket_sql
from services.tracking.db import Db
from services.tracking.params import TimeRange
from services.tracking.queries.summary import Totals
from services.tracking.rollups.hll import estimate
from services.tracking.sql import ACTION_TYPES, VIEW_TYPES, Params

DAY = dt.timedelta(days=1)


def _seconds(delta: dt.timedelta) -> Decimal:
    return Decimal(delta.days * 86_400 + delta.seconds) + Decimal(delta.microseconds) / 1_000_000


async def size(db: Db, project_id: int, rng: TimeRange) -> int | None:
    """Events in the range according to the rollups; None until the first job run has finished."""
    row = await db.fetchrow(
        """SELECT (SELECT watermark FROM rollup_state WHERE id = 1) AS watermark,
                  (SELECT coalesce(sum(events), 0) FROM rollup_hours
                   WHERE project_id = $1 AND hour >= $2 AND hour < $3) AS events""",
        [project_id, rng.start, rng.end])
    if row is None or row["watermark"] is None:
        return None
    return int(row["events"])


@dataclass(frozen=True)
class Crossing:
    """A session containing a range boundary: whether the hourly rows count it (it started
    inside), its full figures, and its part inside the range (n = 0: no event inside; views:
    its page views)."""

    counted: bool
    events: int
    started_at: dt.datetime
    ended_at: dt.datetime
    n: int
    first: dt.datetime | None
    last: dt.datetime | None
    pageviews: int = 0
    views: int = 0

    def bounce_and_viewed(self, inside: bool) -> tuple[int, int]:
        """(1 if a bounce, 1 if it has page views) for the whole session or its part inside."""
        events, views = (self.n, self.views) if inside else (self.events, self.pageviews)
        return int(events == 1 and views == 1), int(views > 0)


LONG_SESSION = "interval '4 hours'"  # longer sessions are in the partial GiST index (migration 0006)


def _containing(instant: str) -> str:
    """The project's ($1) sessions containing `instant`: a short one started at most
    LONG_SESSION before it (the start index), a long one is found by its span (GiST)."""
    return f"""SELECT s.grp, s.started_at, s.ended_at, s.events, s.pageviews FROM rollup_sessions s
                WHERE s.project_id = $1 AND s.started_at <= {instant}::timestamptz
                  AND s.started_at >= {instant}::timestamptz - {LONG_SESSION} AND s.ended_at >= {instant}::timestamptz
                  AND s.ended_at - s.started_at <= {LONG_SESSION}
                UNION ALL
                SELECT s.grp, s.started_at, s.ended_at, s.events, s.pageviews FROM rollup_sessions s
                WHERE s.project_id = $1 AND s.ended_at - s.started_at > {LONG_SESSION}
                  AND tstzrange(s.started_at, s.ended_at, '[]') @> {instant}::timestamptz"""


async def crossing_sessions(db: Db, project_id: int, rng: TimeRange) -> list[Crossing]:
    rows = await db.fetch(
        f"""WITH containing AS (
                {_containing("$2")}
                UNION ALL
                {_containing("$3")}
            ),
            crossing AS MATERIALIZED (
                SELECT DISTINCT c.grp, c.started_at, c.ended_at, c.events, c.pageviews FROM containing c
                WHERE c.started_at < $3 AND NOT (c.started_at >= $2 AND c.ended_at < $3)
            )
            SELECT c.started_at, c.ended_at, c.events, c.pageviews, p.n, p.views, p.first, p.last
            FROM crossing c
            CROSS JOIN LATERAL (
                SELECT count(*) AS n, count(*) FILTER (WHERE e.type IN {VIEW_TYPES}) AS views,
                       min(e.event_time) AS first, max(e.event_time) AS last
                FROM events e
                WHERE e.project_id = $1 AND e.type IN {ACTION_TYPES} AND NOT e.is_bot AND e.visitor_id IS NOT NULL
                  AND e.event_time >= greatest($2::timestamptz, c.started_at) AND e.event_time <= c.ended_at
                  AND e.event_time < $3
                  AND ((left(c.grp, 2) = 's:' AND e.session_id = substr(c.grp, 3))
                       OR (left(c.grp, 2) = 'v:' AND e.session_id IS NULL AND e.visitor_id = substr(c.grp, 3)))
            ) p""",
        [project_id, rng.start, rng.end])
    return [Crossing(r["started_at"] >= rng.start, r["events"], r["started_at"], r["ended_at"], r["n"], r["first"],
                     r["last"], r["pageviews"], r["views"]) for r in rows]


async def totals(db: Db, project_id: int, rng: TimeRange) -> Totals:
    args = [project_id, rng.start, rng.end]
    events = await db.fetchrow(
        """SELECT coalesce(sum(v_events), 0) AS events, coalesce(sum(v_pageviews), 0) AS pageviews,
                  bit_or(sketch) AS sketch,
                  (SELECT coalesce(sum(events), 0) FROM rollup_bot_hours
                   WHERE project_id = $1 AND hour >= $2 AND hour < $3) AS bots
           FROM rollup_hours WHERE project_id = $1 AND hour >= $2 AND hour < $3""", args)
    sessions = await db.fetchrow(
        """SELECT coalesce(sum(sessions), 0) AS sessions, coalesce(sum(bounces), 0) AS bounces,
                  coalesce(sum(viewed), 0) AS viewed, coalesce(sum(duration), 0) AS duration
           FROM rollup_session_hours WHERE project_id = $1 AND hour >= $2 AND hour < $3""", args)
    assert events is not None and sessions is not None
    count, bounces, duration = int(sessions["sessions"]), int(sessions["bounces"]), Decimal(sessions["duration"])
    viewed = int(sessions["viewed"])
    for c in await crossing_sessions(db, project_id, rng):
        if c.counted:
            bounce, views = c.bounce_and_viewed(inside=False)
            count, bounces, viewed = count - 1, bounces - bounce, viewed - views
            duration -= _seconds(c.ended_at - c.started_at)
        if c.n:
            assert c.first is not None and c.last is not None
            bounce, views = c.bounce_and_viewed(inside=True)
            count, bounces, viewed = count + 1, bounces + bounce, viewed + views
            duration += _seconds(c.last - c.first)
    visitors = estimate(events["sketch"].bytes) if events["sketch"] is not None else 0
    pageviews = int(events["pageviews"])  # of visitors' events: every session's page views, in the range
    return Totals(int(events["events"]), pageviews, visitors, count, bounces, float(duration),
                  int(events["bots"]), viewed, pageviews)


async def series_counts(db: Db, project_id: int, rng: TimeRange, metric: str, interval: str) -> dict[int, int]:
    """{bucket start (epoch s): value}, like timeseries.raw_counts."""
    params = Params()
    scope = (f"project_id = {params.add(project_id)} AND hour >= {params.add(rng.start)} "
             f"AND hour < {params.add(rng.end)}")
    bucket = bucket_sql(interval, "hour", params, rng.tz_name)
    if metric == "sessions":
        rows = await db.fetch(f"SELECT {bucket} AS b, sum(sessions) AS n FROM rollup_session_hours "
                              f"WHERE {scope} GROUP BY 1", params.values)
        counts: dict[int, int] = defaultdict(int, {r["b"]: int(r["n"]) for r in rows})
        for c in await crossing_sessions(db, project_id, rng):
            if c.counted:
                counts[bucket_of(c.started_at, interval, rng.tz)] -= 1
            if c.n:
                assert c.first is not None
                counts[bucket_of(c.first, interval, rng.tz)] += 1
        return {b: n for b, n in counts.items() if n}
    if metric == "visitors" and interval != "hour":
        rows = await db.fetch(f"SELECT {bucket} AS b, bit_or(sketch) AS sketch FROM rollup_hours "
                              f"WHERE {scope} GROUP BY 1", params.values)
        return {r["b"]: estimate(r["sketch"].bytes) for r in rows}
    # an hour bucket of a whole-hour time zone is exactly one UTC hour: exact visitors
    column = {"events": "events", "pageviews": "pageviews", "visitors": "visitors"}[metric]
    rows = await db.fetch(f"SELECT {bucket} AS b, sum({column}) AS n FROM rollup_hours WHERE {scope} GROUP BY 1",
                          params.values)
    return {r["b"]: int(r["n"]) for r in rows}


def _day_ceil(moment: dt.datetime) -> dt.datetime:
    floor = moment.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return floor if floor == moment else floor + DAY


def _pieces(rng: TimeRange) -> tuple[tuple[dt.datetime, dt.datetime], list[tuple[dt.datetime, dt.datetime]]]:
    """The whole UTC days inside the range, and the hour spans around them."""
    first_day = _day_ceil(rng.start)
    last_day = rng.end.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if first_day >= last_day:
        return (first_day, first_day), [(rng.start, rng.end)]
    return (first_day, last_day), [(rng.start, first_day), (last_day, rng.end)]


def _sort_key(row: dict[str, Any]) -> tuple[int, bool, str]:
    return (-row["visitors"], row["value"] is not None, row["value"] or "")


def _after(row: dict[str, Any], after: tuple[int, str | None]) -> bool:
    visitors, value = after
    if row["visitors"] != visitors:
        return bool(row["visitors"] < visitors)
    if value is None:
        return row["value"] is not None
    return row["value"] is not None and row["value"] > value


async def breakdown_rows(db: Db, project_id: int, rng: TimeRange, by: str, limit: int,
                         after: tuple[int, str | None] | None) -> list[dict[str, Any]]:
    """Up to `limit + 1` rows after the cursor, ordered like breakdown.raw_breakdown."""
    (day_lo, day_hi), spans = _pieces(rng)
    args: list[Any] = [project_id, by, day_lo, day_hi]
    hour_parts = []
    for low, high in spans:
        args += [low, high]
        hour_parts.append(f"(hour >= ${len(args) - 1} AND hour < ${len(args)})")
    rows: list[asyncpg.Record] = await db.fetch(
        f"""SELECT value, sum(events) AS events, bit_or(sketch) AS sketch FROM (
                SELECT value, events, sketch FROM rollup_dim_days
                WHERE project_id = $1 AND dim = $2 AND day >= $3 AND day < $4
                UNION ALL
                SELECT value, events, sketch FROM rollup_dim_hours
                WHERE project_id = $1 AND dim = $2 AND ({' OR '.join(hour_parts)})
            ) x GROUP BY value""", args)
    out = [{"value": r["value"], "visitors": estimate(r["sketch"].bytes), "events": int(r["events"])} for r in rows]
    out.sort(key=_sort_key)
    if after is not None:
        out = [row for row in out if _after(row, after)]
    return out[:limit + 1]


@dataclass(frozen=True)
class MatrixState:
    """What the rollups hold for a retention question: the job's watermark (None until a run has
    filled the visitor state), the project's events before the range's end, and the matrix of
    the question's zone and period (None: not registered; False: being computed; True: ready)."""

    watermark: dt.datetime | None
    events: int
    ready: bool | None


async def cohort_matrix_state(db: Db, project_id: int, rng: TimeRange, period: str) -> MatrixState:
    row = await db.fetchrow(
        """SELECT (SELECT watermark FROM rollup_state WHERE id = 1 AND visitors_ready) AS watermark,
                  (SELECT coalesce(sum(events), 0) FROM rollup_hours WHERE project_id = $1 AND hour < $2) AS events,
                  (SELECT ready FROM rollup_retention_zones
                   WHERE project_id = $1 AND tz = $3 AND period = $4) AS ready""",
        [project_id, rng.end, rng.tz_name, period])
    assert row is not None
    return MatrixState(row["watermark"], int(row["events"]), row["ready"])


async def register_cohort_matrix(db: Db, project_id: int, tz_name: str, period: str, limit: int) -> bool:
    """Asks the rollup job to keep the matrix of this zone and period from its next run on,
    unless the project has `limit` matrices already (each costs the job work on every run, and
    any client can name a time zone). Whether it was registered."""
    rows = await db.fetch(
        """INSERT INTO rollup_retention_zones (project_id, tz, period)
           SELECT $1, $2, $3 WHERE (SELECT count(*) FROM rollup_retention_zones WHERE project_id = $1) < $4
           ON CONFLICT DO NOTHING RETURNING ready""", [project_id, tz_name, period, limit])
    return bool(rows)


async def note_cohort_matrix_use(db: Db, project_id: int, tz_name: str, period: str) -> None:
    """A matrix answered: it is kept (the job drops matrices nobody asked for in a while)."""
    await db.fetch("UPDATE rollup_retention_zones SET requested_at = now() WHERE project_id = $1 AND tz = $2 "
                   "AND period = $3 AND requested_at < now() - interval '1 hour'", [project_id, tz_name, period])


async def cohort_counts(db: Db, project_id: int, tz_name: str, period: str, first: dt.date,
                        last: dt.date) -> dict[tuple[dt.date, dt.date], int]:
    """The ready matrix's cohorts from `first` to `last` and their periods up to `last`."""
    rows = await db.fetch(
        """SELECT cohort, period_start, visitors FROM rollup_retention
           WHERE project_id = $1 AND tz = $2 AND period = $3 AND cohort >= $4 AND cohort <= $5
             AND period_start <= $5 AND visitors <> 0""",
        [project_id, tz_name, period, first, last])
    return {(row["cohort"], row["period_start"]): int(row["visitors"]) for row in rows}
