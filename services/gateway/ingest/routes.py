"""The ingest endpoints: native (`/api/track`, the seed's `/api/tracking-service/v1/public/events/`)
and Segment's HTTP Tracking API (`/v1/track|page|screen|identify|group|alias|batch|import`).

Every request: backlog bound -> body (size cap, gzip) -> JSON -> write key -> per-event
validation and enrichment -> one stream entry for all accepted events. Invalid events are
reported by index while their valid siblings are accepted:
`200 {"success": true, "accepted": N, "rejected": [{"index": i, "error": {code, message, fields}}]}`.
Whole-request failures use the shared error shape with CORS headers, so browsers can read them.

The endpoints are plain ASGI apps behind Starlette's router and middleware: no Request or
Response objects, the body read straight from `receive`, the headers decoded once. Starlette's
per-request wrappers were ~15 % of the Python time of a single-event request."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from services.gateway.ingest import metrics
from services.gateway.ingest.attribution import header_locale
from services.gateway.ingest.body import Headers, parse_json, read_body, request_headers, write_key
from services.gateway.ingest.enrich import MAX_UA_LENGTH, AgentParser
from services.gateway.ingest.events import RequestInfo
from services.gateway.ingest.fields import Problems, may_nest_deep
from services.gateway.ingest.segment import TYPES
from services.gateway.ingest.shapes import Shape, check_copies, native_request, original_request, segment_request
from services.gateway.state import gateway_state
from services.shared.errors import ApiError, EventTooLarge, PayloadTooLarge, ValidationFailed, error_body
from services.shared.jsonutil import dumps
from services.shared.metrics import buffered

CORS_HEADERS = [(b"access-control-allow-origin", b"*"), (b"access-control-expose-headers", b"Retry-After")]
_JSON = [(b"content-type", b"application/json"), *CORS_HEADERS]
_ALLOWED_HEADERS = "Content-Type, Content-Encoding, Authorization, X-Write-Key"
_MAX_LISTED_FIELDS = 50
Answer = tuple[int, dict[str, Any]]  # status, JSON body


async def _send_json(send: Send, status: int, body: dict[str, Any],
                     extra: list[tuple[bytes, bytes]] | None = None) -> None:
    payload = dumps(body)
    headers = [*_JSON, (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + extra if extra else headers})
    await send({"type": "http.response.body", "body": payload})


async def _preflight(headers: Headers, send: Send) -> None:
    asked = headers.get("access-control-request-headers")
    await send({"type": "http.response.start", "status": 204, "headers": [
        *CORS_HEADERS,
        (b"access-control-allow-methods", b"POST, OPTIONS"),
        (b"access-control-allow-headers", (asked[:1000] if asked else _ALLOWED_HEADERS).encode("latin-1")),
        (b"access-control-max-age", b"86400"),
    ]})
    await send({"type": "http.response.body", "body": b""})


def _problem_error(problems: Problems) -> dict[str, Any]:
    summary = "; ".join(f"{k}: {v}" if k else f"the event {v}" for k, v in problems.items())
    return {"code": problems.code, "message": f"Invalid event ({summary}).", "fields": dict(problems)}


def _too_large_problem(limit: int) -> Problems:
    problems = Problems()
    problems.code = EventTooLarge.code
    problems.add("", f"is larger than {limit // 1024} KB, the limit per event")
    return problems


@dataclass
class ApiCounters:
    """The per-API metric children of the hot path, resolved once (labels() costs a lookup)."""

    api: str
    received: Any
    accepted: Any
    requests_ok: Any
    requests_partial: Any

    @classmethod
    def of(cls, api: str) -> ApiCounters:
        return cls(api, buffered(metrics.EVENTS_RECEIVED.labels(api)), buffered(metrics.EVENTS_ACCEPTED.labels(api)),
                   buffered(metrics.REQUESTS.labels(api, "accepted")),
                   buffered(metrics.REQUESTS.labels(api, "partial")))


async def _ingest(scope: Scope, receive: Receive, headers: Headers, parse: Shape,
                  counters: ApiCounters, headers_are_persons: bool) -> Answer:
    app = scope["app"]
    gateway = gateway_state(app)
    state = gateway.ingest
    settings = state.settings
    received_at = int(time.time() * 1000)
    redis = gateway.redis
    await state.queue.check_backlog(redis)
    body = await read_body(receive, headers, settings.ingest_max_batch_bytes)
    data = parse_json(body)
    key = write_key(headers, data, "writeKey", "apiKey")
    project = await state.keys.resolve(key, gateway.users)
    parsed = parse(data)
    count = len(parsed.events)
    counters.received.inc(count)
    if count > settings.ingest_max_batch_events:
        raise PayloadTooLarge(f"The batch has {count} events; the limit is {settings.ingest_max_batch_events} "
                              "events per request.")
    state.limit.take(project.project_id, count)  # 429 when this write key sends too much (ratelimit.py)
    if not parsed.is_batch and len(body) > settings.ingest_max_event_bytes:
        raise EventTooLarge(f"The event is larger than {settings.ingest_max_event_bytes // 1024} KB, the limit "
                            "per event.")
    language = headers.get("accept-language") if headers_are_persons else None
    # hostile input (issue 17): the agent is cut before it is copied into events; request-level
    # copies count per event and per request (shapes.check_copies); nesting is checked when possible
    agent = headers.get("user-agent", "")[:MAX_UA_LENGTH] if headers_are_persons else None
    check_copies(parsed, len(agent or ""), settings.ingest_max_event_bytes, settings.ingest_max_batch_bytes)
    info = RequestInfo(
        received_at=received_at,
        header_agent=agent or None,
        agents=state.agents,
        max_future_ms=int(settings.ingest_max_future_seconds * 1000),
        has_nul=b"\\u0000" in body,
        locale=header_locale(language) if language else None,
        may_nest_deep=may_nest_deep(body),
    )
    # no event of the body, with the copies it gets, can be larger than the body plus the copies
    measure = parsed.is_batch and len(body) + parsed.copied_bytes > settings.ingest_max_event_bytes
    accepted: list[Any] = []
    rejected: list[dict[str, Any]] = []
    for index, raw in enumerate(parsed.events):
        if measure and len(orjson.dumps(raw)) + parsed.copied_bytes > settings.ingest_max_event_bytes:
            outcome: Any = _too_large_problem(settings.ingest_max_event_bytes)
        else:
            outcome = parsed.normalise(raw, info)
        if isinstance(outcome, Problems):
            error = _problem_error(outcome)
            metrics.EVENTS_REJECTED.labels(error["code"]).inc()
            rejected.append({"index": index, "error": error})
        else:
            accepted.append(outcome)
    if rejected and not accepted:
        return _all_rejected(counters.api, parsed.is_batch, rejected)
    if accepted:
        await state.queue.enqueue(redis, project.project_id, key or "", received_at, accepted)
        counters.accepted.inc(len(accepted))
    (counters.requests_partial if rejected else counters.requests_ok).inc()
    return 200, {"success": True, "accepted": len(accepted), "rejected": rejected}


def _all_rejected(api: str, is_batch: bool, rejected: list[dict[str, Any]]) -> Answer:
    metrics.REQUESTS.labels(api, "rejected").inc()
    if not is_batch:
        error = rejected[0]["error"]
        status = EventTooLarge.status if error["code"] == EventTooLarge.code else ValidationFailed.status
        return status, error_body(error["code"], error["message"], error["fields"])
    fields: dict[str, str] = {}
    for item in rejected[:_MAX_LISTED_FIELDS]:
        for name, message in item["error"]["fields"].items():
            fields[f"batch[{item['index']}]" + (f".{name}" if name else "")] = message
    kind = EventTooLarge if all(item["error"]["code"] == EventTooLarge.code for item in rejected) else ValidationFailed
    body = error_body(kind.code, f"None of the {len(rejected)} events in the batch is valid.", fields)
    body["rejected"] = rejected
    return kind.status, body


class IngestEndpoint:
    """One ingest route's ASGI app (Route's methods let only POST and OPTIONS in). The request's
    User-Agent and Accept-Language are the person's on the native endpoints, which browsers call
    directly, and the sending library's on Segment's API (attribution.py)."""

    def __init__(self, api: str, parse: Shape) -> None:
        self.api = api
        self.parse = parse
        self.headers_are_persons = api == "native"
        self.counters = ApiCounters.of(api)
        self.__name__ = f"ingest_{api}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = request_headers(scope)
        if scope["method"] == "OPTIONS":
            await _preflight(headers, send)
            return
        try:
            status, body = await _ingest(scope, receive, headers, self.parse, self.counters,
                                         self.headers_are_persons)
        except ApiError as exc:
            metrics.REQUESTS.labels(self.api, exc.code).inc()
            metrics.EVENTS_REJECTED.labels(exc.code).inc()
            extra = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in exc.headers.items()]
            await _send_json(send, exc.status, error_body(exc.code, exc.message, exc.fields), extra)
            return
        await _send_json(send, status, body)


def ingest_routes() -> list[BaseRoute]:
    AgentParser.warm_up()
    methods = ["POST", "OPTIONS"]
    native = IngestEndpoint("native", native_request)
    original = IngestEndpoint("native", original_request)
    routes: list[BaseRoute] = [
        Route("/api/track", native, methods=methods),
        Route("/api/tracking-service/v1/public/events/", original, methods=methods),
        Route("/api/tracking-service/v1/public/events", original, methods=methods, include_in_schema=False),
    ]
    for kind in (*TYPES, "batch", "import"):
        routes.append(Route(f"/v1/{kind}", IngestEndpoint("segment", segment_request(kind)), methods=methods))
    return routes
