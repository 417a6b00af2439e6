"""`stats/summary`: events, page views, visitors, sessions, bounce rate, average session
duration and views per session over a range, and the bot events left out of them, computed from
raw events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.tracking.db import Db
from services.tracking.filters import Condition
from services.tracking.params import TimeRange
from services.tracking.queries.sessionize import sessions_ctes
from services.tracking.scope import analytics_where
from services.tracking.sql import VIEW_TYPES, Params

METRICS = ("events", "pageviews", "visitors", "sessions", "bounceRate", "avgSessionDuration", "viewsPerSession",
           "botEvents")


@dataclass(frozen=True)
class Totals:
    events: int
    pageviews: int
    visitors: int
    sessions: int
    bounces: int
    duration_seconds: float  # sum over sessions
    bots: int = 0  # bot actions left out of all of the above

    def metrics(self) -> dict[str, Any]:
        """The public figures; ratios are null when there is no session to divide by."""
        s = self.sessions
        return {
            "events": self.events,
            "pageviews": self.pageviews,
            "visitors": self.visitors,
            "sessions": s,
            "bounceRate": round(self.bounces / s, 4) if s else None,
            "avgSessionDuration": round(self.duration_seconds / s, 1) if s else None,
            "viewsPerSession": round(self.pageviews / s, 2) if s else None,
            "botEvents": self.bots,
        }


async def raw_totals(db: Db, project_id: int, rng: TimeRange, conditions: list[Condition]) -> Totals:
    params = Params()
    where = analytics_where(params, project_id, rng.start, rng.end, conditions)
    bots = analytics_where(params, project_id, rng.start, rng.end, conditions, left_out=True)
    sql = f"""
    WITH {sessions_ctes(where)}
    SELECT (SELECT count(*) FROM sess_src) AS events,
           (SELECT count(*) FROM events e WHERE {bots}) AS bots,
           (SELECT count(*) FROM sess_src WHERE type IN {VIEW_TYPES}) AS pageviews,
           (SELECT count(DISTINCT visitor_id) FROM sess_src) AS visitors,
           count(*) AS sessions,
           count(*) FILTER (WHERE events = 1) AS bounces,
           coalesce(sum(extract(epoch FROM ended_at - started_at)), 0)::float8 AS duration
    FROM sessions"""
    row = await db.fetchrow(sql, params.values)
    assert row is not None
    return Totals(row["events"], row["pageviews"], row["visitors"], row["sessions"], row["bounces"],
                  row["duration"], row["bots"])


def summary_json(rng: TimeRange, current: Totals, previous: Totals) -> dict[str, Any]:
    now, before = current.metrics(), previous.metrics()
    prev = rng.previous()
    body: dict[str, Any] = {**rng.as_json(), "previousFrom": prev.as_json()["from"],
                            "previousTo": prev.as_json()["to"]}
    for name in METRICS:
        body[name] = {"value": now[name], "previous": before[name]}
    return body
