"""Realtime: visitors active in the last few minutes, the latest events, and the polling query
behind the live stream.

The stream looks for rows by `created_at` (the time the subscriber's transaction stored them),
the closest thing to commit order the table has. Concurrent writers can commit a row whose
`created_at` is slightly older than rows already seen, so every poll looks `overlap` seconds
back again and drops the message ids it has already sent."""

from __future__ import annotations

import datetime as dt
from typing import Any

from services.tracking.db import Db
from services.tracking.filters import Condition
from services.tracking.public import AnalyticsEvent
from services.tracking.queries.rows import COLUMNS_SQL, stored_event
from services.tracking.scope import analytics_where, raw_where
from services.tracking.sql import Params

STREAM_BATCH = 500


async def visitors_now(db: Db, project_id: int, conditions: list[Condition], window: dt.timedelta) -> int:
    params = Params()
    now = dt.datetime.now(dt.UTC)
    where = analytics_where(params, project_id, now - window, now + dt.timedelta(minutes=5), conditions)
    row = await db.fetchrow(f"SELECT count(DISTINCT e.visitor_id) AS n FROM events e WHERE {where}", params.values)
    assert row is not None
    return int(row["n"])


async def latest(db: Db, project_id: int, conditions: list[Condition], limit: int) -> list[AnalyticsEvent]:
    params = Params()
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    where = raw_where(params, project_id, None, None, conditions)
    rows = await db.fetch(
        f"""SELECT {COLUMNS_SQL} FROM events e WHERE {where} AND e.created_at >= {params.add(since)}
            ORDER BY e.created_at DESC, e.message_id DESC LIMIT {params.add(limit)}""",
        params.values,
    )
    return [stored_event(r) for r in rows]


async def db_now(db: Db) -> dt.datetime:
    row = await db.fetchrow("SELECT now() AS now", [])
    assert row is not None
    now: dt.datetime = row["now"]
    return now


def stream_sql(project_id: int, conditions: list[Condition], since: dt.datetime,
               after_id: str = "") -> tuple[str, list[Any]]:
    """Rows stored after (since, after_id) in (created_at, message_id) order."""
    params = Params()
    where = raw_where(params, project_id, None, None, conditions)
    sql = f"""SELECT {COLUMNS_SQL}, e.created_at FROM events e
        WHERE {where} AND e.created_at >= {params.add(since)}
          AND (e.created_at, e.message_id) > ({params.add(since)}, {params.add(after_id, 'text')})
        ORDER BY e.created_at, e.message_id LIMIT {STREAM_BATCH}"""
    return sql, params.values
