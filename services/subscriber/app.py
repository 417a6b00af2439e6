"""Subscriber: consumes the event stream into PostgreSQL. The consumer loop runs inside the
Starlette app's lifespan beside /healthz, /readyz and /metrics; on shutdown (SIGTERM through
uvicorn) it finishes the batch in hand, acknowledges it and stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette

from services.shared.app import create_service_app, postgres_check, redis_check
from services.shared.db import create_pool
from services.shared.redis import create_redis
from services.subscriber.consumer import Consumer
from services.subscriber.settings import SubscriberSettings
from services.subscriber.writer import EventWriter

log = logging.getLogger("tme.subscriber")


async def consumer_check(app: Starlette) -> None:
    consumer: Consumer = app.state.consumer
    if not consumer.alive:
        raise RuntimeError("consumer loop is not running")


def create_app(settings: SubscriberSettings | None = None) -> Starlette:
    settings = settings or SubscriberSettings()
    settings.require("database_url", "redis_url")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.pool = await create_pool(settings.database_url, min_size=0, max_size=2)
        app.state.redis = create_redis(settings.redis_url)
        writer = EventWriter(settings.database_url)
        consumer = Consumer(settings, app.state.redis, writer)
        app.state.consumer = consumer
        task = asyncio.create_task(consumer.run(), name="tme-consumer")
        try:
            yield
        finally:
            consumer.stop()
            try:
                await asyncio.wait_for(task, timeout=settings.subscriber_shutdown_seconds)
            except TimeoutError:
                log.warning("consumer did not stop in %.0fs; its unacknowledged entries stay pending",
                            settings.subscriber_shutdown_seconds)
            await writer.close()
            await app.state.redis.aclose()
            await app.state.pool.close()

    return create_service_app(
        settings=settings,
        routes=[],
        lifespan=lifespan,
        ready_checks={"postgres": postgres_check, "redis": redis_check, "consumer": consumer_check},
    )
