"""Funnels: ordered steps within a conversion window.

The rules. Each visitor's matching events are ordered in time; events at the same instant are
taken in the funnel's order (by the first step they match, then by the steps they match), as
Mixpanel and Amplitude count them: a server SDK that stamps `Started Signup` and `Signed Up`
with the same second converts. For every event that matches step 1 (a possible start), the
chain follows, for each next step, the first matching event after the previous step's event
(never the same event twice): taking the earliest next event can only help the steps after it.

A start reaches step k when step k's event lies within `window` of the start. A visitor counts
for the deepest step any of their starts reaches; their times to convert are those of the
earliest start that reaches it.

Visitors are resolved through `person_aliases`, so an anonymous visitor who later identifies
is one person across the funnel.

The work. PostgreSQL finds the step events (an index-only scan of (project, event name, time)),
resolves aliases, and packs each event into 26 bytes (two hashes of the visitor, the time, a
mask of the steps it matches) in one aggregate that its parallel workers share. numpy follows
the chains (funnel_chains.py). 3 steps over 588k step events at 10M take ~0.75 s this way; one
SQL statement of window functions took 1.75 s, most of it sorting and windowing text ids in a
single process."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

from services.tracking.db import Db
from services.tracking.filters import Condition, conditions_sql
from services.tracking.params import TimeRange
from services.tracking.queries.funnel_chains import follow
from services.tracking.scope import analytics_where
from services.tracking.sql import Params


@dataclass(frozen=True)
class Step:
    event: str
    conditions: list[Condition]


def _step_sql(step: Step, params: Params) -> str:
    sql = f"e.event_name = {params.add(step.event)}"
    if step.conditions:
        sql += f" AND {conditions_sql(step.conditions, params)}"
    return f"({sql})"


def packed_rows_sql(params: Params, project_id: int, rng: TimeRange, conditions: list[Condition],
                    steps: list[Step]) -> str:
    """One bytea of every step event in the range, packed as funnel_chains.ROW (NULL if none)."""
    where = analytics_where(params, project_id, rng.start, rng.end, conditions)
    matches = [_step_sql(step, params) for step in steps]
    # the step names as one list too: an index-only scan of (project_id, event_name, event_time) finds them
    names = params.add(sorted({step.event for step in steps}), "text[]")
    mask = " + ".join(f"CASE WHEN {m} THEN {1 << k} ELSE 0 END" for k, m in enumerate(matches))
    return f"""
    WITH ev AS (
        SELECT coalesce(a.visitor_id, e.visitor_id) AS vid, e.event_time AS t, ({mask})::int2 AS steps
        FROM events e
        LEFT JOIN person_aliases a ON a.project_id = e.project_id AND a.alias_id = e.visitor_id
        WHERE {where} AND e.event_name = ANY({names}) AND e.visitor_id IS NOT NULL AND ({' OR '.join(matches)})
    )
    SELECT string_agg(int8send(hashtextextended(vid, 0)) || int8send(hashtextextended(vid, 1))
                      || timestamptz_send(t) || int2send(steps), ''::bytea) AS packed
    FROM ev"""


def seen_names_sql(params: Params, project_id: int, rng: TimeRange, names: list[str]) -> str:
    """Which of `names` some person's action (no bot; the funnel's filters aside) has in the range:
    one probe of the (project, event name, time) index per name."""
    where = analytics_where(params, project_id, rng.start, rng.end, [])
    return f"""SELECT n.name FROM unnest({params.add(names, 'text[]')}) AS n(name)
        WHERE EXISTS (SELECT 1 FROM events e WHERE {where} AND e.event_name = n.name)"""


async def seen_names(db: Db, project_id: int, rng: TimeRange, names: list[str]) -> set[str]:
    params = Params()
    rows = await db.fetch(seen_names_sql(params, project_id, rng, sorted(set(names))), params.values)
    return {r["name"] for r in rows}


async def funnel(db: Db, project_id: int, rng: TimeRange, conditions: list[Condition], steps: list[Step],
                 window: dt.timedelta) -> list[dict[str, Any]]:
    params = Params()
    row = await db.fetchrow(packed_rows_sql(params, project_id, rng, conditions, steps), params.values)
    assert row is not None
    # a step nobody did may be a misspelt event: each step says whether its event occurs at all
    seen = await seen_names(db, project_id, rng, [step.event for step in steps])
    # numpy releases the GIL while it sorts and scans: other requests go on meanwhile
    tally = await asyncio.to_thread(follow, row["packed"] or b"", len(steps), window // dt.timedelta(microseconds=1))
    medians = tally.medians()
    out: list[dict[str, Any]] = []
    first = tally.users[0]
    for k, step in enumerate(steps):
        users = tally.users[k]
        prev = tally.users[k - 1] if k else users
        median = medians[k]
        out.append({
            "event": step.event,
            "users": users,
            "conversionFromFirst": round(users / first, 4) if first else 0.0,
            "conversionFromPrevious": round(users / prev, 4) if prev else 0.0,
            "medianSecondsToConvert": round(median, 1) if median is not None else None,
            "dropOff": prev - users,
            "seen": step.event in seen,
        })
    return out
