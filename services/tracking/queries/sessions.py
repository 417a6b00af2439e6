"""`sessions`: the sessions of a range (see sessionize), newest first, keyset-paginated on
(start, session id). With a filter: the whole sessions that contain a matching event, with all
their events and page views."""

from __future__ import annotations

import datetime as dt
from typing import Any

from services.tracking.db import Db
from services.tracking.filters import Condition
from services.tracking.params import TimeRange
from services.tracking.queries.sessionize import sessions_of
from services.tracking.sql import Params


async def list_sessions(db: Db, project_id: int, rng: TimeRange, conditions: list[Condition], limit: int,
                        before: tuple[dt.datetime, str] | None) -> list[dict[str, Any]]:
    params = Params()
    ctes = sessions_of(params, project_id, rng.start, rng.end, conditions)
    keyset = "TRUE"
    if before is not None:
        keyset = f"(started_at, skey) < ({params.add(before[0])}, {params.add(before[1], 'text')})"
    sql = f"""WITH {ctes}
        SELECT * FROM sessions WHERE hit AND {keyset}
        ORDER BY started_at DESC, skey DESC LIMIT {params.add(limit + 1)}"""
    rows = await db.fetch(sql, params.values)
    return [{
        "id": r["skey"],
        "visitorId": r["visitor_id"],
        "start": r["started_at"],
        "end": r["ended_at"],
        "durationSeconds": (r["ended_at"] - r["started_at"]).total_seconds(),
        "events": r["events"],
        "pageviews": r["pageviews"],
        "entryPage": r["entry_page"],
        "exitPage": r["exit_page"],
        "referrer": r["referrer_host"],
        "source": r["source"],
        "browser": r["browser"],
        "os": r["os"],
        "device": r["device_type"],
    } for r in rows]
