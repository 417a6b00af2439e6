"""Redis client factory (redis-py asyncio) and key names shared between services."""

from __future__ import annotations

import redis.asyncio as aioredis

EVENTS_STREAM = "tme:events"
EVENTS_GROUP = "subscribers"
DEAD_LETTER_STREAM = "tme:events:dead"


def create_redis(url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(url, decode_responses=False, health_check_interval=30)
