"""Sessions derived from events, as SQL common table expressions.

A session is every event carrying the same SDK `sessionId`; events without one are grouped per
visitor (userId, else anonymousId) and a new session starts after 30 minutes without events.
A session's visitor is its (smallest) visitor id, its entry and exit pages the paths of its
first and last page views. Only events matching the query's WHERE clause take part.

`sessions_of` builds what every session answer (summary, timeseries, session list, entry and exit
pages) is about: with a filter, the whole sessions (every action in the range) that contain at
least one matching event, marked `hit`. A session's bounce, duration, page views and entry page
then mean the same thing with and without a filter: a page filter asks "how did the visits that
saw this page go"."""

from __future__ import annotations

import datetime as dt

from services.tracking.filters import Condition, conditions_sql
from services.tracking.scope import analytics_where
from services.tracking.sql import VIEW_TYPES, Params

INACTIVITY = "interval '30 minutes'"


GROUP_KEY = "coalesce('s:' || e.session_id, 'v:' || e.visitor_id)"


def sessions_ctes(where: str, hit: str = "TRUE") -> str:
    """`sess_src` (the events passing `where`, each with `hit`: whether it passes `hit` too),
    `sess_keyed` (each with its session key `skey`) and `sessions` (one row per session, `hit`
    when any of its events is). Use after `WITH`."""
    return f"""
    sess_src AS MATERIALIZED (
        SELECT e.visitor_id, e.event_time, e.message_id, e.type, e.path, e.referrer_host,
               e.referrer_source, e.browser, e.os, e.device_type, ({hit}) AS hit,
               {GROUP_KEY} AS grp
        FROM events e
        WHERE {where} AND e.visitor_id IS NOT NULL
    ),
    sess_marked AS (
        SELECT *, CASE WHEN lag(event_time) OVER w IS NULL
                         OR (left(grp, 2) = 'v:' AND event_time - lag(event_time) OVER w > {INACTIVITY})
                       THEN 1 ELSE 0 END AS brk
        FROM sess_src
        WINDOW w AS (PARTITION BY grp ORDER BY event_time, message_id)
    ),
    sess_keyed AS (
        SELECT *, grp || '#' || sum(brk) OVER (PARTITION BY grp ORDER BY event_time, message_id
                                               ROWS UNBOUNDED PRECEDING) AS skey
        FROM sess_marked
    ),
    sessions AS (
        SELECT skey,
               min(grp) AS grp,
               min(visitor_id) AS visitor_id,
               min(event_time) AS started_at,
               max(event_time) AS ended_at,
               count(*) AS events,
               count(*) FILTER (WHERE type IN {VIEW_TYPES}) AS pageviews,
               bool_or(hit) AS hit,
               (array_agg(path ORDER BY event_time, message_id)
                    FILTER (WHERE type = 'page' AND path IS NOT NULL))[1] AS entry_page,
               (array_agg(path ORDER BY event_time DESC, message_id DESC)
                    FILTER (WHERE type = 'page' AND path IS NOT NULL))[1] AS exit_page,
               (array_agg(referrer_host ORDER BY event_time, message_id))[1] AS referrer_host,
               (array_agg(referrer_source ORDER BY event_time, message_id))[1] AS source,
               (array_agg(browser ORDER BY event_time, message_id))[1] AS browser,
               (array_agg(os ORDER BY event_time, message_id))[1] AS os,
               (array_agg(device_type ORDER BY event_time, message_id))[1] AS device_type
        FROM sess_keyed
        GROUP BY skey
    )"""


def whole_sessions_matching(population: str, matching: str, hit: str) -> str:
    """The CTEs of `sessions_ctes` over the events passing `population` whose session group (SDK
    session, or a visitor's events without one) has an event passing `matching` (`population`
    and `hit`), marked `hit` where they pass `hit`. Reading only those groups keeps a narrow
    filter cheap; a group can hold several inactivity sessions, the `hit` flag tells them apart."""
    groups = f"""{population} AND {GROUP_KEY} IN (
        SELECT {GROUP_KEY} FROM events e WHERE {matching} AND e.visitor_id IS NOT NULL)"""
    return sessions_ctes(groups, hit)


def sessions_of(params: Params, project_id: int, start: dt.datetime | None, end: dt.datetime | None,
                conditions: list[Condition]) -> str:
    """The CTEs of `sessions_ctes` for a query's conditions: `sessions WHERE hit` are its sessions
    and `sess_src WHERE hit` its events. A `bot` condition says which events make up the sessions;
    any other picks whole sessions among them."""
    population = analytics_where(params, project_id, start, end, [c for c in conditions if c.field == "bot"])
    picking = [c for c in conditions if c.field != "bot"]
    if not picking:
        return sessions_ctes(population)
    hit = conditions_sql(picking, params)
    return whole_sessions_matching(population, f"{population} AND {hit}", hit)
