"""`stats/timeseries`: one metric per time bucket, zero-filled, from raw events.

`events` and `pageviews` count events in the bucket, `visitors` distinct visitors active in it,
`sessions` the sessions that started in it (with a filter, the whole sessions that contain a
matching event, as in the summary)."""

from __future__ import annotations

from typing import Literal, get_args

from services.tracking.buckets import bucket_sql
from services.tracking.db import Db
from services.tracking.filters import Condition
from services.tracking.params import TimeRange
from services.tracking.queries.sessionize import sessions_of
from services.tracking.scope import analytics_where
from services.tracking.sql import VIEW_TYPES, Params

Metric = Literal["events", "pageviews", "visitors", "sessions"]
METRICS: tuple[Metric, ...] = get_args(Metric)


async def raw_counts(db: Db, project_id: int, rng: TimeRange, conditions: list[Condition], metric: str,
                     interval: str) -> dict[int, int]:
    """{bucket start (epoch s): value} for buckets that have data."""
    params = Params()
    if metric == "sessions":
        ctes = sessions_of(params, project_id, rng.start, rng.end, conditions)
        bucket = bucket_sql(interval, "started_at", params, rng.tz_name)
        sql = f"WITH {ctes} SELECT {bucket} AS b, count(*) AS n FROM sessions WHERE hit GROUP BY 1"
    else:
        where = analytics_where(params, project_id, rng.start, rng.end, conditions)
        value = {"events": "count(*)", "pageviews": f"count(*) FILTER (WHERE e.type IN {VIEW_TYPES})",
                 "visitors": "count(DISTINCT e.visitor_id)"}[metric]
        bucket = bucket_sql(interval, "e.event_time", params, rng.tz_name)
        sql = f"SELECT {bucket} AS b, {value} AS n FROM events e WHERE {where} GROUP BY 1"
    rows = await db.fetch(sql, params.values)
    return {row["b"]: row["n"] for row in rows}
