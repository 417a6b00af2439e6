"""Redis client factory (redis-py asyncio) and key names shared between services.

Commands are packed by hiredis (C) instead of redis-py's asyncio connection, which packs in
Python (the synchronous client already uses hiredis when it is installed): an XADD of one
ingest request cost ~15 us to pack in Python."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import hiredis
import redis.asyncio as aioredis
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

EVENTS_STREAM = "tme:events"
EVENTS_GROUP = "subscribers"
DEAD_LETTER_STREAM = "tme:events:dead"


class _HiredisPacking:
    def pack_command(self, *args: Any) -> list[bytes]:
        first = args[0]
        if isinstance(first, str) and " " in first:  # "CONFIG GET": the words go as separate arguments
            args = (*first.split(), *args[1:])
        elif isinstance(first, bytes) and b" " in first:
            args = (*first.split(), *args[1:])
        return [hiredis.pack_command(args)]


class HiredisConnection(_HiredisPacking, Connection):
    pass


class HiredisSSLConnection(_HiredisPacking, SSLConnection):
    pass


class HiredisUnixConnection(_HiredisPacking, UnixDomainSocketConnection):
    pass


_CONNECTIONS = {"redis": HiredisConnection, "rediss": HiredisSSLConnection, "unix": HiredisUnixConnection}


def create_redis(url: str) -> aioredis.Redis:
    """A client whose pooled connections are health-checked when idle and retried once, on a new
    connection, when they turn out to be dead (Redis restarted): without the retry each worker
    answered one request per stale connection with an error after every Redis restart."""
    pool = aioredis.ConnectionPool.from_url(url, health_check_interval=30, retry=Retry(NoBackoff(), 1),
                                            retry_on_error=[RedisConnectionError])
    pool.connection_class = _CONNECTIONS.get(urlparse(url).scheme, pool.connection_class)
    return aioredis.Redis.from_pool(pool)  # the client owns the pool: aclose() closes its connections
