"""The ingest endpoints: native (`/api/track`, the seed's `/api/tracking-service/v1/public/events/`)
and Segment's HTTP Tracking API (`/v1/track|page|screen|identify|group|alias|batch|import`).

Every request: backlog bound -> body (size cap, gzip) -> JSON -> write key -> per-event
validation and enrichment -> one stream entry for all accepted events. Invalid events are
reported by index while their valid siblings are accepted:
`200 {"success": true, "accepted": N, "rejected": [{"index": i, "error": {code, message, fields}}]}`.
Whole-request failures use the shared error shape with CORS headers, so browsers can read them."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from services.gateway.ingest import metrics
from services.gateway.ingest.body import parse_json, read_body, write_key
from services.gateway.ingest.enrich import AgentParser
from services.gateway.ingest.events import RequestInfo
from services.gateway.ingest.fields import Problems
from services.gateway.ingest.segment import TYPES
from services.gateway.ingest.shapes import Shape, native_request, segment_request
from services.gateway.ingest.state import ingest_state
from services.shared.errors import ApiError, error_body
from services.shared.jsonutil import JSONResponse
from services.shared.metrics import buffered

CORS_HEADERS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Retry-After"}
_ALLOWED_HEADERS = "Content-Type, Content-Encoding, Authorization, X-Write-Key"
_MAX_LISTED_FIELDS = 50


def preflight(request: Request) -> Response:
    asked = request.headers.get("access-control-request-headers")
    return Response(status_code=204, headers={
        **CORS_HEADERS,
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": asked[:1000] if asked else _ALLOWED_HEADERS,
        "Access-Control-Max-Age": "86400",
    })


def _problem_error(problems: Problems) -> dict[str, Any]:
    summary = "; ".join(f"{k}: {v}" if k else f"the event {v}" for k, v in problems.items())
    return {"code": problems.code, "message": f"Invalid event ({summary}).", "fields": dict(problems)}


def _too_large_problem(limit: int) -> Problems:
    problems = Problems()
    problems.code = "event_too_large"
    problems.add("", f"is larger than {limit // 1024} KB, the limit per event")
    return problems


@dataclass
class ApiCounters:
    """The per-API metric children of the hot path, resolved once (labels() costs a lookup)."""

    received: Any
    accepted: Any
    requests_ok: Any
    requests_partial: Any

    @classmethod
    def of(cls, api: str) -> ApiCounters:
        return cls(buffered(metrics.EVENTS_RECEIVED.labels(api)), buffered(metrics.EVENTS_ACCEPTED.labels(api)),
                   buffered(metrics.REQUESTS.labels(api, "accepted")),
                   buffered(metrics.REQUESTS.labels(api, "partial")))


async def _ingest(request: Request, api: str, parse: Shape,
                  counters: ApiCounters) -> Response:
    state = ingest_state(request.app)
    settings = state.settings
    received_at = int(time.time() * 1000)
    redis = request.app.state.redis
    await state.queue.check_backlog(redis)
    body = await read_body(request, settings.ingest_max_batch_bytes)
    data = parse_json(body)
    key = write_key(request, data, "writeKey", "apiKey")
    project = await state.keys.resolve(key, request.app.state.users)
    parsed = parse(data)
    count = len(parsed.events)
    counters.received.inc(count)
    if count > settings.ingest_max_batch_events:
        raise ApiError(413, f"The batch has {count} events; the limit is {settings.ingest_max_batch_events} "
                            "events per request.", code="payload_too_large")
    if not parsed.is_batch and len(body) > settings.ingest_max_event_bytes:
        raise ApiError(413, f"The event is larger than {settings.ingest_max_event_bytes // 1024} KB, the limit "
                            "per event.", code="event_too_large")
    info = RequestInfo(
        received_at=received_at,
        user_agent=request.headers.get("user-agent", ""),
        agents=state.agents,
        max_future_ms=int(settings.ingest_max_future_seconds * 1000),
        has_nul=b"\\u0000" in body,
    )
    measure = parsed.is_batch and len(body) > settings.ingest_max_event_bytes
    accepted: list[Any] = []
    rejected: list[dict[str, Any]] = []
    for index, raw in enumerate(parsed.events):
        if measure and len(orjson.dumps(raw)) > settings.ingest_max_event_bytes:
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
        return _all_rejected(api, parsed.is_batch, rejected)
    if accepted:
        await state.queue.enqueue(redis, project.project_id, key or "", received_at, accepted)
        counters.accepted.inc(len(accepted))
    (counters.requests_partial if rejected else counters.requests_ok).inc()
    return JSONResponse({"success": True, "accepted": len(accepted), "rejected": rejected}, headers=CORS_HEADERS)


def _all_rejected(api: str, is_batch: bool, rejected: list[dict[str, Any]]) -> Response:
    metrics.REQUESTS.labels(api, "rejected").inc()
    if not is_batch:
        error = rejected[0]["error"]
        status = 413 if error["code"] == "event_too_large" else 422
        return JSONResponse(error_body(error["code"], error["message"], error["fields"]),
                            status_code=status, headers=CORS_HEADERS)
    fields: dict[str, str] = {}
    for item in rejected[:_MAX_LISTED_FIELDS]:
        for name, message in item["error"]["fields"].items():
            fields[f"batch[{item['index']}]" + (f".{name}" if name else "")] = message
    too_large = all(item["error"]["code"] == "event_too_large" for item in rejected)
    code = "event_too_large" if too_large else "validation_error"
    body = error_body(code, f"None of the {len(rejected)} events in the batch is valid.", fields)
    body["rejected"] = rejected
    return JSONResponse(body, status_code=413 if too_large else 422, headers=CORS_HEADERS)


Endpoint = Callable[[Request], Awaitable[Response]]


def _endpoint(api: str, parse: Shape) -> Endpoint:
    counters = ApiCounters.of(api)

    async def endpoint(request: Request) -> Response:
        if request.method == "OPTIONS":
            return preflight(request)
        try:
            return await _ingest(request, api, parse, counters)
        except ApiError as exc:
            metrics.REQUESTS.labels(api, exc.code).inc()
            metrics.EVENTS_REJECTED.labels(exc.code).inc()
            return JSONResponse(error_body(exc.code, exc.message, exc.fields), status_code=exc.status,
                                headers={**CORS_HEADERS, **exc.headers})

    endpoint.__name__ = f"ingest_{api}"
    return endpoint


def ingest_routes() -> list[BaseRoute]:
    AgentParser.warm_up()
    methods = ["POST", "OPTIONS"]
    native = _endpoint("native", native_request)
    routes: list[BaseRoute] = [
        Route("/api/track", native, methods=methods),
        Route("/api/tracking-service/v1/public/events/", native, methods=methods),
        Route("/api/tracking-service/v1/public/events", native, methods=methods, include_in_schema=False),
    ]
    for kind in (*TYPES, "batch", "import"):
        routes.append(Route(f"/v1/{kind}", _endpoint("segment", segment_request(kind)), methods=methods))
    return routes
