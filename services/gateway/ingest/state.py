"""Per-app ingest state (write-key cache, queue, user-agent parser, per-key rate limit), built in
the gateway's lifespan from its settings (services/gateway/app.py) and kept in its state."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
from starlette.applications import Starlette

from services.gateway.ingest.enrich import AgentParser
from services.gateway.ingest.queue import EventQueue
from services.gateway.ingest.ratelimit import IngestRateLimit
from services.gateway.ingest.writekeys import SharedKeys, WriteKeyResolver
from services.gateway.settings import GatewaySettings
from services.gateway.state import gateway_state


@dataclass
class IngestState:
    settings: GatewaySettings
    keys: WriteKeyResolver
    queue: EventQueue
    agents: AgentParser
    limit: IngestRateLimit


def open_ingest(settings: GatewaySettings, redis: aioredis.Redis) -> IngestState:
    return IngestState(
        settings=settings,
        keys=WriteKeyResolver(
            ttl=settings.ingest_key_cache_ttl_seconds,
            negative_ttl=settings.ingest_key_negative_ttl_seconds,
            max_entries=settings.ingest_key_cache_max_entries,
            timeout=settings.ingest_key_lookup_timeout_seconds,
            retry_after=settings.ingest_retry_after_seconds,
            shared=SharedKeys(redis, settings.ingest_key_shared_ttl_seconds),
        ),
        queue=EventQueue(
            max_backlog=settings.ingest_max_backlog,
            check_interval=settings.ingest_backlog_check_seconds,
            retry_after=settings.ingest_retry_after_seconds,
            timeout=settings.ingest_enqueue_timeout_seconds,
            wait_aof=settings.ingest_ack_wait_aof,
            replicas=settings.ingest_ack_replicas,
        ),
        agents=AgentParser(settings.ingest_ua_cache_size),
        limit=IngestRateLimit(rate=settings.ingest_rate_per_key, burst=settings.ingest_rate_burst,
                              max_keys=settings.ingest_key_cache_max_entries),
    )


def ingest_state(app: Starlette) -> IngestState:
    return gateway_state(app).ingest
