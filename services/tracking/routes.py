"""HTTP handlers of the tracking service, as typed endpoints: the query string or body arrives
parsed (schemas.py), the handler runs the query and returns the answer's model (public.py), and
the API reference is generated from both. Paths are the public ones (`/api/projects/{id}/...`):
the gateway forwards them unchanged after checking the caller's token and project, and says which
project it checked in `X-TME-Project-Id`. Tracking refuses (404) any request whose header is
missing or names another project, so even a request that reaches it directly cannot read a
project it was not sent for."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from services.shared.api.endpoint import Endpoint, endpoint, routes
from services.shared.errors import NUL_MESSAGE, InvalidParameter, NotFound, QueryTimeout, TooManyStreams
from services.tracking import answers
from services.tracking.buckets import label, series
from services.tracking.db import Db
from services.tracking.export_audit import record_export
from services.tracking.metrics import timed
from services.tracking.params import (
    bad,
    encode_cursor,
    epoch_us,
    load_postgres_zones,
    parse_tz,
    postgres_zones_loaded,
    refuse_nul,
)
from services.tracking.public import (
    SUMMARY_EXAMPLE,
    AnalyticsBreakdown,
    AnalyticsEvent,
    AnalyticsEventPage,
    AnalyticsExportCount,
    AnalyticsFunnel,
    AnalyticsPerson,
    AnalyticsPersonExport,
    AnalyticsRealtime,
    AnalyticsRetention,
    AnalyticsSessions,
    AnalyticsSummary,
    AnalyticsTimeseries,
)
from services.tracking.queries import explorer, funnels, person_export, persons, project_export, sessions
from services.tracking.queries.export import (
    FORMATS,
    EventCsv,
    PersonDocument,
    SegmentLines,
    event_writer,
    export_sql,
    stream,
)
from services.tracking.queries.realtime import latest, visitors_now
from services.tracking.queries.retention import default_start
from services.tracking.queries.summary import summary_json
from services.tracking.schemas import (
    FUNNEL_EXAMPLE,
    AnalyticsFunnelRequest,
    BreakdownQuery,
    EventsQuery,
    ExportQuery,
    PersonQuery,
    ProjectExportQuery,
    RealtimeQuery,
    RetentionQuery,
    SessionsQuery,
    StreamQuery,
    SummaryQuery,
    TimeseriesQuery,
)
from services.tracking.scope import raw_where
from services.tracking.settings import TrackingSettings
from services.tracking.sql import Params
from services.tracking.state import tracking_state
from services.tracking.stream import event_stream

MAX_PROJECT_ID = 2**63 - 1
MAX_FUNNEL_BYTES = 100_000
TAG = "Analytics"
PREFIX = "/api/projects/{project_id:int}"
PROJECT: dict[str, type] = {"project_id": int}
ASKS = (NotFound, QueryTimeout)  # a question: the project, then a query that may run too long
STREAMS = (NotFound, TooManyStreams)  # a long-lived answer, capped per user and project by the gateway

# how exact the figures of summary, timeseries and breakdown are (answers.py)
ACCURACY = ("Ranges with fewer than 10,000 events (TME_ROLLUP_MIN_EVENTS) are counted exactly from the stored "
            "events. Larger unfiltered ranges that start and end on whole UTC hours (time zones a whole number "
            "of hours from UTC) are answered from hourly rollups, a few seconds behind ingest: events, page "
            "views, sessions and the session ratios stay exact, while unique visitors over more than one hour "
            "are a HyperLogLog estimate with a standard error of 3.3% (within 10% in 997 of 1000 answers). "
            "Filtered questions are always counted exactly.")

T = TypeVar("T")


def project_of(request: Request) -> int:
    project_id: int = request.path_params["project_id"]
    if request.headers.get("x-tme-project-id") != str(project_id) or not 0 < project_id <= MAX_PROJECT_ID:
        raise NotFound("Project not found.")
    return project_id


def _settings(request: Request) -> TrackingSettings:
    return tracking_state(request.app).settings


def _db(request: Request) -> Db:
    state = tracking_state(request.app)
    return Db(state.pool, state.settings.query_timeout_seconds)


def _page(items: list[T], limit: int, position: Callable[[T], list[Any]]) -> tuple[list[T], str | None]:
    """The first `limit` items (a query asks for one more) and the cursor after them, if more follow."""
    page = items[:limit]
    return page, encode_cursor(position(page[-1])) if len(items) > limit else None


def _event_position(event: AnalyticsEvent) -> list[Any]:
    return [epoch_us(event.event_time), event.message_id]


@endpoint("GET", f"{PREFIX}/stats/summary", tag=TAG, summary="Headline figures with the previous period",
          description=ACCURACY, errors=ASKS, path_params=PROJECT, examples={"response": SUMMARY_EXAMPLE})
async def stats_summary(request: Request, query: SummaryQuery) -> AnalyticsSummary:
    project_id = project_of(request)
    rng = query.range(max_days=_settings(request).max_range_days)
    db = _db(request)
    with timed("summary"):
        current, previous = await asyncio.gather(
            answers.totals(request.app, db, project_id, rng, query.filters),
            answers.totals(request.app, db, project_id, rng.previous(), query.filters),
        )
    return AnalyticsSummary.model_validate(summary_json(rng, current, previous))


@endpoint("GET", f"{PREFIX}/stats/timeseries", tag=TAG, summary="One metric over time", description=ACCURACY,
          errors=ASKS, path_params=PROJECT)
async def stats_timeseries(request: Request, query: TimeseriesQuery) -> AnalyticsTimeseries:
    project_id = project_of(request)
    settings = _settings(request)
    rng = query.range(max_days=settings.max_range_days)
    starts = series(rng, query.interval, settings.max_buckets)
    with timed("timeseries"):
        counts = await answers.series_counts(request.app, _db(request), project_id, rng, query.filters,
                                             query.metric, query.interval)
    points = [{"bucket": label(start, rng.tz), "value": counts.get(start, 0)} for start in starts]
    return AnalyticsTimeseries.model_validate({**rng.as_json(), "metric": query.metric, "interval": query.interval,
                                               "points": points})


@endpoint("GET", f"{PREFIX}/stats/breakdown", tag=TAG, summary="Visitors and events per value of a dimension",
          description=ACCURACY + " Rollups keep the dimensions event, page, referrer, source, utm*, browser, os, "
                                 "device, library, appVersion, locale and screen; the others are always counted "
                                 "from the stored events.",
          errors=ASKS, path_params=PROJECT)
async def stats_breakdown(request: Request, query: BreakdownQuery) -> AnalyticsBreakdown:
    project_id = project_of(request)
    rng = query.range(max_days=_settings(request).max_range_days)
    with timed("breakdown"):
        rows = await answers.breakdown_rows(request.app, _db(request), project_id, rng, query.filters, query.by,
                                            query.limit, query.cursor)
    page, cursor = _page(rows, query.limit, lambda row: [row["visitors"], row["value"]])
    return AnalyticsBreakdown.model_validate({**rng.as_json(), "by": query.by, "rows": page, "nextCursor": cursor})


@endpoint("POST", f"{PREFIX}/funnels", tag=TAG, summary="Conversion through ordered steps",
          errors=(*ASKS, InvalidParameter), path_params=PROJECT, max_body_bytes=MAX_FUNNEL_BYTES,
          examples={"body": FUNNEL_EXAMPLE})
async def funnel(request: Request, body: AnalyticsFunnelRequest) -> AnalyticsFunnel:
    """A visitor reaches step k when, after an event of step 1, they do steps 2..k in this order
    (each after the previous one; events at the same instant count in the funnel's order) and step
    k within `windowSeconds` of step 1. Anonymous ids linked by identify/alias count as the same
    person. A rule the body breaks is a 400 `invalid_parameter` naming the field
    (`steps[1].event`)."""
    project_id = project_of(request)
    rng = body.range(max_days=_settings(request).max_range_days)
    spec = body.definition
    with timed("funnels"):
        steps = await funnels.funnel(_db(request), project_id, rng, spec.conditions, spec.steps, spec.window)
    return AnalyticsFunnel.model_validate({**rng.as_json(), "windowSeconds": int(spec.window.total_seconds()),
                                           "steps": steps})


@endpoint("GET", f"{PREFIX}/retention", tag=TAG, summary="Cohort retention triangle", errors=ASKS,
          path_params=PROJECT, examples={"response": {
              "from": "2026-01-05T00:00:00+00:00", "to": "2026-01-19T00:00:00+00:00", "tz": "UTC", "period": "week",
              "periods": 8, "cohorts": [{"cohort": "2026-01-05", "size": 10, "returning": [10, 4]},
                                        {"cohort": "2026-01-12", "size": 8, "returning": [8]}]}})
async def retention(request: Request, query: RetentionQuery) -> AnalyticsRetention:
    """A visitor's cohort is the period of their first start event ever (so only visitors first
    seen in the range form cohorts). Returns count up to `to`. Default range: the last `periods`
    periods."""
    project_id = project_of(request)
    start = default_start(query.period, query.periods, dt.datetime.now(dt.UTC), parse_tz(query.tz))
    rng = query.range(max_days=_settings(request).max_range_days, default_start=start)
    with timed("retention"):
        cohorts = await answers.retention_cohorts(request.app, _db(request), project_id, rng, query.filters,
                                                  query.period, query.periods, query.start_event, query.event)
    return AnalyticsRetention.model_validate({**rng.as_json(), "period": query.period, "periods": query.periods,
                                              "cohorts": cohorts})


@endpoint("GET", f"{PREFIX}/sessions", tag=TAG, summary="Sessions, newest first", errors=ASKS,
          path_params=PROJECT)
async def list_sessions(request: Request, query: SessionsQuery) -> AnalyticsSessions:
    """A session is all events with the same SDK sessionId; without one, a visitor's events with gaps
    of at most 30 minutes. With a filter: the whole sessions that contain a matching event."""
    project_id = project_of(request)
    rng = query.range(max_days=_settings(request).max_range_days)
    with timed("sessions"):
        rows = await sessions.list_sessions(_db(request), project_id, rng, query.filters, query.limit, query.cursor)
    page, cursor = _page(rows, query.limit, lambda row: [epoch_us(row["start"]), row["id"]])
    return AnalyticsSessions.model_validate({**rng.as_json(), "sessions": page, "nextCursor": cursor})


@endpoint("GET", f"{PREFIX}/realtime", tag=TAG, summary="Visitors in the last 5 minutes and the latest events",
          errors=ASKS, path_params=PROJECT)
async def realtime(request: Request, query: RealtimeQuery) -> AnalyticsRealtime:
    project_id = project_of(request)
    settings, db = _settings(request), _db(request)
    window = dt.timedelta(seconds=settings.realtime_window_seconds)
    with timed("realtime"):
        visitors, events = await asyncio.gather(visitors_now(db, project_id, query.filters, window),
                                                latest(db, project_id, query.filters, query.limit))
    return AnalyticsRealtime(visitors=visitors, window_seconds=settings.realtime_window_seconds, events=events)


@endpoint("GET", f"{PREFIX}/realtime/stream", tag=TAG, summary="Live stream of incoming events (Server-Sent Events)",
          errors=STREAMS, path_params=PROJECT, media_type="text/event-stream")
async def realtime_stream(request: Request, query: StreamQuery) -> Response:
    """One `event: event` message per stored event (data: the event JSON, as in AnalyticsEvent),
    `: keep-alive` comments when idle, and `event: end` after 10 minutes (reconnect)."""
    project_id = project_of(request)
    return StreamingResponse(
        event_stream(_db(request), project_id, query.filters, _settings(request)),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


@endpoint("GET", f"{PREFIX}/events", tag=TAG, summary="Event explorer, newest first", errors=ASKS,
          path_params=PROJECT)
async def list_events(request: Request, query: EventsQuery) -> AnalyticsEventPage:
    """Every stored event (all types, bots included unless filtered). Pages are keyset-paginated on
    (event time, messageId): walking them never repeats an event and never skips one that was
    stored when the walk began; an event stored meanwhile shows up later in the walk when it is
    older than the cursor (late or imported events) and not at all when it is newer."""
    project_id = project_of(request)
    rng = query.range(max_days=_settings(request).max_range_days)
    params = Params()
    where = raw_where(params, project_id, rng.start, rng.end, query.filters)
    with timed("events"):
        events = await explorer.explore(_db(request), params, where, query.limit, query.cursor)
    page, cursor = _page(events, query.limit, _event_position)
    return AnalyticsEventPage.model_validate({**rng.as_json(), "events": page, "nextCursor": cursor})


@endpoint("GET", f"{PREFIX}/events/export", tag=TAG, summary="Export events (CSV or NDJSON), oldest first",
          errors=STREAMS, path_params=PROJECT,
          media_type=tuple(dict.fromkeys(kind.split(";")[0] for kind in FORMATS.values())))
async def export_events(request: Request, query: ExportQuery) -> Response:
    """A streamed download of every matching event, with AnalyticsEvent's fields as columns (JSON
    text for properties, context and traits in CSV)."""
    project_id = project_of(request)
    rng = query.range(max_days=_settings(request).max_range_days)
    params = Params()
    sql = export_sql(raw_where(params, project_id, rng.start, rng.end, query.filters))
    filename = f"events-{project_id}-{rng.local(rng.start).date()}.{query.format}"
    await record_export(request, project_id, "events", {"format": query.format, "filtered": bool(query.filters)})
    rows = stream(tracking_state(request.app).pool, sql, params.values, event_writer(query.format))
    return _download(rows, FORMATS[query.format], filename)


def _download(rows: AsyncIterator[bytes], media_type: str, filename: str) -> Response:
    return StreamingResponse(rows, media_type=media_type,
                             headers={"content-disposition": f'attachment; filename="{filename}"',
                                      "cache-control": "no-store"})


def _visitor_id(request: Request) -> str:
    """The person's id from the path: an id no event can have is nobody (404)."""
    visitor_id: str = request.path_params["visitor_id"]
    if not 0 < len(visitor_id) <= 500:
        raise NotFound("Person not found.")
    if "\x00" in visitor_id:
        raise bad("visitorId", NUL_MESSAGE)
    return visitor_id


@endpoint("GET", f"{PREFIX}/persons/{{visitor_id:path}}/export", tag=TAG,
          summary="Everything stored about one person, as JSON (subject access request)",
          errors=(*ASKS, InvalidParameter), path_params=PROJECT, media_type="application/json")
async def export_person(request: Request) -> Response:
    """A download (`Content-Disposition: attachment`) of the person's ids (aliases and identify
    links resolved from any one of them), traits, first and last seen, and every event of any of
    those ids as Segment spec messages, oldest first, streamed. 404 when nothing is stored about
    that id. An id that itself ends in `/export` is read with this route, not the person view."""
    project_id = project_of(request)
    visitor_id = _visitor_id(request)
    db = _db(request)
    with timed("persons"):
        head = await person_export.person(db, project_id, visitor_id)
    if head is None:
        raise NotFound("Person not found.")
    await record_export(request, project_id, "person", {"format": "json"})
    params = Params()
    sql = person_export.events_sql(params, project_id, head["ids"])
    rows = stream(db.pool, sql, params.values, PersonDocument(head))
    return _download(rows, "application/json", f"person-{project_id}-{_file_safe(head['visitorId'])}.json")


# the streamed document follows AnalyticsPersonExport: the reference shows it (and the tests check it)
export_person = dataclasses.replace(export_person, response=AnalyticsPersonExport)


def _file_safe(text: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in text[:60])


@endpoint("GET", f"{PREFIX}/persons/{{visitor_id:path}}", tag=TAG, summary="One person: ids, traits and events",
          errors=ASKS, path_params=PROJECT)
async def get_person(request: Request, query: PersonQuery) -> AnalyticsPerson:
    """`visitorId` is a userId or anonymousId; aliases resolve to the same person. Events of all time
    unless `from`/`to` are given, newest first."""
    project_id = project_of(request)
    visitor_id = _visitor_id(request)
    db = _db(request)
    rng = query.range(max_days=_settings(request).max_range_days) if query.given() else None
    with timed("persons"):
        ids = await persons.resolve(db, project_id, visitor_id)
        profile = await persons.profile(db, project_id, ids)
        if profile is None:
            raise NotFound("Person not found.")
        params = Params()
        where = raw_where(params, project_id, rng.start if rng else None, rng.end if rng else None, query.filters)
        where += f" AND e.visitor_id = ANY({params.add(ids, 'text[]')})"
        events = await explorer.explore(db, params, where, query.limit, query.cursor)
    page, cursor = _page(events, query.limit, _event_position)
    return AnalyticsPerson.model_validate({"visitorId": ids[0], "ids": ids, **profile, "events": page,
                                           "nextCursor": cursor})


PROJECT_EXPORT = ("Every event of the project (or of `from`..`to`), ordered by (event time, messageId), streamed "
                  "from a server-side cursor: `ndjson` writes a Segment spec message per line (what `/v1/batch` and "
                  "`tme import --file` read back), `csv` AnalyticsEvent's fields as columns after a header row. "
                  "A download cut off is resumed with `after` (`tme export` does it).")


@endpoint("GET", f"{PREFIX}/export", tag=TAG, summary="Export the whole project (Segment NDJSON or CSV), resumable",
          description=PROJECT_EXPORT, errors=(*STREAMS, QueryTimeout), path_params=PROJECT,
          media_type=tuple(dict.fromkeys(kind.split(";")[0] for kind in FORMATS.values())))
async def export_project(request: Request, query: ProjectExportQuery) -> Response:
    project_id = project_of(request)
    start, end = query.bounds()
    db = _db(request)
    after = await project_export.resolve_after(db, project_id, query.after, query.format)
    params = Params()
    sql = project_export.project_sql(project_export.project_where(params, project_id, start, end, after),
                                     query.format)
    writer = SegmentLines() if query.format == "ndjson" else EventCsv(header=after is None)
    await record_export(request, project_id, "project", {"format": query.format, "resumed": after is not None})
    rows = stream(db.pool, sql, params.values, writer)
    return _download(rows, FORMATS[query.format], f"project-{project_id}-events.{query.format}")


@endpoint("GET", f"{PREFIX}/export/count", tag=TAG, summary="How many events a project export writes",
          errors=ASKS, path_params=PROJECT)
async def count_project_export(request: Request, query: ProjectExportQuery) -> AnalyticsExportCount:
    """The same parameters as the export (`format` matters only to read a CSV line's `after`): with
    `after`, the events still to come. For a progress bar."""
    project_id = project_of(request)
    start, end = query.bounds()
    db = _db(request)
    after = await project_export.resolve_after(db, project_id, query.after, query.format)
    params = Params()
    where = project_export.project_where(params, project_id, start, end, after)
    return AnalyticsExportCount(events=await project_export.count(db, params, where))


# the public routes, in the order the API reference lists them (a person's export before the
# person view, whose `{visitorId}` would take `<id>/export` too)
ENDPOINTS: list[Endpoint] = [stats_summary, stats_timeseries, stats_breakdown, funnel, retention, list_sessions,
                             realtime, realtime_stream, list_events, export_events, export_person, get_person,
                             export_project, count_project_export]

Run = Callable[[Request], Awaitable[Response]]


def _checked(run: Run) -> Run:
    """Before anything is parsed: PostgreSQL's time zone names loaded (once per process) for `tz`, a
    query parameter holding a NUL character refused, and the project the gateway checked must be
    the path's."""
    async def checked(request: Request) -> Response:
        if not postgres_zones_loaded():
            await load_postgres_zones(tracking_state(request.app).pool)
        refuse_nul(request.query_params)
        project_of(request)
        return await run(request)

    checked.__name__ = run.__name__
    return checked


def tracking_routes() -> list[BaseRoute]:
    """The endpoints' routes. The API reference lists them with the bearer token the gateway checks;
    here they run as internal routes (this port answers only requests with the internal token, and
    the gateway's `X-TME-Project-Id` names the project it checked), so a direct call, like the
    gateway's, need not carry the caller's token."""
    out: list[BaseRoute] = []
    for route in routes([dataclasses.replace(e, security="internal") for e in ENDPOINTS]):
        out.append(Route(route.path, _checked(route.endpoint), methods=route.methods, name=route.name))
    return out
