"""Subscriber settings (`TME_*` environment variables)."""

from __future__ import annotations

from pydantic import Field

from services.shared.settings import ServiceSettings


class SubscriberSettings(ServiceSettings):
    service_name: str = "subscriber"
    port: int = Field(default=8003, description="Port to listen on")

    consumer_name: str = Field(
        default="", description="Name in the consumer group (TME_CONSUMER_NAME); default <hostname>-<pid>"
    )
    subscriber_read_count: int = Field(
        default=1000, ge=1,
        description="Most stream entries read per XREADGROUP (fewer when entries carry big batches: max_batch_events)",
    )
    subscriber_block_ms: int = Field(default=500, ge=1, description="How long one XREADGROUP waits for entries")
    subscriber_max_batch_events: int = Field(
        default=20_000, ge=100,
        description="Events per transaction (about): fewer entries are read when entries carry big batches",
    )
    subscriber_linger_ms: int = Field(
        default=20, ge=0,
        description="When a read returns fewer entries than read_count, wait this long and top the batch up "
                    "(fewer, larger transactions under load); 0 disables",
    )
    subscriber_claim_idle_ms: int = Field(
        default=30_000, ge=100, description="Entries pending this long at another consumer are reclaimed (XAUTOCLAIM)"
    )
    subscriber_claim_interval_seconds: float = Field(default=5.0, gt=0, description="How often to look for them")
    subscriber_max_deliveries: int = Field(
        default=5, ge=1, description="Deliveries after which an entry the database refuses goes to the dead letters"
    )
    subscriber_retry_delay_seconds: float = Field(
        default=0.5, gt=0, description="First wait before an entry the database refused is tried again (doubles)"
    )
    subscriber_backoff_max_seconds: float = Field(
        default=5.0, gt=0, description="Longest wait between attempts while PostgreSQL or Redis is unreachable"
    )
    subscriber_trim_interval_seconds: float = Field(
        default=1.0, gt=0, description="How often acknowledged entries are trimmed from the stream"
    )
    subscriber_gauge_interval_seconds: float = Field(default=5.0, gt=0, description="Stream gauges refresh period")
    subscriber_partition_months_ahead: int = Field(default=3, ge=1, description="Monthly partitions kept ahead")
    subscriber_partition_check_seconds: float = Field(default=3600.0, gt=0,
                                                      description="How often monthly partitions are ensured")
    subscriber_dedupe_window_hours: float = Field(
        default=168.0, gt=0,
        description="A repeat of a messageId within this long of the first copy is dropped; the ledger keeps "
                    "ids for one to two windows, then forgets them",
    )
    subscriber_dead_letter_maxlen: int = Field(default=100_000, ge=100, description="Dead letters kept (approx.)")
    subscriber_idle_consumer_seconds: float = Field(
        default=3600.0, gt=0, description="Consumers idle this long with nothing pending are removed from the group"
    )
    subscriber_shutdown_seconds: float = Field(
        default=20.0, gt=0, description="On SIGTERM, how long the batch in hand may take to finish"
    )
