"""Gateway: the only public service. Routes the dashboard API to users/tracking (verifying
tokens and project ownership for analytics), receives events (ingest package), and serves the
API description at /api/openapi.json and /api/docs."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from services.gateway.auth import Authenticator
from services.gateway.broadcast import gateway_broadcast
from services.gateway.cors import DashboardCORS
from services.gateway.docs import api_docs
from services.gateway.ingest import ingest_routes
from services.gateway.openapi import openapi_json
from services.gateway.routes import proxy_routes
from services.gateway.settings import GatewaySettings
from services.gateway.web import web_routes
from services.shared.app import create_service_app, redis_check
from services.shared.internal_auth import internal_headers
from services.shared.redis import create_redis
from services.shared.tracing_http import traced_transport


def upstream_client(base_url: str, settings: GatewaySettings, peer: str,
                    max_connections: int | None = None) -> httpx.AsyncClient:
    """A pooled client for one internal service, every call carrying the internal token
    (services/shared/internal_auth.py). trust_env=False: internal calls never go through an
    HTTP(S)_PROXY from the environment. With tracing on, each call carries the trace context
    (traceparent header) under a client span."""
    size = max_connections or settings.upstream_max_connections
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=min(50, size), keepalive_expiry=30)
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(settings.upstream_timeout_seconds, connect=settings.upstream_connect_timeout_seconds),
        limits=limits,
        transport=traced_transport(peer, limits),
        follow_redirects=False,
        trust_env=False,
        headers=internal_headers(settings.internal_token),
    )


async def _healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", timeout=2.0)
    response.raise_for_status()


async def users_check(app: Starlette) -> None:
    await _healthz(app.state.users)


async def tracking_check(app: Starlette) -> None:
    await _healthz(app.state.tracking)


def create_app(settings: GatewaySettings | None = None) -> Starlette:
    settings = settings or GatewaySettings()
    settings.require("redis_url", "users_url", "tracking_url", "internal_token")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.redis = create_redis(settings.redis_url)
        app.state.users = upstream_client(settings.users_url, settings, "users")
        app.state.tracking = upstream_client(settings.tracking_url, settings, "tracking")
        app.state.auth = Authenticator(app.state.users, settings)
        # realtime streams and exports: a pool of their own, so they cannot starve other questions (streams.py)
        app.state.streams = upstream_client(settings.tracking_url, settings, "tracking",
                                            max_connections=settings.stream_max_connections)
        app.state.broadcast = gateway_broadcast(app)  # revocations reach every gateway process at once
        app.state.broadcast.start()
        try:
            yield
        finally:
            await app.state.broadcast.stop()
            await app.state.streams.aclose()
            ingest = getattr(app.state, "ingest", None)
            if ingest is not None:
                ingest.queue.close()
            await app.state.tracking.aclose()
            await app.state.users.aclose()
            await app.state.redis.aclose()

    routes = [
        Route("/api/openapi.json", openapi_json, methods=["GET"], include_in_schema=False),
        Route("/api/docs", api_docs, methods=["GET"], include_in_schema=False),
        *proxy_routes(),
        *web_routes(),  # last: the dashboard's catch-all
    ]
    app = create_service_app(
        settings=settings,
        routes=routes,
        hot_routes=ingest_routes(),
        lifespan=lifespan,
        ready_checks={"redis": redis_check, "users": users_check, "tracking": tracking_check},
        middleware=[Middleware(DashboardCORS, origins=settings.cors_origins)],
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per upstream call is noise
    return app
