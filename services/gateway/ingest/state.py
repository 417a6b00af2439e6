"""Per-app ingest state (write-key cache, queue, user-agent parser, per-key rate limit), built on
first use from the gateway settings and kept on `app.state.ingest`."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette

from services.gateway.ingest.enrich import AgentParser
from services.gateway.ingest.queue import EventQueue
from services.gateway.ingest.ratelimit import IngestRateLimit
from services.gateway.ingest.writekeys import SharedKeys, WriteKeyResolver
from services.gateway.settings import GatewaySettings


@dataclass
class IngestState:
    settings: GatewaySettings
    keys: WriteKeyResolver
    queue: EventQueue
    agents: AgentParser
    limit: IngestRateLimit


def ingest_state(app: Starlette) -> IngestState:
    state: IngestState | None = getattr(app.state, "ingest", None)
    if state is None:
        settings: GatewaySettings = app.state.settings
        state = IngestState(
            settings=settings,
            keys=WriteKeyResolver(
                ttl=settings.ingest_key_cache_ttl_seconds,
                negative_ttl=settings.ingest_key_negative_ttl_seconds,
                max_entries=settings.ingest_key_cache_max_entries,
                timeout=settings.ingest_key_lookup_timeout_seconds,
                retry_after=settings.ingest_retry_after_seconds,
                shared=SharedKeys(getattr(app.state, "redis", None), settings.ingest_key_shared_ttl_seconds),
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
        app.state.ingest = state
    return state
