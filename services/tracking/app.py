"""Tracking service: analytics over stored events (stats, funnels, retention, sessions,
realtime, the event explorer, exports and the person view). Never public: the gateway checks
the caller and forwards `/api/projects/{id}/...` here."""

from __future__ import annotations

import contextlib

from starlette.applications import Starlette

from services.lifecycle.retention import retention_loop
from services.lifecycle.runner import data_jobs_loop
from services.shared.app import create_service_app
from services.shared.db import create_pool
from services.shared.redis import create_redis
from services.tracking.rollups.job import rollup_loop
from services.tracking.routes import tracking_routes
from services.tracking.settings import TrackingSettings
from services.tracking.state import TrackingState


async def open_state(stack: contextlib.AsyncExitStack, settings: TrackingSettings) -> TrackingState:
    """The service's resources and loops, entered into `stack` (closed in reverse on exit)."""
    pool = await create_pool(settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
    stack.push_async_callback(pool.close)
    rollups = None
    if settings.rollup_interval_seconds > 0:
        rollups = await stack.enter_async_context(rollup_loop(settings))
    data_jobs = None
    if settings.data_jobs_interval_seconds > 0:
        redis = None
        if settings.redis_url:  # a project's deletion also removes its dead letters and shared keys there
            redis = create_redis(settings.redis_url)
            stack.push_async_callback(redis.aclose)
        data_jobs = await stack.enter_async_context(data_jobs_loop(
            settings.service_name, pool, interval=settings.data_jobs_interval_seconds,
            batch_rows=settings.delete_batch_rows, batch_pause=settings.delete_batch_pause_seconds, redis=redis))
    if settings.retention_interval_seconds > 0:  # the retention of every project, in-process (`tme dev`)
        await stack.enter_async_context(retention_loop(settings))
    return TrackingState(settings=settings, pool=pool, rollups=rollups, data_jobs=data_jobs)


def create_app(settings: TrackingSettings | None = None) -> Starlette:
    settings = settings or TrackingSettings()
    settings.require("database_url", "internal_token")
    config = settings

    async def build(stack: contextlib.AsyncExitStack) -> TrackingState:
        return await open_state(stack, config)

    return create_service_app(settings=settings, routes=tracking_routes(), build=build, internal_only=True)
