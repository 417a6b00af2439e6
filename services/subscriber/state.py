"""What the subscriber keeps for its lifetime (built in the app lifespan, services/subscriber/app.py),
typed, and what its `/readyz` and dependency monitor check: the writer's PostgreSQL connection,
the Redis client the consumer reads through, and the consumer loop itself."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
from starlette.applications import Starlette

from services.shared.app import state_of
from services.shared.background import BackgroundLoop
from services.shared.probes import Probes
from services.subscriber.consumer import Consumer
from services.subscriber.settings import SubscriberSettings
from services.subscriber.writer import EventWriter


@dataclass
class SubscriberState:
    settings: SubscriberSettings
    redis: aioredis.Redis
    writer: EventWriter
    consumer: Consumer
    consuming: BackgroundLoop  # the loop that runs the consumer

    async def consumer_running(self) -> None:
        if not self.consuming.running:
            raise RuntimeError("consumer loop is not running")

    def probes(self) -> Probes:
        return Probes(checks={"postgres": self.writer.ping, "redis": self.redis.ping,
                              "consumer": self.consumer_running},
                      pool=self.writer.usage, redis=self.redis)


def subscriber_state(app: Starlette) -> SubscriberState:
    return state_of(app, SubscriberState)
