"""Tracking service: analytics over stored events (stats, funnels, retention, sessions,
realtime, the event explorer, exports and the person view). Never public: the gateway checks
the caller and forwards `/api/projects/{id}/...` here."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette

from services.shared.app import create_service_app, postgres_check
from services.shared.db import create_pool
from services.tracking.rollups.job import run_periodically
from services.tracking.routes import tracking_routes
from services.tracking.settings import TrackingSettings


def create_app(settings: TrackingSettings | None = None) -> Starlette:
    settings = settings or TrackingSettings()
    settings.require("database_url", "internal_token")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.pool = await create_pool(settings.database_url, min_size=settings.db_pool_min,
                                           max_size=settings.db_pool_max)
        stop, wake = asyncio.Event(), asyncio.Event()
        app.state.rollup_wake = wake  # set by a question that registers a retention matrix
        job = (asyncio.create_task(run_periodically(settings, stop, wake), name="tme-rollups")
               if settings.rollup_interval_seconds > 0 else None)
        try:
            yield
        finally:
            stop.set()
            wake.set()
            if job is not None:  # a run cut short rolls back; the next one redoes it
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(job, timeout=5)
            await app.state.pool.close()

    return create_service_app(settings=settings, routes=tracking_routes(), lifespan=lifespan,
                              ready_checks={"postgres": postgres_check}, internal_only=True)
