"""Prometheus metrics of the ingest endpoints."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "tme_ingest_requests_total", "Ingest requests by API and outcome", ["api", "outcome"]
)
EVENTS_RECEIVED = Counter("tme_ingest_events_received_total", "Events received by the gateway", ["api"])
EVENTS_ACCEPTED = Counter("tme_ingest_events_accepted_total", "Events validated and enqueued", ["api"])
EVENTS_REJECTED = Counter(
    "tme_ingest_events_rejected_total", "Events (or whole requests, counted once) refused, by reason", ["reason"]
)
ENQUEUE_LATENCY = Histogram(
    "tme_ingest_enqueue_duration_seconds",
    "Time to append one accepted request to the Redis stream",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1),
)
KEY_LOOKUPS = Counter(
    "tme_ingest_write_key_lookups_total", "Write key resolutions by source (cache, users, stale)", ["source"]
)
