"""Subscriber: consumes the event stream into PostgreSQL. The consumer runs as a background loop
inside the Starlette app's lifespan beside /healthz, /readyz and /metrics; on shutdown (SIGTERM
through uvicorn) it finishes the batch in hand, acknowledges it and stops."""

from __future__ import annotations

import contextlib

from starlette.applications import Starlette

from services.shared.app import create_service_app
from services.shared.background import BackgroundLoop
from services.shared.redis import create_redis
from services.subscriber.consumer import Consumer
from services.subscriber.settings import SubscriberSettings
from services.subscriber.state import SubscriberState
from services.subscriber.writer import EventWriter


async def open_state(stack: contextlib.AsyncExitStack, settings: SubscriberSettings) -> SubscriberState:
    """The service's resources and loop, entered into `stack` (closed in reverse on exit): the
    consumer stops before its writer's connection and its Redis client close."""
    redis = create_redis(settings.redis_url)
    stack.push_async_callback(redis.aclose)
    writer = EventWriter(settings.database_url)
    stack.push_async_callback(writer.close)
    consumer = Consumer(settings, redis, writer)
    # a consumer that does not finish its batch within the grace is cancelled: its unacknowledged
    # entries stay pending and are reclaimed by another consumer (or this one, restarted)
    consuming = await stack.enter_async_context(BackgroundLoop(
        settings.service_name, "consumer", consumer.run, interval=1.0, on_stop=consumer.stop,
        grace=settings.subscriber_shutdown_seconds))
    return SubscriberState(settings=settings, redis=redis, writer=writer, consumer=consumer, consuming=consuming)


def create_app(settings: SubscriberSettings | None = None) -> Starlette:
    settings = settings or SubscriberSettings()
    settings.require("database_url", "redis_url")
    config = settings

    async def build(stack: contextlib.AsyncExitStack) -> SubscriberState:
        return await open_state(stack, config)

    return create_service_app(settings=settings, routes=[], build=build)
