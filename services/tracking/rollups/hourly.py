"""The hourly rollups (`rollup_hours`, `rollup_dim_hours`, `rollup_dim_days`: migrations
0004_rollups and 0006_incremental_rollups), kept by the rollup job in one of two ways:

- `add_recent`: the rows new since the last run (the job's temp table `rollup_recent`) are added
  to their hours and days: counts add up, visitor sketches merge (`|`), and an hour's exact
  distinct visitors grow by the (visitor, hour) pairs the visitor state did not have yet. Exact
  as long as each row is added once, which the job's snapshots ensure.
- `recompute`: hours recomputed whole from raw events and their days from the hours (the first
  run, and whenever the visitor state is rebuilt in the same run, so that new pairs are unknown).

Both write through the same statements: a recomputed hour is deleted first, so adding to it
inserts it."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import asyncpg

from services.tracking.filters import COLUMNS
from services.tracking.queries.breakdown import DIMENSIONS as BREAKDOWN_DIMENSIONS
from services.tracking.queries.breakdown import KEEPS_NULL, ONLY, SESSION_DIMENSIONS
from services.tracking.rollups.hours import day_of, hour_of
from services.tracking.sql import ACTION_TYPES, VIEW_TYPES

# breakdown dimensions kept per hour/day (entry/exit pages and JSON keys are answered from raw events)
DIMENSIONS = tuple(d for d in BREAKDOWN_DIMENSIONS if d not in SESSION_DIMENSIONS)
CHUNK_DAYS = 7  # hours recomputed together (one statement per table) span at most this many days
# the columns of `events` the hourly tables are computed from
SOURCE_COLUMNS = ("project_id", "event_time", "type", "visitor_id", "path", "event_name", "referrer_host",
                  "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "browser", "os",
                  "device_type", "library", "app_version", "locale", "screen_class", "referrer_source")


def _source(rows: str, where: str) -> str:
    """The temp table `rollup_src` of the analytics actions of `rows` (alias `e`) that pass `where`."""
    columns = ", ".join(f"e.{c}" for c in SOURCE_COLUMNS if c != "event_time")
    return f"""CREATE TEMP TABLE rollup_src ON COMMIT DROP AS
        SELECT {hour_of('e.event_time')} AS hour, tme_hll_pos(e.visitor_id) AS pos, {columns}
        FROM {rows} e WHERE e.type IN {ACTION_TYPES} AND NOT e.is_bot AND {where}"""


def _add_totals(fresh_pairs: str | None) -> str:
    """Adds rollup_src's hours to rollup_hours. An hour's distinct visitors are counted from
    rollup_src when `fresh_pairs` is None (the hour is recomputed whole), else they grow by its
    pairs in `fresh_pairs` (visitor-hour pairs new to the visitor state)."""
    visitors, fresh = "d.visitors", ""
    if fresh_pairs is not None:
        visitors = "coalesce(f.n, 0)"
        fresh = f"""LEFT JOIN (SELECT project_id, hour, count(*) AS n FROM {fresh_pairs} GROUP BY project_id, hour) f
                    ON f.project_id = d.project_id AND f.hour = d.hour"""
    distinct = "count(DISTINCT s.visitor_id)" if fresh_pairs is None else "0"
    return f"""
        INSERT INTO rollup_hours AS r (project_id, hour, events, pageviews, v_events, v_pageviews, visitors, sketch)
        SELECT d.project_id, d.hour, d.events, d.pageviews, d.v_events, d.v_pageviews, {visitors}, d.sketch
        FROM (SELECT s.project_id, s.hour, count(*) AS events,
                     count(*) FILTER (WHERE s.type IN {VIEW_TYPES}) AS pageviews,
                     count(s.visitor_id) AS v_events,
                     count(s.visitor_id) FILTER (WHERE s.type IN {VIEW_TYPES}) AS v_pageviews,
                     {distinct} AS visitors, tme_hll_sketch(array_agg(s.pos)) AS sketch
              FROM rollup_src s GROUP BY s.project_id, s.hour) d {fresh}
        ON CONFLICT (project_id, hour) DO UPDATE
        SET events = r.events + excluded.events, pageviews = r.pageviews + excluded.pageviews,
            v_events = r.v_events + excluded.v_events, v_pageviews = r.v_pageviews + excluded.v_pageviews,
            visitors = r.visitors + excluded.visitors, sketch = r.sketch | excluded.sketch"""


def _dimension_rows() -> str:
    """The temp table `rollup_dim_src`: rollup_src's rows per hour, dimension and value, with the
    raw breakdown's rules on absent values."""
    selects = []
    for dim in DIMENSIONS:
        expr = COLUMNS[dim].replace("e.", "s.")
        where = [ONLY[dim].replace("e.", "s.")] if dim in ONLY else []
        if dim not in KEEPS_NULL:
            where.append(f"{expr} IS NOT NULL")
        selects.append(
            f"""SELECT s.project_id, '{dim}' AS dim, s.hour, {expr} AS value, count(*) AS events,
                       tme_hll_sketch(array_agg(s.pos)) AS sketch
                FROM rollup_src s {'WHERE ' + ' AND '.join(where) if where else ''}
                GROUP BY s.project_id, s.hour, {expr}""")
    return "CREATE TEMP TABLE rollup_dim_src ON COMMIT DROP AS " + " UNION ALL ".join(selects)


def _add_dimensions(table: str, bucket: str, select: str) -> str:
    return f"""INSERT INTO {table} AS r (project_id, dim, {bucket}, value, events, sketch) {select}
        ON CONFLICT (project_id, {bucket}, dim, md5(value)) DO UPDATE
        SET events = r.events + excluded.events, sketch = r.sketch | excluded.sketch"""


_DIMENSION_ROWS = _dimension_rows()
_ADD_DIM_HOURS = _add_dimensions("rollup_dim_hours", "hour", """
    SELECT project_id, dim, hour, value, events, sketch FROM rollup_dim_src""")
_ADD_DIM_DAYS = _add_dimensions("rollup_dim_days", "day", f"""
    SELECT project_id, dim, {day_of('hour')}, value, sum(events), bit_or(sketch) FROM rollup_dim_src
    GROUP BY project_id, dim, {day_of('hour')}, value""")
_DROP = "DROP TABLE rollup_src, rollup_dim_src"


async def add_recent(conn: asyncpg.Connection, fresh_pairs: str) -> int:
    """Adds the rows of `rollup_recent` to their hours and days; `fresh_pairs` is the table of
    the (project_id, visitor_id, hour) pairs among them that no earlier row had. The number of
    (project, hour) rows touched."""
    await conn.execute(_source("rollup_recent", "TRUE"))
    status = await conn.execute(_add_totals(fresh_pairs))  # "INSERT 0 <hours inserted or updated>"
    await conn.execute(_DIMENSION_ROWS)
    await conn.execute(_ADD_DIM_HOURS)
    await conn.execute(_ADD_DIM_DAYS)
    await conn.execute(_DROP)
    return int(status.split()[-1])


async def recompute_all(conn: asyncpg.Connection, rows: str) -> int:
    """Recomputes every hour `rows` (a table with the columns of `events`) has analytics actions
    in, from raw events; the number of (project, hour) rows recomputed."""
    hours: dict[int, list[dt.datetime]] = defaultdict(list)
    for row in await conn.fetch(f"SELECT DISTINCT e.project_id, {hour_of('e.event_time')} AS hour FROM {rows} e "
                                f"WHERE e.type IN {ACTION_TYPES} AND NOT e.is_bot"):
        hours[row["project_id"]].append(row["hour"])
    for project_id, project_hours in hours.items():
        for chunk in day_chunks(project_hours):
            await recompute(conn, project_id, chunk)
    return sum(map(len, hours.values()))


async def recompute(conn: asyncpg.Connection, project_id: int, hours: list[dt.datetime], only: str = "TRUE") -> None:
    """Recomputes the project's given hours from raw events, then their UTC days from the hours
    (inside the run's transaction). `only`: a condition on the events (`e`, no parameters) the
    hours are computed from (an erasure leaves out the rows it deletes and those the job has not
    added yet)."""
    await recompute_hours(conn, project_id, hours, only)
    await recompute_days(conn, project_id, sorted({hour.astimezone(dt.UTC).replace(hour=0) for hour in hours}))


async def recompute_hours(conn: asyncpg.Connection, project_id: int, hours: list[dt.datetime],
                          only: str = "TRUE") -> None:
    """The hourly half of `recompute`: the given hours' rows, their days left as they are."""
    low, high = min(hours), max(hours) + dt.timedelta(hours=1)
    await conn.execute("DELETE FROM rollup_hours WHERE project_id = $1 AND hour = ANY($2::timestamptz[])",
                       project_id, hours)
    await conn.execute("DELETE FROM rollup_dim_hours WHERE project_id = $1 AND hour >= $2 AND hour < $3 "
                       "AND hour = ANY($4::timestamptz[])", project_id, low, high, hours)
    await conn.execute(_source("events", f"""e.project_id = $1 AND e.event_time >= $2 AND e.event_time < $3
                                             AND {hour_of('e.event_time')} = ANY($4::timestamptz[]) AND {only}"""),
                       project_id, low, high, hours)
    await conn.execute(_add_totals(None))
    await conn.execute(_DIMENSION_ROWS)
    await conn.execute(_ADD_DIM_HOURS)
    await conn.execute(_DROP)


async def recompute_days(conn: asyncpg.Connection, project_id: int, days: list[dt.datetime]) -> None:
    """The daily half of `recompute`: the given UTC days (midnights) summed again from their hours."""
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


def add_bots(where: str) -> str:
    """The INSERT that adds the bot actions among the `events` rows (alias `e`) passing `where` to
    `rollup_bot_hours` (what the analytics leave out; migration 0009)."""
    return f"""INSERT INTO rollup_bot_hours AS r (project_id, hour, events)
        SELECT e.project_id, {hour_of('e.event_time')}, count(*) FROM events e
        WHERE e.type IN {ACTION_TYPES} AND e.is_bot AND {where}
        GROUP BY 1, 2
        ON CONFLICT (project_id, hour) DO UPDATE SET events = r.events + excluded.events"""


def day_chunks(hours: list[dt.datetime], days: int = CHUNK_DAYS) -> list[list[dt.datetime]]:
    """Hours grouped into runs of at most `days` whole UTC days (a day is never split)."""
    by_day: dict[dt.date, list[dt.datetime]] = defaultdict(list)
    for hour in hours:
        by_day[hour.astimezone(dt.UTC).date()].append(hour)
    ordered = sorted(by_day)
    return [[h for day in ordered[i:i + days] for h in by_day[day]] for i in range(0, len(ordered), days)]
