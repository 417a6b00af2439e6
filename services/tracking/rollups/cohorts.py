"""Retention cohort matrices (migration 0005_retention_rollups), brought up to date by every
rollup run, in one transaction.

A run takes the (visitor id, UTC hour) pairs of the rows stored since the last run that the
visitor state lacks, and the aliases `person_aliases` gained that the job's copy lacks. The
resolved visitors these touch (a pair's visitor before and after the new aliases, both sides of
a new alias) have their whole contribution to every ready matrix of their project subtracted;
then the state takes the new pairs and aliases, and their contribution is added again. So a
visitor's cohort may move (a late event before their first one, an alias joining two
histories) and every matrix stays what the raw query computes. Matrices registered since the
last run are then computed from the whole state. A run over rows the state already has
changes nothing.

The new pairs stay in the temp table FRESH_PAIRS until the run's transaction commits: the hourly
rollups add them to their hours' distinct visitors."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.tracking.rollups.hours import hour_of
from services.tracking.sql import ACTION_TYPES

FRESH_PAIRS = "rollup_cohort_fresh"

_PAIRS = f"""SELECT DISTINCT e.project_id, e.visitor_id, {hour_of('e.event_time')} AS hour FROM {{rows}} e
    WHERE e.type IN {ACTION_TYPES} AND NOT e.is_bot AND e.visitor_id IS NOT NULL"""

# the touched visitors' pairs, each visitor id resolved one level through the job's copy of the
# aliases (as the raw queries resolve through person_aliases): the raw ids that resolve to a
# touched visitor are the visitor itself unless it is an alias, and the aliases pointing to it
_TOUCHED_PAIRS = """
    ids AS (
        SELECT t.project_id, t.vid AS raw_id FROM rollup_cohort_touched t
        WHERE NOT EXISTS (SELECT 1 FROM rollup_visitor_aliases x
                          WHERE x.project_id = t.project_id AND x.alias_id = t.vid)
        UNION ALL
        SELECT x.project_id, x.alias_id FROM rollup_cohort_touched t
        JOIN rollup_visitor_aliases x ON x.project_id = t.project_id AND x.visitor_id = t.vid
    ),
    pairs AS (
        SELECT h.project_id, coalesce(x.visitor_id, h.visitor_id) AS vid, h.hour
        FROM ids JOIN rollup_visitor_hours h ON h.project_id = ids.project_id AND h.visitor_id = ids.raw_id
        LEFT JOIN rollup_visitor_aliases x ON x.project_id = h.project_id AND x.alias_id = h.visitor_id
    )"""

_PROJECT_PAIRS = """
    pairs AS (
        SELECT h.project_id, coalesce(x.visitor_id, h.visitor_id) AS vid, h.hour
        FROM rollup_visitor_hours h
        LEFT JOIN rollup_visitor_aliases x ON x.project_id = h.project_id AND x.alias_id = h.visitor_id
        WHERE h.project_id = $1
    )"""


def _add_to_matrices(pairs: str, zones: str, sign: int) -> str:
    """Adds (sign 1) or subtracts (-1) the visitors of `pairs` to the matrices of `zones`: each
    visitor counts once in every period they were active in, under the cohort of their first."""
    return f"""
    WITH {pairs},
    periods AS (
        SELECT DISTINCT p.project_id, z.tz, z.period, p.vid,
               date_trunc(z.period, p.hour AT TIME ZONE z.tz)::date AS period_start
        FROM pairs p JOIN rollup_retention_zones z ON z.project_id = p.project_id AND {zones}
    ),
    firsts AS (
        SELECT project_id, tz, period, vid, min(period_start) AS cohort FROM periods GROUP BY 1, 2, 3, 4
    )
    INSERT INTO rollup_retention AS r (project_id, tz, period, cohort, period_start, visitors)
    SELECT p.project_id, p.tz, p.period, f.cohort, p.period_start, {sign} * count(*)
    FROM periods p JOIN firsts f USING (project_id, tz, period, vid)
    GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (project_id, tz, period, cohort, period_start)
    DO UPDATE SET visitors = r.visitors + excluded.visitors"""


_SUBTRACT_TOUCHED = _add_to_matrices(_TOUCHED_PAIRS, "z.ready", -1)
_ADD_TOUCHED = _add_to_matrices(_TOUCHED_PAIRS, "z.ready", 1)
_ADD_ZONE = _add_to_matrices(_PROJECT_PAIRS, "z.tz = $2 AND z.period = $3", 1)


async def drop_unused(conn: asyncpg.Connection, days: int) -> int:
    """Drops the matrices nobody asked for in `days` days; the number dropped."""
    return int(await conn.fetchval(
        """WITH dropped AS (
               DELETE FROM rollup_retention_zones WHERE requested_at < now() - make_interval(days => $1)
               RETURNING project_id, tz, period),
           cleared AS (
               DELETE FROM rollup_retention r USING dropped d
               WHERE r.project_id = d.project_id AND r.tz = d.tz AND r.period = d.period)
           SELECT count(*) FROM dropped""", days))


async def update(conn: asyncpg.Connection, rows: str, recent_aliases: str, args: list[Any], *,
                 full: bool) -> int:
    """One run's update: `rows` is the table of the event rows stored since the last run (with
    the columns of `events` it needs), `recent_aliases` the condition on person_aliases `a` for
    the aliases stored since (with `args`); `full` rebuilds the state from every event (`rows`
    is then `events`) first. Runs inside the run's transaction. Returns the number of matrices
    computed whole."""
    if full:
        await conn.execute("TRUNCATE rollup_visitor_hours, rollup_visitor_aliases, rollup_retention")
        await conn.execute("UPDATE rollup_retention_zones SET ready = false")
        await conn.execute(f"INSERT INTO rollup_visitor_hours {_PAIRS.format(rows=rows)}")
        await conn.execute("INSERT INTO rollup_visitor_aliases (project_id, alias_id, visitor_id) "
                           "SELECT project_id, alias_id, visitor_id FROM person_aliases")
    else:
        await _update_touched(conn, rows, recent_aliases, args)
    zones = await conn.fetch("SELECT project_id, tz, period FROM rollup_retention_zones WHERE NOT ready")
    for zone in zones:
        key = (zone["project_id"], zone["tz"], zone["period"])
        await conn.execute("DELETE FROM rollup_retention WHERE project_id = $1 AND tz = $2 AND period = $3", *key)
        await conn.execute(_ADD_ZONE, *key)
        await conn.execute("UPDATE rollup_retention_zones SET ready = true "
                           "WHERE project_id = $1 AND tz = $2 AND period = $3", *key)
    return len(zones)


async def _update_touched(conn: asyncpg.Connection, rows: str, recent_aliases: str, args: list[Any]) -> None:
    await conn.execute(f"CREATE TEMP TABLE {FRESH_PAIRS} ON COMMIT DROP AS {_PAIRS.format(rows=rows)}")
    await conn.execute(f"ANALYZE {FRESH_PAIRS}")  # a few rows: look them up in the state's primary key
    await conn.execute(f"""DELETE FROM {FRESH_PAIRS} f USING rollup_visitor_hours h
                          WHERE h.project_id = f.project_id AND h.visitor_id = f.visitor_id AND h.hour = f.hour""")
    await conn.execute(
        f"""CREATE TEMP TABLE rollup_cohort_links ON COMMIT DROP AS
            SELECT a.project_id, a.alias_id, a.visitor_id FROM person_aliases a
            WHERE {recent_aliases} AND NOT EXISTS (SELECT 1 FROM rollup_visitor_aliases x
                                                   WHERE x.project_id = a.project_id AND x.alias_id = a.alias_id)""",
        *args)
    await conn.execute(
        f"""CREATE TEMP TABLE rollup_cohort_touched ON COMMIT DROP AS
           SELECT DISTINCT project_id, vid FROM (
               SELECT f.project_id, coalesce(x.visitor_id, f.visitor_id) AS vid
               FROM {FRESH_PAIRS} f
               LEFT JOIN rollup_visitor_aliases x ON x.project_id = f.project_id AND x.alias_id = f.visitor_id
               UNION ALL
               SELECT f.project_id, l.visitor_id
               FROM {FRESH_PAIRS} f
               JOIN rollup_cohort_links l ON l.project_id = f.project_id AND l.alias_id = f.visitor_id
               UNION ALL
               SELECT project_id, alias_id FROM rollup_cohort_links
               UNION ALL
               SELECT project_id, visitor_id FROM rollup_cohort_links
           ) t""")
    if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM rollup_cohort_touched)"):
        return
    await conn.execute("ANALYZE rollup_cohort_touched")
    await conn.execute(_SUBTRACT_TOUCHED)
    await conn.execute("INSERT INTO rollup_visitor_hours (project_id, visitor_id, hour) "
                       f"SELECT project_id, visitor_id, hour FROM {FRESH_PAIRS}")
    await conn.execute("INSERT INTO rollup_visitor_aliases (project_id, alias_id, visitor_id) "
                       "SELECT project_id, alias_id, visitor_id FROM rollup_cohort_links")
    await conn.execute(_ADD_TOUCHED)
