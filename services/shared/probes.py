"""What a service's state tells `/readyz` (app.py) and the dependency monitor (monitor.py): checks
of the connections the service really uses, the usage of its PostgreSQL connections, and its
Redis client. Each service's state builds its own (`probes()`), from the clients its requests
and loops go through: no pool or client is kept for the checks alone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import asyncpg
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

Check = Callable[[], Awaitable[object]]
PoolUsage = tuple[int, int, int]  # connections in use, idle, most the service may open


@dataclass(frozen=True)
class Probes:
    checks: Mapping[str, Check]  # /readyz runs every one; the monitor those named postgres and redis
    pool: Callable[[], PoolUsage] | None = None
    redis: aioredis.Redis | None = None


def pool_check(pool: asyncpg.Pool) -> Check:
    async def check() -> None:
        async with pool.acquire() as conn:
            await conn.fetchval("SELECT 1")

    return check


def pool_usage(pool: asyncpg.Pool) -> Callable[[], PoolUsage]:
    def usage() -> PoolUsage:
        idle = pool.get_idle_size()
        return pool.get_size() - idle, idle, pool.get_max_size()

    return usage


def engine_check(engine: AsyncEngine) -> Check:
    async def check() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    return check


def engine_usage(engine: AsyncEngine) -> Callable[[], PoolUsage] | None:
    queue = engine.sync_engine.pool
    if not isinstance(queue, QueuePool):
        return None

    def usage() -> PoolUsage:
        most = queue.size() + max(0, int(getattr(queue, "_max_overflow", 0)))
        return queue.checkedout(), queue.checkedin(), most

    return usage
