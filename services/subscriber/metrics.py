"""Prometheus metrics of the subscriber (stream -> PostgreSQL)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

BATCH_EVENTS = Histogram(
    "tme_subscriber_batch_events", "Events written per database transaction",
    buckets=(1, 10, 50, 100, 500, 1000, 5000, 10_000, 25_000, 50_000, 100_000),
)
BATCH_ENTRIES = Histogram(
    "tme_subscriber_batch_entries", "Stream entries handled per database transaction",
    buckets=(1, 2, 5, 10, 25, 50, 100, 200, 500, 1000),
)
INSERT_LATENCY = Histogram(
    "tme_subscriber_insert_duration_seconds", "Time to write one batch (COPY, dedupe, insert, commit)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ROWS_INSERTED = Counter("tme_subscriber_rows_inserted_total", "Event rows committed")
DUPLICATES = Counter("tme_subscriber_duplicates_dropped_total", "Events dropped as already stored (same messageId)")
DELETED_PROJECT_EVENTS = Counter(
    "tme_subscriber_deleted_project_events_total",
    "Events dropped because their project no longer exists (deleted): not stored, not dead-lettered",
)
ENTRIES_ACKED = Counter("tme_subscriber_entries_acked_total", "Stream entries acknowledged after commit")
DEAD_LETTERED = Counter(
    "tme_subscriber_dead_lettered_total", "Stream entries moved to the dead-letter stream", ["reason"]
)
RECLAIMED = Counter("tme_subscriber_reclaimed_total", "Entries reclaimed from other consumers (XAUTOCLAIM)")
RETRIES = Counter("tme_subscriber_retries_total", "Failed attempts that will be retried", ["dependency"])
PERSONS = Counter("tme_subscriber_person_updates_total", "identify/alias updates applied", ["kind"])
TRIMMED = Counter("tme_subscriber_trimmed_entries_total", "Acknowledged entries trimmed from the stream")
# every label value exists from the start, at zero: rates and alerts see the first increment
for _reason in ("unreadable", "refused"):
    DEAD_LETTERED.labels(_reason)
for _dependency in ("postgres", "redis"):
    RETRIES.labels(_dependency)
for _kind in ("identify", "alias"):
    PERSONS.labels(_kind)

STREAM_LENGTH = Gauge("tme_subscriber_stream_length", "Entries in the event stream (XLEN)",
                      multiprocess_mode="livemax")
STREAM_PENDING = Gauge("tme_subscriber_stream_pending", "Entries delivered but not yet acknowledged",
                       multiprocess_mode="livemax")
STREAM_LAG = Gauge("tme_subscriber_stream_lag_entries",
                   "Entries not yet delivered to the group (approx.: XLEN minus pending after trimming)",
                   multiprocess_mode="livemax")
STREAM_LAG_SECONDS = Gauge("tme_subscriber_stream_lag_seconds", "Age of the oldest entry not yet delivered",
                           multiprocess_mode="livemax")
DEAD_LETTER_LENGTH = Gauge("tme_subscriber_dead_letter_length", "Entries in the dead-letter stream",
                           multiprocess_mode="livemax")
