"""Gateway settings (`TME_*` environment variables)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from services.shared.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
    port: int = Field(default=8000, description="Port to listen on")

    # upstream services (internal network only)
    users_url: str = Field(default="http://127.0.0.1:8001", description="Base URL of the users service")
    tracking_url: str = Field(default="http://127.0.0.1:8002", description="Base URL of the tracking service")
    upstream_timeout_seconds: float = Field(default=30.0, gt=0, description="Read/write timeout for upstream calls")
    upstream_connect_timeout_seconds: float = Field(default=3.0, gt=0, description="Connect timeout for upstreams")
    upstream_max_connections: int = Field(default=200, ge=1, description="Pooled connections per upstream")
    upstream_stream_timeout_seconds: float = Field(
        default=3600.0, gt=0, description="Read timeout for event streams (text/event-stream), between chunks"
    )

    # authentication cache: how long a verified token / project owner is trusted without asking users
    auth_cache_ttl_seconds: float = Field(default=5.0, ge=0, description="0 disables the cache")
    auth_cache_max_entries: int = Field(default=10_000, ge=1, description="Verified tokens kept in memory")
    auth_timeout_seconds: float = Field(default=5.0, gt=0, description="Timeout for token/ownership checks")

    # long-lived answers (realtime event streams, exports): their own upstream pool, capped per user and project
    stream_max_connections: int = Field(
        default=100, ge=1, description="Upstream connections for event streams and exports (their own pool)")
    stream_max_per_user: int = Field(
        default=10, ge=1, description="Event streams and exports one user may hold open per gateway process")
    stream_max_per_project: int = Field(
        default=20, ge=1, description="Event streams and exports open on one project per gateway process")

    # shared dashboards (share.py): public requests, limited per client address in each gateway process
    share_rate_per_address: float = Field(
        default=20.0, ge=0, description="Shared-dashboard requests per second one client address may make through "
                                        "one gateway process (429 beyond; 0: no limit)")
    share_rate_burst: int = Field(
        default=100, ge=1, description="Shared-dashboard requests one client address may make at once above its rate")

    # CORS for the dashboard API; empty = same origin only (no CORS headers at all).
    # Comma-separated list of origins, e.g. "https://dash.example.com,https://admin.example.com".
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Other origins allowed to call the dashboard API, comma-separated")

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value

    # --- ingest ---
    # Fields used by services/gateway/ingest/ are added below by the ingest package's author.
    ingest_max_backlog: int = Field(
        default=100_000, ge=1,
        description="Stream entries (accepted requests) waiting for subscribers above which ingest answers 503 "
                    "(also give Redis a maxmemory with the noeviction policy: a full Redis refuses, and ingest "
                    "answers 503 too)",
    )
    ingest_backlog_check_seconds: float = Field(
        default=0.5, ge=0, description="How long a measured stream length is reused before asking Redis again"
    )
    ingest_retry_after_seconds: int = Field(default=5, ge=1, description="Retry-After sent with a 503")
    ingest_enqueue_timeout_seconds: float = Field(
        default=5.0, gt=0, description="How long a request waits for Redis to take its batch before a 503"
    )
    ingest_ack_wait_aof: bool = Field(
        default=False,
        description="Before a 2xx, also wait for WAITAOF (Redis >= 7.2): the append-only file fsynced on this Redis "
                    "(and on TME_INGEST_ACK_REPLICAS replicas). Only needed when Redis runs appendfsync everysec; "
                    "with always (the default of the chart and tme dev) Redis has fsynced before it answers",
    )
    ingest_ack_replicas: int = Field(
        default=0, ge=0,
        description="Replicas that must hold an accepted request's entry before its 2xx (WAIT, or WAITAOF's "
                    "replica count); not confirmed within the enqueue timeout: 503 (a resend is deduplicated)",
    )
    ingest_max_event_bytes: int = Field(default=32 * 1024, ge=1024, description="Largest event (Segment: 32 KB)")
    ingest_max_batch_bytes: int = Field(default=500 * 1024, ge=1024, description="Largest request body (500 KB)")
    ingest_max_batch_events: int = Field(default=2_500, ge=1, description="Most events in one request")
    ingest_max_future_seconds: float = Field(
        default=86_400, ge=0, description="Event times further ahead than this are replaced by receivedAt"
    )
    ingest_key_cache_ttl_seconds: float = Field(default=60.0, ge=0, description="How long a known write key is kept")
    ingest_key_negative_ttl_seconds: float = Field(default=5.0, ge=0, description="How long an unknown key is kept")
    ingest_key_cache_max_entries: int = Field(default=100_000, ge=1, description="Write keys kept in memory")
    ingest_key_lookup_timeout_seconds: float = Field(default=3.0, gt=0, description="Timeout of a write key lookup")
    ingest_key_shared_ttl_seconds: int = Field(
        default=86_400, ge=1,
        description="How long a write key any gateway resolved stays in Redis for the others to accept while the "
                    "users service or PostgreSQL is down")
    ingest_rate_per_key: float = Field(
        default=10_000, ge=0,
        description="Events per second one write key may send through one gateway process (429 beyond; 0: no limit)")
    ingest_rate_burst: int = Field(
        default=50_000, ge=1, description="Events one write key may send at once above its rate (the bucket's size)")
    ingest_ua_cache_size: int = Field(default=20_000, ge=0, description="Parsed user agents kept in memory (LRU)")
