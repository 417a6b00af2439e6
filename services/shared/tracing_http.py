"""HTTP spans (used only when tracing is on): a server span per request, continuing the caller's
W3C trace context from its `traceparent` header, and a client transport for httpx that opens a
client span per internal call and sends the context on in the request headers.

Span names and attributes use route templates and peer names, never raw paths, query strings
or header values (which may carry ids or tokens)."""

from __future__ import annotations

from typing import Any

import httpx
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Receive, Scope, Send

from services.shared.metrics import _route_template
from services.shared.tracing import tracing_enabled

_tracer = trace.get_tracer("tme.http")
UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class _AsgiHeaders(Getter[Scope]):
    def get(self, carrier: Scope, key: str) -> list[str] | None:
        wanted = key.lower().encode("latin-1")
        values = [v.decode("latin-1") for k, v in carrier.get("headers", []) if k == wanted]
        return values or None

    def keys(self, carrier: Scope) -> list[str]:
        return [k.decode("latin-1") for k, _ in carrier.get("headers", [])]


_GETTER = _AsgiHeaders()


class TracingMiddleware:
    """One SERVER span per HTTP request, named `METHOD /route/template`."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNTRACED_PATHS:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        status = 500

        async def send_wrapper(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        context = propagate.extract(scope, getter=_GETTER)
        with _tracer.start_as_current_span(method, context=context, kind=SpanKind.SERVER,
                                           attributes={"http.request.method": method}) as span:
            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                route = _route_template(scope)
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))


class TracedTransport(httpx.AsyncBaseTransport):
    """Wraps a transport: each request made while a span is active gets a CLIENT span and the
    W3C `traceparent` (and `tracestate`) headers."""

    def __init__(self, inner: httpx.AsyncBaseTransport, peer: str) -> None:
        self.inner = inner
        self.peer = peer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not trace.get_current_span().get_span_context().is_valid:
            return await self.inner.handle_async_request(request)
        with _tracer.start_as_current_span(f"{request.method} {self.peer}", kind=SpanKind.CLIENT,
                                           attributes={"http.request.method": request.method,
                                                       "server.address": self.peer}) as span:
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            for key, value in carrier.items():
                request.headers[key] = value
            response = await self.inner.handle_async_request(request)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(Status(StatusCode.ERROR))
            return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def traced_transport(peer: str, limits: httpx.Limits) -> httpx.AsyncBaseTransport | None:
    """The transport an internal httpx client should use: None (httpx's default) when tracing
    is off, else a traced one with the same limits (a client ignores `limits` when given a
    transport, so they move here)."""
    if not tracing_enabled():
        return None
    return TracedTransport(httpx.AsyncHTTPTransport(limits=limits, trust_env=False), peer)
