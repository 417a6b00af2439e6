"""Prometheus metrics: a pure ASGI middleware recording request count/latency per route template
(never raw paths: the template of the route Starlette's router matched, read from the scope),
and the `/metrics` endpoint. Multi-process safe when PROMETHEUS_MULTIPROC_DIR is set (several
uvicorn workers; services/shared/serve.py sets it up)."""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

HTTP_REQUESTS = Counter(
    "tme_http_requests_total", "HTTP requests handled", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "tme_http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def _route_template(scope: Scope) -> str:
    """The template of the route that handled the request ("/api/projects/{project_id}"), which
    Starlette's router leaves in the scope; "unmatched" when no route took it (404)."""
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self._record(scope["method"], _route_template(scope), status, time.perf_counter() - start)

    def _record(self, method: str, route: str, status: int, seconds: float) -> None:
        # labels() hashes and looks up the label tuple; the children are kept per combination
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (HTTP_REQUESTS.labels(self.service, method, route, str(status)),
                        HTTP_LATENCY.labels(self.service, method, route))
            if len(self._children) < 10_000:  # bounded: methods x route templates x statuses
                self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


def metrics_payload() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()


async def metrics_endpoint(request: Request) -> Response:
    return Response(metrics_payload(), media_type=CONTENT_TYPE_LATEST)
