"""OpenAPI description of the analytics routes, merged by the gateway into `/api/openapi.json`
(`TRACKING_PATHS`, `TRACKING_COMPONENTS`). Operations refer to the gateway's shared components:
`#/components/parameters/ProjectId`, `#/components/responses/{BadRequest,NotFound,...}`,
`#/components/schemas/Error` and the `bearerAuth` scheme."""

from __future__ import annotations

from typing import Any

from services.tracking.filters import COLUMNS, OPS
from services.tracking.queries.breakdown import DIMENSIONS as BREAKDOWN_DIMENSIONS
from services.tracking.queries.summary import METRICS as SUMMARY_METRICS

Schema = dict[str, Any]
TAG = "Analytics"
BEARER = [{"bearerAuth": []}]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _param(name: str) -> Schema:
    return {"$ref": f"#/components/parameters/{name}"}


def _error(name: str) -> Schema:
    return {"$ref": f"#/components/responses/{name}"}


def _json(schema: Schema, example: Any = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"application/json": media}


_NULLABLE_NUMBER = {"type": ["number", "null"]}
_RANGE_PROPS: dict[str, Schema] = {
    "from": {"type": "string", "format": "date-time", "description": "Start of the range (inclusive), in `tz`."},
    "to": {"type": "string", "format": "date-time", "description": "End of the range (exclusive), in `tz`."},
    "tz": {"type": "string", "examples": ["Europe/Berlin"]},
}
_CURSOR = {"type": ["string", "null"], "description": "Pass as `cursor` to get the next page; null on the last page."}

FILTERS_DESCRIPTION = (
    "A JSON-encoded array of conditions, all of which must hold: "
    '`[{"field": "browser", "op": "eq", "value": "Firefox"}]`. Fields: '
    + ", ".join(f"`{name}`" for name in COLUMNS)
    + ", `prop:<key>` and `context:<key>` (a property of the event or its context; dots reach nested keys, "
    "e.g. `context:app.version`). Ops: `eq` and `neq` (a value or a list of values: any of / none of; an absent "
    "value counts as not equal), `contains` (case-insensitive substring), `set`, `notset` (no value). Numbers and "
    "booleans compare as JSON writes them. Bots are left out of analytics unless a condition mentions `bot` "
    '(e.g. `{"field": "bot", "op": "set"}` counts everyone). At most 20 conditions.'
)

PARAMETERS: dict[str, Schema] = {
    "AnalyticsFrom": {
        "name": "from", "in": "query", "required": False,
        "description": "Start: an ISO date (`2026-01-05`, midnight in `tz`) or date-time (`2026-01-05T10:00:00Z`; "
                       "without an offset it is wall time in `tz`). Default: 6 days before today, in `tz`.",
        "schema": {"type": "string"}, "example": "2026-01-05",
    },
    "AnalyticsTo": {
        "name": "to", "in": "query", "required": False,
        "description": "End: a date includes that whole day; a date-time is exclusive. Default: the end of today "
                       "in `tz`. A range covers at most 1100 days.",
        "schema": {"type": "string"}, "example": "2026-01-11",
    },
    "AnalyticsTz": {
        "name": "tz", "in": "query", "required": False,
        "description": "IANA time zone for day boundaries and buckets (DST included). Default UTC.",
        "schema": {"type": "string", "default": "UTC", "examples": ["Europe/Berlin"]}, "example": "Europe/Berlin",
    },
    "AnalyticsFilters": {
        "name": "filters", "in": "query", "required": False, "description": FILTERS_DESCRIPTION,
        "schema": {"type": "string"},
        "example": '[{"field":"prop:plan","op":"eq","value":"pro"}]',
    },
    "AnalyticsLimit": {
        "name": "limit", "in": "query", "required": False, "description": "Page size (1 to 1000).",
        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
    },
    "AnalyticsCursor": {
        "name": "cursor", "in": "query", "required": False,
        "description": "Opaque: the `nextCursor` of the previous page.", "schema": {"type": "string"},
    },
}

_COMMON = [_param("AnalyticsFrom"), _param("AnalyticsTo"), _param("AnalyticsTz"), _param("AnalyticsFilters")]
_PAGED = [*_COMMON, _param("AnalyticsLimit"), _param("AnalyticsCursor")]


def _query(name: str, description: str, schema: Schema, required: bool = False) -> Schema:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


EVENT_SCHEMA: Schema = {
    "type": "object",
    "description": "One stored event.",
    "properties": {
        "messageId": {"type": "string"},
        "timestamp": {"type": "string", "format": "date-time", "description": "Event time (clock-skew corrected)."},
        "receivedAt": {"type": "string", "format": "date-time"},
        "type": {"type": "string", "enum": ["track", "page", "screen", "identify", "group", "alias"]},
        "event": {"type": "string", "description": "Event name; PAGE_VIEW, SCREEN_VIEW, IDENTIFY, ... for the "
                                                   "other types."},
        "visitorId": {"type": ["string", "null"], "description": "userId, else anonymousId."},
        **{name: {"type": ["string", "null"]} for name in (
            "userId", "anonymousId", "sessionId", "groupId", "previousId", "url", "path", "referrer",
            "referrerHost", "utmSource", "utmMedium", "utmCampaign", "utmTerm", "utmContent", "browser",
            "browserVersion", "os", "osVersion", "device", "appVersion", "locale")},
        "source": {"type": ["string", "null"], "description": "Where the visit came from: the link's utm_source "
                                                              "under its known name (`google` -> Google), else "
                                                              "the referrer's source; null for direct and "
                                                              "internal navigation."},
        "isBot": {"type": "boolean", "description": "Judged on the person's agent only (docs/api.md)."},
        "library": {"type": ["string", "null"], "description": "The sending library (context.library.name); "
                                                               "`http` when none was named."},
        "screen": {"type": ["string", "null"], "enum": ["mobile", "tablet", "laptop", "desktop", None]},
        "properties": {"type": "object"},
        "context": {"type": "object"},
        "traits": {"type": ["object", "null"]},
    },
}

# how exact the figures of summary, timeseries and breakdown are (services/tracking/answers.py)
ACCURACY = ("Ranges with fewer than 10,000 events (TME_ROLLUP_MIN_EVENTS) are counted exactly from the stored "
            "events. Larger unfiltered ranges that start and end on whole UTC hours (time zones a whole number "
            "of hours from UTC) are answered from hourly rollups, a few seconds behind ingest: events, page "
            "views, sessions and the session ratios stay exact, while unique visitors over more than one hour "
            "are a HyperLogLog estimate with a standard error of 3.3% (within 10% in 997 of 1000 answers). "
            "Filtered questions are always counted exactly.")

SCHEMAS: dict[str, Schema] = {
    "AnalyticsMetric": {
        "type": "object", "required": ["value", "previous"],
        "description": "A figure for the range and for the period of the same length just before it.",
        "properties": {"value": _NULLABLE_NUMBER, "previous": _NULLABLE_NUMBER},
    },
    "AnalyticsSummary": {
        "type": "object",
        "description": "Events and page views count actions (track, page, screen); visitors are distinct "
                       "userId-else-anonymousId; sessions come from the SDK's sessionId or 30 minutes of "
                       "inactivity. bounceRate and viewsPerSession are Plausible's, over the sessions with page "
                       "views: the share of them with one page view and no other action (0 to 1), and their page "
                       "views per session (server-side sessions without a page view count in neither); "
                       "avgSessionDuration is in seconds, over all sessions; a ratio is null when it has nothing "
                       "to divide by. With a filter, the session figures are those of the whole sessions that "
                       "contain a matching event. Bots are "
                       "left out unless a filter mentions `bot`; botEvents is how many bot actions that left "
                       "out (0 when a filter mentions `bot`).",
        "properties": {
            **_RANGE_PROPS,
            "previousFrom": {"type": "string", "format": "date-time"},
            "previousTo": {"type": "string", "format": "date-time"},
            **{name: _ref("AnalyticsMetric") for name in SUMMARY_METRICS},
        },
        "example": {"from": "2026-01-05T00:00:00+01:00", "to": "2026-01-12T00:00:00+01:00", "tz": "Europe/Berlin",
                    "previousFrom": "2025-12-29T00:00:00+01:00", "previousTo": "2026-01-05T00:00:00+01:00",
                    "events": {"value": 10, "previous": 7}, "pageviews": {"value": 8, "previous": 5},
                    "visitors": {"value": 3, "previous": 2}, "sessions": {"value": 4, "previous": 2},
                    "bounceRate": {"value": 0.5, "previous": 0.0},
                    "avgSessionDuration": {"value": 825.0, "previous": 60.0},
                    "viewsPerSession": {"value": 2.0, "previous": 2.5},
                    "botEvents": {"value": 2, "previous": 0}},
    },
    "AnalyticsTimeseries": {
        "type": "object",
        "properties": {
            **_RANGE_PROPS,
            "metric": {"type": "string"}, "interval": {"type": "string"},
            "points": {"type": "array", "description": "Every bucket of the range in order, zero-filled.",
                       "items": {"type": "object", "required": ["bucket", "value"], "properties": {
                           "bucket": {"type": "string", "format": "date-time",
                                      "description": "Bucket start in `tz` with its UTC offset."},
                           "value": {"type": "integer"}}}},
        },
    },
    "AnalyticsBreakdown": {
        "type": "object",
        "properties": {
            **_RANGE_PROPS, "by": {"type": "string"},
            "rows": {"type": "array", "items": {"type": "object", "required": ["value", "visitors", "events"],
                                                "properties": {"value": {"type": ["string", "null"]},
                                                               "visitors": {"type": "integer"},
                                                               "events": {"type": "integer"}}}},
            "nextCursor": _CURSOR,
        },
    },
    "AnalyticsCondition": {
        "type": "object", "required": ["field"],
        "properties": {"field": {"type": "string"}, "op": {"type": "string", "enum": list(OPS), "default": "eq"},
                       "value": {"description": "A string, number or boolean; a list for eq/neq."}},
    },
    "AnalyticsFunnelRequest": {
        "type": "object", "required": ["steps"],
        "properties": {
            "steps": {"type": "array", "minItems": 2, "maxItems": 10, "items": {
                "type": "object", "required": ["event"],
                "properties": {"event": {"type": "string"},
                               "filters": {"type": "array", "items": _ref("AnalyticsCondition")}}}},
            "windowSeconds": {"type": "integer", "minimum": 1, "maximum": 7_776_000, "default": 86_400,
                              "description": "Time allowed from step 1 to the last step."},
            "from": {"type": "string"}, "to": {"type": "string"}, "tz": {"type": "string"},
            "filters": {"type": "array", "items": _ref("AnalyticsCondition"),
                        "description": "Conditions every event of the funnel must meet."},
        },
        "example": {"steps": [{"event": "PAGE_VIEW", "filters": [{"field": "page", "op": "eq", "value": "/pricing"}]},
                              {"event": "Signup"}, {"event": "Purchase"}],
                    "windowSeconds": 86400, "from": "2026-01-01", "to": "2026-01-31"},
    },
    "AnalyticsFunnel": {
        "type": "object",
        "properties": {
            **_RANGE_PROPS, "windowSeconds": {"type": "integer"},
            "steps": {"type": "array", "items": {"type": "object", "properties": {
                "event": {"type": "string"},
                "users": {"type": "integer", "description": "Visitors who reached this step in order."},
                "conversionFromFirst": {"type": "number"},
                "conversionFromPrevious": {"type": "number"},
                "medianSecondsToConvert": {**_NULLABLE_NUMBER,
                                           "description": "Median time from the previous step; null for step 1."},
                "dropOff": {"type": "integer", "description": "Visitors of the previous step who did not get here."},
                "seen": {"type": "boolean",
                         "description": "Whether any person (bots aside, the funnel's filters aside) sent this "
                                        "event in the range: false points at a misspelt name or the wrong range."},
            }}},
        },
    },
    "AnalyticsRetention": {
        "type": "object",
        "properties": {
            **_RANGE_PROPS, "period": {"type": "string"}, "periods": {"type": "integer"},
            "cohorts": {"type": "array", "items": {"type": "object", "required": ["cohort", "size", "returning"],
                                                   "properties": {
                                                       "cohort": {"type": "string", "format": "date"},
                                                       "size": {"type": "integer"},
                                                       "returning": {"type": "array", "items": {"type": "integer"},
                                                                     "description": "returning[0] is the size."}}}},
        },
        "example": {"cohorts": [{"cohort": "2026-01-05", "size": 10, "returning": [10, 4, 3]},
                                {"cohort": "2026-01-12", "size": 8, "returning": [8, 2]}]},
    },
    "AnalyticsSessions": {
        "type": "object",
        "properties": {
            **_RANGE_PROPS,
            "sessions": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "string"}, "visitorId": {"type": "string"},
                "start": {"type": "string", "format": "date-time"}, "end": {"type": "string", "format": "date-time"},
                "durationSeconds": {"type": "number"}, "events": {"type": "integer"},
                "pageviews": {"type": "integer"},
                **{name: {"type": ["string", "null"]} for name in ("entryPage", "exitPage", "referrer", "source",
                                                                   "browser", "os", "device")},
            }}},
            "nextCursor": _CURSOR,
        },
    },
    "AnalyticsEvent": EVENT_SCHEMA,
    "AnalyticsEventPage": {
        "type": "object",
        "properties": {**_RANGE_PROPS, "events": {"type": "array", "items": _ref("AnalyticsEvent")},
                       "nextCursor": _CURSOR},
    },
    "AnalyticsRealtime": {
        "type": "object",
        "properties": {"visitors": {"type": "integer"}, "windowSeconds": {"type": "integer"},
                       "events": {"type": "array", "items": _ref("AnalyticsEvent")}},
    },
    "AnalyticsPerson": {
        "type": "object",
        "properties": {
            "visitorId": {"type": "string"},
            "ids": {"type": "array", "items": {"type": "string"},
                    "description": "The person's id first, then the ids linked to it by identify/alias."},
            "traits": {"type": "object"},
            "firstSeen": {"type": "string", "format": "date-time"},
            "lastSeen": {"type": "string", "format": "date-time"},
            "events": {"type": "array", "items": _ref("AnalyticsEvent")},
            "nextCursor": _CURSOR,
        },
    },
}

TRACKING_COMPONENTS: dict[str, Any] = {"schemas": SCHEMAS, "parameters": PARAMETERS}


def _get(summary: str, op_id: str, ok: dict[str, Any], params: list[Schema], description: str = "",
         extra_errors: tuple[str, ...] = (), stream: bool = False) -> dict[str, Any]:
    """`stream`: a long-lived answer (event stream, export), which the gateway caps per user and per
    project (429 too_many_streams)."""
    responses: dict[str, Any] = {"200": ok, "400": _error("BadRequest"), "401": _error("Unauthorized"),
                                 "404": _error("NotFound"), "503": _error("Unavailable")}
    if stream:
        responses["429"] = _error("RateLimited")
    for name in extra_errors:
        responses.setdefault(name, _error("BadRequest"))
    operation: dict[str, Any] = {"tags": [TAG], "summary": summary, "operationId": op_id, "security": BEARER,
                                 "parameters": params, "responses": responses}
    if description:
        operation["description"] = description
    return operation


def _ok(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": _json(_ref(schema))}


def _path(section: str, **operations: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return f"/api/projects/{{projectId}}/{section}", {"parameters": [_param("ProjectId")], **operations}


TRACKING_PATHS: dict[str, Any] = dict([
    _path("stats/summary", get=_get(
        "Headline figures with the previous period", "statsSummary", _ok("The figures.", "AnalyticsSummary"),
        _COMMON, description=ACCURACY)),
    _path("stats/timeseries", get=_get(
        "One metric over time", "statsTimeseries", _ok("Zero-filled buckets.", "AnalyticsTimeseries"),
        [*_COMMON,
         _query("metric", "What to count: `sessions` counts sessions by their start.",
                {"type": "string", "enum": ["events", "pageviews", "visitors", "sessions"], "default": "events"}),
         _query("interval", "Bucket size in `tz`. Hour buckets follow DST: a spring-forward day has 23, a "
                            "fall-back day 25. At most 2000 buckets (else 400).",
                {"type": "string", "enum": ["minute", "hour", "day", "week", "month"], "default": "day"})],
        description=ACCURACY)),
    _path("stats/breakdown", get=_get(
        "Visitors and events per value of a dimension", "statsBreakdown",
        _ok("One page of rows.", "AnalyticsBreakdown"),
        [*_PAGED, _query("by", "`page` is the URL path of page views; `entryPage`/`exitPage` count sessions (then "
                               "`events` is the number of sessions); `referrer` is the referring host and "
                               "`source` the UTM source, else the referring host (null: direct); `library` the "
                               "sending library, `appVersion` the app's version, `locale` the language tag "
                               "(en-US), `screen` the screen size class (mobile, tablet, laptop, desktop). "
                               "Sorted by "
                               "visitors descending, then value (by code point, null first).",
                         {"type": "string", "examples": [*BREAKDOWN_DIMENSIONS, "prop:plan", "context:app.version"]},
                         required=True)],
        description=ACCURACY + " Rollups keep the dimensions event, page, referrer, source, utm*, browser, os, "
                               "device, library, appVersion, locale and screen; the others are always counted "
                               "from the stored events.")),
    _path("funnels", post={
        "tags": [TAG], "summary": "Conversion through ordered steps", "operationId": "funnel", "security": BEARER,
        "description": "A visitor reaches step k when, after an event of step 1, they do steps 2..k in this order "
                       "(each after the previous one; events at the same instant count in the funnel's order) and "
                       "step k within `windowSeconds` of step 1. "
                       "Anonymous ids linked by identify/alias count as the same person.",
        "requestBody": {"required": True, "content": _json(_ref("AnalyticsFunnelRequest"), {
            "steps": [{"event": "Viewed Pricing"}, {"event": "Started Signup"}, {"event": "Signed Up"}],
            "windowSeconds": 86400, "from": "2026-01-01", "to": "2026-01-31", "tz": "Europe/Berlin"})},
        "responses": {"200": _ok("Per-step figures.", "AnalyticsFunnel"), "400": _error("BadRequest"),
                      "401": _error("Unauthorized"), "404": _error("NotFound"),
                      "413": _error("PayloadTooLarge"), "503": _error("Unavailable")},
    }),
    _path("retention", get=_get(
        "Cohort retention triangle", "retention", _ok("One cohort per period of the range.", "AnalyticsRetention"),
        [*_COMMON,
         _query("period", "Cohort and return period.", {"type": "string", "enum": ["day", "week", "month"],
                                                          "default": "week"}),
         _query("periods", "Return periods per cohort (1 to 100).", {"type": "integer", "minimum": 1,
                                                                       "maximum": 100, "default": 8}),
         _query("startEvent", "Event that puts a visitor in a cohort (default: any).", {"type": "string"}),
         _query("event", "Event that counts as returning (default: any).", {"type": "string"})],
        description="A visitor's cohort is the period of their first start event ever (so only visitors first "
                    "seen in the range form cohorts). Returns count up to `to`. Default range: the last "
                    "`periods` periods.")),
    _path("sessions", get=_get(
        "Sessions, newest first", "listSessions", _ok("One page of sessions.", "AnalyticsSessions"), _PAGED,
        description="A session is all events with the same SDK sessionId; without one, a visitor's events with "
                    "gaps of at most 30 minutes.")),
    _path("realtime", get=_get(
        "Visitors in the last 5 minutes and the latest events", "realtime",
        _ok("Live figures.", "AnalyticsRealtime"),
        [_param("AnalyticsFilters"), _query("limit", "Latest events to return (1 to 100).",
                                            {"type": "integer", "minimum": 1, "maximum": 100, "default": 20})])),
    _path("realtime/stream", get=_get(
        "Live stream of incoming events (Server-Sent Events)", "realtimeStream",
        {"description": "`text/event-stream`: one `event: event` message per stored event (data: the event JSON), "
                        "`: keep-alive` comments when idle, and `event: end` after 10 minutes (reconnect).",
         "content": {"text/event-stream": {"schema": {"type": "string"}}}},
        [_param("AnalyticsFilters")], stream=True)),
    _path("events", get=_get(
        "Event explorer, newest first", "listEvents", _ok("One page of events.", "AnalyticsEventPage"), _PAGED,
        description="Every stored event (all types, bots included unless filtered). Pages are keyset-paginated on "
                    "(event time, messageId): walking them never repeats an event and never skips one that was "
                    "stored when the walk began; an event stored meanwhile shows up later in the walk when it is "
                    "older than the cursor (late or imported events) and not at all when it is newer.")),
    _path("events/export", get=_get(
        "Export events (CSV or NDJSON), oldest first", "exportEvents",
        {"description": "A streamed download of every matching event.",
         "content": {"text/csv": {"schema": {"type": "string"}},
                     "application/x-ndjson": {"schema": {"type": "string"}}}},
        [*_COMMON, _query("format", "File format.", {"type": "string", "enum": ["csv", "ndjson"], "default": "csv"})],
        stream=True)),
    _path("persons/{visitorId}", get=_get(
        "One person: ids, traits and events", "getPerson", _ok("The person.", "AnalyticsPerson"),
        [{"name": "visitorId", "in": "path", "required": True, "schema": {"type": "string"}, "example": "u-1",
          "description": "A userId or anonymousId; aliases resolve to the same person."},
         _param("AnalyticsFrom"), _param("AnalyticsTo"), _param("AnalyticsTz"), _param("AnalyticsFilters"),
         _param("AnalyticsLimit"), _param("AnalyticsCursor")],
        description="Events of all time unless `from`/`to` are given, newest first.")),
])
