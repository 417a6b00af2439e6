"""Assemble a service's Starlette app the same way everywhere: logging, tracing, error
handlers, request metrics, the `/healthz`, `/readyz`, `/metrics` endpoints, and one lifespan.

The lifespan opens everything inside one `contextlib.AsyncExitStack`: the metrics flush, then
the service's own `build`, which enters its resources and background loops (background.py) into
the stack in order and returns the service's typed state (a dataclass per service, e.g.
UsersState), then the dependency monitor. On shutdown, and also when start-up fails halfway,
the stack closes what was opened, in reverse. The state is kept on `app.state` in one attribute
and read through `state_of` (each service wraps it in a typed accessor, e.g. `users_state`); its
`probes()` say what `/readyz` and the monitor check (probes.py)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from services.shared.background import BackgroundLoop
from services.shared.errors import exception_handlers
from services.shared.internal_auth import InternalCallsOnly
from services.shared.jsonutil import JSONResponse
from services.shared.logging import configure_logging
from services.shared.metrics import FLUSH_SECONDS, MetricsMiddleware, flush_metrics, metrics_endpoint
from services.shared.monitor import monitoring
from services.shared.probes import Probes
from services.shared.settings import ServiceSettings
from services.shared.tracing import configure_tracing, tracing_enabled
from services.shared.tracing_http import TracingMiddleware

READY_TIMEOUT_SECONDS = 2.0


class ServiceState(Protocol):
    """What a service's lifespan builds and keeps for its lifetime."""

    def probes(self) -> Probes: ...


S = TypeVar("S", bound=ServiceState)
Build = Callable[[contextlib.AsyncExitStack], Awaitable[ServiceState]]


def state_of(app: Starlette, kind: type[S]) -> S:
    """The state the app's lifespan built, as the service's own type."""
    state = app.state.service
    if not isinstance(state, kind):
        raise TypeError(f"the app's state is a {type(state).__name__}, not a {kind.__name__}")
    return state


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    state: ServiceState = request.app.state.service
    results: dict[str, str] = {}
    ok = True
    for name, check in state.probes().checks.items():
        try:
            await asyncio.wait_for(check(), timeout=READY_TIMEOUT_SECONDS)
            results[name] = "ok"
        except Exception as exc:  # a failing dependency is reported, not raised
            ok = False
            results[name] = f"unavailable: {type(exc).__name__}"
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": results},
                        status_code=200 if ok else 503)


async def _flush() -> None:
    flush_metrics()


def _freeze_startup_objects() -> None:
    """Move everything alive after start-up (modules, regexes, settings, pools: ~80k objects in
    the gateway) out of the garbage collector's sight: a full collection over them is a pause that
    every request in flight waits out, which showed in the p99 of single-event requests
    (docs/benchmarks.md). Collected first, so no start-up garbage is kept for good."""
    gc.collect()
    gc.freeze()


def create_service_app(
    *,
    settings: ServiceSettings,
    routes: Sequence[BaseRoute],
    build: Build,
    middleware: Sequence[Middleware] = (),
    hot_routes: Sequence[BaseRoute] = (),
    internal_only: bool = False,
) -> Starlette:
    """`build` opens the service's resources and loops into the exit stack it is given and
    returns its state. `hot_routes` are matched first (the gateway's ingest endpoints: every
    route tried before the one that matches costs a regex match per request), then /healthz,
    /readyz, /metrics, then `routes` (which may end in a catch-all). `internal_only` services
    answer only requests that carry the internal token (internal_auth.py)."""
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    configure_tracing(settings.service_name)
    service = settings.service_name

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            # first in, last out: the final flush comes after everything else has stopped
            stack.callback(flush_metrics)
            await stack.enter_async_context(BackgroundLoop(service, "metrics-flush", _flush, interval=FLUSH_SECONDS))
            state = await build(stack)
            app.state.service = state
            await stack.enter_async_context(monitoring(service, state.probes(), settings.monitor_interval_seconds))
            _freeze_startup_objects()
            yield

    base_routes: list[BaseRoute] = [
        Route("/healthz", healthz, include_in_schema=False),
        Route("/readyz", readyz, include_in_schema=False),
    ]
    if not settings.metrics_port:  # else on its own port (metrics_server.py)
        base_routes.append(Route("/metrics", metrics_endpoint, include_in_schema=False))
    return Starlette(
        routes=[*hot_routes, *base_routes, *routes],
        lifespan=lifespan,
        exception_handlers=exception_handlers,
        middleware=[
            Middleware(MetricsMiddleware, service=service),
            *([Middleware(InternalCallsOnly, token=settings.internal_token)] if internal_only else []),
            *([Middleware(TracingMiddleware, service=service)] if tracing_enabled() else []),
            *middleware,
        ],
    )
