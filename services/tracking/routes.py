"""HTTP handlers of the tracking service: parse and validate parameters, run the query, shape
the JSON. Paths are the public ones (`/api/projects/{id}/...`): the gateway forwards them
unchanged after checking the caller's token and project, and says which project it checked in
`X-TME-Project-Id`. Tracking refuses (404) any request whose header is missing or names another
project, so even a request that reaches it directly cannot read a project it was not sent for."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from services.shared.errors import NUL_MESSAGE, NotFound, read_json_object
from services.shared.jsonutil import JSONResponse
from services.shared.validation import bounded_int
from services.tracking import answers
from services.tracking.bodies import parse_funnel
from services.tracking.buckets import INTERVALS, label, series
from services.tracking.db import Db
from services.tracking.metrics import timed
from services.tracking.params import (
    TimeRange,
    bad,
    choice,
    cursor_time,
    decode_cursor,
    encode_cursor,
    epoch_us,
    filters_param,
    limit_param,
    load_postgres_zones,
    parse_range,
    parse_tz,
    postgres_zones_loaded,
    refuse_nul,
)
from services.tracking.queries import breakdown, explorer, funnels, persons, realtime, retention, sessions
from services.tracking.queries.export import FORMATS, export_sql, stream_rows
from services.tracking.queries.summary import summary_json
from services.tracking.queries.timeseries import METRICS as SERIES_METRICS
from services.tracking.scope import raw_where
from services.tracking.settings import TrackingSettings
from services.tracking.sql import Params
from services.tracking.stream import event_stream

MAX_PROJECT_ID = 2**63 - 1
MAX_NAME = 200
PREFIX = "/api/projects/{project_id:int}"


def project_of(request: Request) -> int:
    project_id: int = request.path_params["project_id"]
    if request.headers.get("x-tme-project-id") != str(project_id) or not 0 < project_id <= MAX_PROJECT_ID:
        raise NotFound("Project not found.")
    return project_id


def _settings(request: Request) -> TrackingSettings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _db(request: Request) -> Db:
    return Db(request.app.state.pool, _settings(request).query_timeout_seconds)


def _range(request: Request) -> TimeRange:
    return parse_range(request.query_params, max_days=_settings(request).max_range_days)


def _name(request: Request, name: str) -> str | None:
    value = request.query_params.get(name) or None
    if value is not None and len(value) > MAX_NAME:
        raise bad(name, f"must be at most {MAX_NAME} characters")
    return value


async def summary(request: Request) -> Response:
    project_id = project_of(request)
    rng, conditions = _range(request), filters_param(request.query_params)
    db = _db(request)
    with timed("summary"):
        current, previous = await asyncio.gather(
            answers.totals(request.app, db, project_id, rng, conditions),
            answers.totals(request.app, db, project_id, rng.previous(), conditions),
        )
    return JSONResponse(summary_json(rng, current, previous))


async def timeseries(request: Request) -> Response:
    project_id = project_of(request)
    q = request.query_params
    metric = choice(q, "metric", SERIES_METRICS, "events")
    interval = choice(q, "interval", INTERVALS, "day")
    rng, conditions = _range(request), filters_param(q)
    starts = series(rng, interval, _settings(request).max_buckets)
    with timed("timeseries"):
        counts = await answers.series_counts(request.app, _db(request), project_id, rng, conditions, metric,
                                             interval)
    points = [{"bucket": label(start, rng.tz), "value": counts.get(start, 0)} for start in starts]
    return JSONResponse({**rng.as_json(), "metric": metric, "interval": interval, "points": points})


def _breakdown_cursor(request: Request) -> tuple[int, str | None] | None:
    values = decode_cursor(request.query_params, 2)
    if values is None:
        return None
    visitors, value = values
    if not isinstance(visitors, int) or isinstance(visitors, bool) or not (value is None or isinstance(value, str)):
        raise bad("cursor", "is not a cursor this endpoint gave out")
    return visitors, value


async def breakdown_view(request: Request) -> Response:
    project_id = project_of(request)
    q = request.query_params
    by = q.get("by") or ""
    if not breakdown.valid_dimension(by):
        raise bad("by", f"must be one of {', '.join(breakdown.DIMENSIONS)}, prop:<key> or context:<key>")
    rng, conditions = _range(request), filters_param(q)
    limit, after = limit_param(q, default=100), _breakdown_cursor(request)
    with timed("breakdown"):
        rows = await answers.breakdown_rows(request.app, _db(request), project_id, rng, conditions, by, limit,
                                            after)
    page, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor([page[-1]["visitors"], page[-1]["value"]]) if more else None
    return JSONResponse({**rng.as_json(), "by": by, "rows": page, "nextCursor": next_cursor})


async def funnel_view(request: Request) -> Response:
    project_id = project_of(request)
    body = await read_json_object(request, max_bytes=100_000)
    spec = parse_funnel(body, max_days=_settings(request).max_range_days)
    with timed("funnels"):
        steps = await funnels.funnel(_db(request), project_id, spec.range, spec.conditions, spec.steps, spec.window)
    return JSONResponse({**spec.range.as_json(), "windowSeconds": int(spec.window.total_seconds()),
                         "steps": steps})


async def retention_view(request: Request) -> Response:
    project_id = project_of(request)
    q = request.query_params
    period = choice(q, "period", retention.PERIODS, "week")
    periods = bounded_int(q.get("periods"), "periods", default=8, low=1, high=100)
    settings = _settings(request)
    start = retention.default_start(period, periods, dt.datetime.now(dt.UTC), parse_tz(q.get("tz")))
    rng = parse_range(q, max_days=settings.max_range_days, default_start=start)
    start_event, return_event = _name(request, "startEvent"), _name(request, "event")
    conditions = filters_param(q)
    with timed("retention"):
        cohorts = await answers.retention_cohorts(request.app, _db(request), project_id, rng, conditions, period,
                                                  periods, start_event, return_event)
    return JSONResponse({**rng.as_json(), "period": period, "periods": periods, "cohorts": cohorts})


def _time_cursor(request: Request) -> Any:
    values = decode_cursor(request.query_params, 2)
    if values is None:
        return None
    if not isinstance(values[1], str):
        raise bad("cursor", "is not a cursor this endpoint gave out")
    return cursor_time(values[0]), values[1]


def _page(rows: list[dict[str, Any]], limit: int, time_key: str, id_key: str) -> tuple[list[dict[str, Any]],
                                                                                     str | None]:
    page, more = rows[:limit], len(rows) > limit
    cursor = encode_cursor([epoch_us(page[-1][time_key]), page[-1][id_key]]) if more else None
    for row in page:
        row.pop(time_key, None)
    return page, cursor


async def sessions_view(request: Request) -> Response:
    project_id = project_of(request)
    q = request.query_params
    rng, conditions = _range(request), filters_param(q)
    limit, before = limit_param(q, default=50), _time_cursor(request)
    with timed("sessions"):
        rows = await sessions.list_sessions(_db(request), project_id, rng, conditions, limit, before)
    page, cursor = _page(rows, limit, "_started", "id")
    return JSONResponse({**rng.as_json(), "sessions": page, "nextCursor": cursor})


async def realtime_view(request: Request) -> Response:
    project_id = project_of(request)
    q = request.query_params
    conditions, limit = filters_param(q), limit_param(q, default=20, high=100)
    settings, db = _settings(request), _db(request)
    window = dt.timedelta(seconds=settings.realtime_window_seconds)
    with timed("realtime"):
        visitors, latest = await asyncio.gather(realtime.visitors_now(db, project_id, conditions, window),
                                                realtime.latest(db, project_id, conditions, limit))
    return JSONResponse({"visitors": visitors, "windowSeconds": settings.realtime_window_seconds,
                         "events": latest})


async def stream_view(request: Request) -> Response:
    project_id = project_of(request)
    conditions = filters_param(request.query_params)
    return StreamingResponse(
        event_stream(_db(request), project_id, conditions, _settings(request)),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


async def events_view(request: Request) -> Response:
    project_id = project_of(request)
    q = request.query_params
    rng, conditions = _range(request), filters_param(q)
    limit, before = limit_param(q, default=100), _time_cursor(request)
    params = Params()
    where = raw_where(params, project_id, rng.start, rng.end, conditions)
    with timed("events"):
        rows = await explorer.explore(_db(request), params, where, limit, before)
    page, cursor = _page(rows, limit, "_time", "messageId")
    return JSONResponse({**rng.as_json(), "events": page, "nextCursor": cursor})


async def export_view(request: Request) -> Response:
    project_id = project_of(request)
    q = request.query_params
    fmt = choice(q, "format", tuple(FORMATS), "csv")
    rng, conditions = _range(request), filters_param(q)
    params = Params()
    sql = export_sql(raw_where(params, project_id, rng.start, rng.end, conditions))
    filename = f"events-{project_id}-{rng.local(rng.start).date()}.{fmt}"
    return StreamingResponse(stream_rows(request.app.state.pool, sql, params.values, fmt), media_type=FORMATS[fmt],
                             headers={"content-disposition": f'attachment; filename="{filename}"',
                                      "cache-control": "no-store"})


async def person_view(request: Request) -> Response:
    project_id = project_of(request)
    visitor_id: str = request.path_params["visitor_id"]
    if not 0 < len(visitor_id) <= 500:
        raise NotFound("Person not found.")
    if "\x00" in visitor_id:
        raise bad("visitorId", NUL_MESSAGE)
    q = request.query_params
    db = _db(request)
    has_range = bool(q.get("from") or q.get("to"))
    rng = _range(request) if has_range else None
    conditions, limit, before = filters_param(q), limit_param(q, default=100), _time_cursor(request)
    with timed("persons"):
        ids = await persons.resolve(db, project_id, visitor_id)
        profile = await persons.profile(db, project_id, ids)
        if profile is None:
            raise NotFound("Person not found.")
        params = Params()
        where = raw_where(params, project_id, rng.start if rng else None, rng.end if rng else None, conditions)
        where += f" AND e.visitor_id = ANY({params.add(ids, 'text[]')})"
        rows = await explorer.explore(db, params, where, limit, before)
    page, cursor = _page(rows, limit, "_time", "messageId")
    return JSONResponse({"visitorId": ids[0], "ids": ids, **profile, "events": page, "nextCursor": cursor})


Endpoint = Callable[[Request], Awaitable[Response]]


def _checked(endpoint: Endpoint) -> Endpoint:
    """Every endpoint: PostgreSQL's time zone names loaded (once per process) before `tz` is
    parsed, and a query parameter holding a NUL character refused before any is read."""
    @functools.wraps(endpoint)
    async def checked(request: Request) -> Response:
        if not postgres_zones_loaded():
            await load_postgres_zones(request.app.state.pool)
        refuse_nul(request.query_params)
        return await endpoint(request)

    return checked


def tracking_routes() -> list[BaseRoute]:
    return [
        Route(f"{PREFIX}/stats/summary", _checked(summary), methods=["GET"]),
        Route(f"{PREFIX}/stats/timeseries", _checked(timeseries), methods=["GET"]),
        Route(f"{PREFIX}/stats/breakdown", _checked(breakdown_view), methods=["GET"]),
        Route(f"{PREFIX}/funnels", _checked(funnel_view), methods=["POST"]),
        Route(f"{PREFIX}/retention", _checked(retention_view), methods=["GET"]),
        Route(f"{PREFIX}/sessions", _checked(sessions_view), methods=["GET"]),
        Route(f"{PREFIX}/realtime", _checked(realtime_view), methods=["GET"]),
        Route(f"{PREFIX}/realtime/stream", _checked(stream_view), methods=["GET"]),
        Route(f"{PREFIX}/events", _checked(events_view), methods=["GET"]),
        Route(f"{PREFIX}/events/export", _checked(export_view), methods=["GET"]),
        Route(f"{PREFIX}/persons/{{visitor_id:path}}", _checked(person_view), methods=["GET"]),
    ]
