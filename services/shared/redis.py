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


def project_write_keys(project_id: int) -> str:
    """The set of a project's shared write-key entries (`tme:wk:<sha256 of a key>`), which the
    gateways keep (services/gateway/ingest/writekeys.py, SharedKeys)."""
    return f"tme:wk-project:{project_id}"


async def delete_project_write_keys(redis: aioredis.Redis, project_id: int) -> int:
    """Delete a project's shared write-key entries and their set (its key was rotated, or it was
    deleted); how many keys went."""
    members = project_write_keys(project_id)
    entries = await redis.smembers(members)
    return int(await redis.delete(members, *entries))


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
