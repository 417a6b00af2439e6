"""Gateway: the only public service. Routes the dashboard API to users/tracking (verifying
tokens and project ownership for analytics), receives events (ingest package), and serves the
API description at /api/openapi.json and /api/docs."""

from __future__ import annotations

import contextlib
import logging

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from services.gateway.auth import Authenticator
from services.gateway.broadcast import gateway_broadcast
from services.gateway.cors import DashboardCORS
from services.gateway.docs import api_docs
from services.gateway.ingest import ingest_routes
from services.gateway.ingest.state import open_ingest
from services.gateway.openapi import openapi_json
from services.gateway.routes import proxy_routes
from services.gateway.settings import GatewaySettings
from services.gateway.share_views import ShareViews
from services.gateway.state import GatewayState
from services.gateway.streams import StreamSlots
from services.gateway.web import web_routes
from services.shared.app import create_service_app
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


async def open_state(stack: contextlib.AsyncExitStack, settings: GatewaySettings) -> GatewayState:
    """The gateway's clients, caches and invalidation listener, entered into `stack` (closed in
    reverse on exit)."""
    redis = create_redis(settings.redis_url)
    stack.push_async_callback(redis.aclose)
    users = upstream_client(settings.users_url, settings, "users")
    stack.push_async_callback(users.aclose)
    tracking = upstream_client(settings.tracking_url, settings, "tracking")
    stack.push_async_callback(tracking.aclose)
    ingest = open_ingest(settings, redis)
    stack.callback(ingest.queue.close)
    # realtime streams and exports: a pool of their own, so they cannot starve other questions (streams.py)
    streams = upstream_client(settings.tracking_url, settings, "tracking",
                              max_connections=settings.stream_max_connections)
    stack.push_async_callback(streams.aclose)
    auth = Authenticator(users, settings)
    shares = ShareViews(users, settings)
    broadcast = gateway_broadcast(redis, auth, ingest.keys, shares)  # revocations reach every gateway process at once
    stack.push_async_callback(broadcast.close)
    await stack.enter_async_context(broadcast.listening(settings.service_name))
    return GatewayState(
        settings=settings, redis=redis, users=users, tracking=tracking, streams=streams,
        stream_slots=StreamSlots(per_user=settings.stream_max_per_user, per_project=settings.stream_max_per_project),
        auth=auth, ingest=ingest, broadcast=broadcast, shares=shares,
    )


def create_app(settings: GatewaySettings | None = None) -> Starlette:
    settings = settings or GatewaySettings()
    settings.require("redis_url", "users_url", "tracking_url", "internal_token")
    config = settings

    async def build(stack: contextlib.AsyncExitStack) -> GatewayState:
        return await open_state(stack, config)

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
        build=build,
        middleware=[Middleware(DashboardCORS, origins=settings.cors_origins)],
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per upstream call is noise
    return app
