"""The WHERE clause every query starts from: one project, a time range, the caller's filters.

Analytics (stats, funnels, retention, sessions, realtime visitors) look at actions only
(track, page and screen events) and leave bots out unless a filter mentions `bot` (the summary
says how many bot actions it left out). The event
explorer, exports and the person view show every stored event as it is."""

from __future__ import annotations

import datetime as dt

from services.tracking.filters import Condition, conditions_sql, mentions_bots
from services.tracking.sql import ACTION_TYPES, Params


def analytics_where(params: Params, project_id: int, start: dt.datetime | None, end: dt.datetime | None,
                    conditions: list[Condition], *, left_out: bool = False) -> str:
    """With `left_out`, the bot actions these analytics leave out instead (none when a filter
    mentions `bot`: then they are in)."""
    parts = [f"e.project_id = {params.add(project_id)}", f"e.type IN {ACTION_TYPES}"]
    if start is not None:
        parts.append(f"e.event_time >= {params.add(start)}")
    if end is not None:
        parts.append(f"e.event_time < {params.add(end)}")
    if left_out:
        parts.append("e.is_bot" if not mentions_bots(conditions) else "FALSE")
    elif not mentions_bots(conditions):
        parts.append("NOT e.is_bot")
    if conditions:
        parts.append(conditions_sql(conditions, params))
    return " AND ".join(parts)


def raw_where(params: Params, project_id: int, start: dt.datetime | None, end: dt.datetime | None,
              conditions: list[Condition]) -> str:
    parts = [f"e.project_id = {params.add(project_id)}"]
    if start is not None:
        parts.append(f"e.event_time >= {params.add(start)}")
    if end is not None:
        parts.append(f"e.event_time < {params.add(end)}")
    if conditions:
        parts.append(conditions_sql(conditions, params))
    return " AND ".join(parts)
