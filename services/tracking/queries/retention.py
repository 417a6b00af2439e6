"""Retention: cohorts of visitors by the period (in `tz`) of their first-ever start event, and
how many of each cohort came back (did the returning event) in each following period.

A visitor belongs to the cohort of their first start event over all time, so only visitors
first seen within [from, to) form cohorts. Returning activity counts up to `to`, which is what
makes the answer a triangle: a cohort has one entry per period from its own up to the period
containing `to`, at most `periods`. `returning[0]` is the cohort size. Every period of the range
is a cohort, empty ones included. Visitors are resolved through `person_aliases`."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, get_args

from services.tracking.db import Db
from services.tracking.filters import Condition
from services.tracking.params import TimeRange
from services.tracking.scope import analytics_where
from services.tracking.sql import Params

Period = Literal["day", "week", "month"]
PERIODS: tuple[Period, ...] = get_args(Period)


def period_start(day: dt.date, period: str) -> dt.date:
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def add_periods(day: dt.date, period: str, n: int) -> dt.date:
    if period == "day":
        return day + dt.timedelta(days=n)
    if period == "week":
        return day + dt.timedelta(days=7 * n)
    months = day.year * 12 + day.month - 1 + n
    return dt.date(months // 12, months % 12 + 1, 1)


def periods_between(a: dt.date, b: dt.date, period: str) -> int:
    if period == "day":
        return (b - a).days
    if period == "week":
        return (b - a).days // 7
    return (b.year - a.year) * 12 + b.month - a.month


def default_start(period: str, periods: int, now: dt.datetime, tz: Any) -> dt.datetime:
    """The range's default start: the last `periods` periods, the current one included."""
    first = add_periods(period_start(now.astimezone(tz).date(), period), period, -(periods - 1))
    return dt.datetime.combine(first, dt.time(0), tzinfo=tz).astimezone(dt.UTC)


def _event_sql(event: str | None, params: Params) -> str:
    return f"(e.event_name = {params.add(event)})" if event else "TRUE"


Counts = dict[tuple[dt.date, dt.date], int]  # (cohort, period) -> visitors; (c, c) is the cohort's size


async def raw_counts(db: Db, project_id: int, rng: TimeRange, conditions: list[Condition], period: str,
                     start_event: str | None, return_event: str | None) -> Counts:
    params = Params()
    where = analytics_where(params, project_id, None, rng.end, conditions)
    is_start, is_return = _event_sql(start_event, params), _event_sql(return_event, params)
    zone, unit, start = params.add(rng.tz_name), params.add(period), params.add(rng.start)
    # One pass over the events to distinct (visitor, period) pairs (a hash aggregate), then one row
    # per visitor: first start event and returning periods. No join of the events back to each
    # visitor's cohort, which cost more than this second aggregate.
    period_of = f"date_trunc({unit}, e.event_time AT TIME ZONE {zone})::date"
    sql = f"""
    WITH pairs AS (
        SELECT coalesce(a.visitor_id, e.visitor_id) AS vid, {period_of} AS p,
               min(e.event_time) FILTER (WHERE {is_start}) AS first_start,
               bool_or({is_return}) FILTER (WHERE e.event_time >= {start}) AS returned
        FROM events e
        LEFT JOIN person_aliases a ON a.project_id = e.project_id AND a.alias_id = e.visitor_id
        WHERE {where} AND e.visitor_id IS NOT NULL
        GROUP BY 1, 2
    ),
    visitors AS (
        SELECT min(first_start) AS first, array_agg(p) FILTER (WHERE returned) AS periods
        FROM pairs GROUP BY vid
    ),
    cohort AS (
        SELECT date_trunc({unit}, first AT TIME ZONE {zone})::date AS c, periods
        FROM visitors WHERE first >= {start}
    )
    SELECT c, c AS p, count(*) AS n FROM cohort GROUP BY c
    UNION ALL
    SELECT c, p, count(*) AS n FROM cohort CROSS JOIN LATERAL unnest(periods) AS p WHERE p > c GROUP BY c, p"""
    return {(row["c"], row["p"]): row["n"] for row in await db.fetch(sql, params.values)}


def first_and_last(rng: TimeRange, period: str) -> tuple[dt.date, dt.date]:
    """The range's first and last period (their start days in `tz`)."""
    first = period_start(rng.local(rng.start).date(), period)
    last = period_start((rng.end - dt.timedelta(microseconds=1)).astimezone(rng.tz).date(), period)
    return first, last


def triangle(counts: Counts, rng: TimeRange, period: str, periods: int) -> list[dict[str, Any]]:
    """Every period of the range as a cohort, with its returning visitors up to `periods` periods
    and up to the range's last period."""
    first, last = first_and_last(rng, period)
    cohorts = []
    cohort = first
    while cohort <= last:
        span = min(periods, periods_between(cohort, last, period) + 1)
        returning = [counts.get((cohort, add_periods(cohort, period, i)), 0) for i in range(span)]
        cohorts.append({"cohort": cohort.isoformat(), "size": returning[0], "returning": returning})
        cohort = add_periods(cohort, period, 1)
    return cohorts
