"""`stats/summary`: events, page views, visitors, sessions, bounce rate, average session
duration and views per visit over a range, and the bot events left out of them, computed from
raw events.

Bounce rate and views per visit are defined as Plausible defines them, over the sessions that
have page views (page or screen events): a session with exactly one page view and no other action
is a bounce, and views per visit is the page views of those sessions divided by their number.
Custom (track) events count as engagement, as Plausible's custom events do by default: one page
view and a "Signed Up" is not a bounce. A session without any page view (a server sending only
custom events) counts in sessions and duration but in neither ratio, so one server-side event no
longer makes a 100 % bounce and 0.00 views per visit.

With a filter, the session figures are those of the whole sessions (every action of the range)
that contain at least one matching event: the same definition as without a filter. A page filter
asks "how did visits that saw this page go": a visit that saw /pricing and then /signup is not a
bounce. Event-level figures (events, page views, visitors) count the matching events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.tracking.db import Db
from services.tracking.filters import Condition
from services.tracking.params import TimeRange
from services.tracking.queries.sessionize import sessions_of
from services.tracking.scope import analytics_where
from services.tracking.sql import VIEW_TYPES, Params


@dataclass(frozen=True)
class Totals:
    events: int
    pageviews: int
    visitors: int
    sessions: int
    bounces: int  # sessions of exactly one page view and no other action
    duration_seconds: float  # sum over sessions
    bots: int = 0  # bot actions left out of all of the above
    viewed: int = 0  # sessions with at least one page view: the ratios' denominator
    viewed_pageviews: int = 0  # the page views of those sessions (all of them, with a filter too)

    def metrics(self) -> dict[str, Any]:
        """The public figures; a ratio is null when there is nothing to divide by."""
        s, v = self.sessions, self.viewed
        return {
            "events": self.events,
            "pageviews": self.pageviews,
            "visitors": self.visitors,
            "sessions": s,
            "bounceRate": round(self.bounces / v, 4) if v else None,
            "avgSessionDuration": round(self.duration_seconds / s, 1) if s else None,
            "viewsPerSession": round(self.viewed_pageviews / v, 2) if v else None,
            "botEvents": self.bots,
        }


async def raw_totals(db: Db, project_id: int, rng: TimeRange, conditions: list[Condition]) -> Totals:
    params = Params()
    bots = analytics_where(params, project_id, rng.start, rng.end, conditions, left_out=True)
    ctes = sessions_of(params, project_id, rng.start, rng.end, conditions)
    sql = f"""
    WITH {ctes}
    SELECT (SELECT count(*) FROM sess_src WHERE hit) AS events,
           (SELECT count(*) FROM events e WHERE {bots}) AS bots,
           (SELECT count(*) FROM sess_src WHERE hit AND type IN {VIEW_TYPES}) AS pageviews,
           (SELECT count(DISTINCT visitor_id) FROM sess_src WHERE hit) AS visitors,
           count(*) AS sessions,
           count(*) FILTER (WHERE pageviews = 1 AND events = 1) AS bounces,
           count(*) FILTER (WHERE pageviews > 0) AS viewed,
           coalesce(sum(pageviews), 0) AS viewed_pageviews,
           coalesce(sum(extract(epoch FROM ended_at - started_at)), 0)::float8 AS duration
    FROM sessions WHERE hit"""
    row = await db.fetchrow(sql, params.values)
    assert row is not None
    return Totals(row["events"], row["pageviews"], row["visitors"], row["sessions"], row["bounces"],
                  row["duration"], row["bots"], row["viewed"], row["viewed_pageviews"])


def summary_json(rng: TimeRange, current: Totals, previous: Totals) -> dict[str, Any]:
    now, before = current.metrics(), previous.metrics()
    prev = rng.previous()
    body: dict[str, Any] = {**rng.as_json(), "previousFrom": prev.as_json()["from"],
                            "previousTo": prev.as_json()["to"]}
    for name, value in now.items():
        body[name] = {"value": value, "previous": before[name]}
    return body
