"""Prometheus metrics: a pure ASGI middleware recording request count/latency per route template
(never raw paths: the template of the route Starlette's router matched, read from the scope),
and the `/metrics` endpoint. Multi-process safe when PROMETHEUS_MULTIPROC_DIR is set (several
uvicorn workers; services/shared/serve.py sets it up).

Hot-path updates are buffered (`buffered()`): a request adds to plain numbers in its process,
and `flush_metrics()` writes them to the metric values every FLUSH_SECONDS (a background loop of
every service: shared/app.py), before each `/metrics` answer and at shutdown. In multi-process
mode each write to a value takes a lock, a pid check and an mmap write, which per request would
be a sizeable share of the gateway's ingest path (docs/benchmarks.md). Another worker's counts
reach a scrape up to FLUSH_SECONDS late; a process killed with -9 loses at most that much of its counts."""

from __future__ import annotations

import os
import time
from bisect import bisect_left
from typing import Any, Protocol

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


FLUSH_SECONDS = 1.0


class _Buffer(Protocol):
    def flush(self) -> None: ...


_BUFFERS: list[_Buffer] = []


class BufferedCounter:
    """A counter child's increments, kept in the process until the next flush."""

    __slots__ = ("_child", "_pending")

    def __init__(self, child: Any) -> None:
        self._child = child
        self._pending = 0.0
        _BUFFERS.append(self)

    def inc(self, amount: float = 1) -> None:
        self._pending += amount

    def flush(self) -> None:
        pending, self._pending = self._pending, 0.0
        if pending:
            self._child.inc(pending)


class BufferedHistogram:
    """A histogram child's observations as bucket counts and a sum until the next flush. It adds
    them to the child's own bucket and sum values (what Histogram.observe does one at a time)."""

    __slots__ = ("_bounds", "_child", "_counts", "_seen", "_sum")

    def __init__(self, child: Any) -> None:
        self._child = child
        self._bounds = list(child._upper_bounds)
        self._counts = [0] * len(self._bounds)
        self._sum = 0.0
        self._seen = False
        _BUFFERS.append(self)

    def observe(self, value: float) -> None:
        self._counts[bisect_left(self._bounds, value)] += 1  # the first bucket whose bound >= value
        self._sum += value
        self._seen = True

    def flush(self) -> None:
        if not self._seen:
            return
        counts, self._counts = self._counts, [0] * len(self._bounds)
        total, self._sum = self._sum, 0.0
        self._seen = False
        self._child._sum.inc(total)
        for bucket, count in zip(self._child._buckets, counts, strict=True):
            if count:
                bucket.inc(count)


def buffered(child: Any) -> Any:
    """A buffered stand-in for a counter or histogram child (its `inc` or `observe`); the child
    itself if this prometheus_client's histogram keeps its values elsewhere."""
    if hasattr(child, "observe"):
        if all(hasattr(child, name) for name in ("_upper_bounds", "_buckets", "_sum")):
            return BufferedHistogram(child)
        return child
    return BufferedCounter(child)


def flush_metrics() -> None:
    for buffer in _BUFFERS:
        buffer.flush()


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
                children = (buffered(children[0]), buffered(children[1]))
                self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


def metrics_payload() -> bytes:
    flush_metrics()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()


async def metrics_endpoint(request: Request) -> Response:
    return Response(metrics_payload(), media_type=CONTENT_TYPE_LATEST)
