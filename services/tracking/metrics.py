"""Analytics query latency, per endpoint: `tme_analytics_query_duration_seconds{endpoint}`."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from prometheus_client import Counter, Histogram

QUERY_LATENCY = Histogram(
    "tme_analytics_query_duration_seconds",
    "Time spent answering one analytics request in the database (all its queries)",
    ["endpoint"],
    buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ROLLUP_ANSWERS = Counter(
    "tme_analytics_rollup_answers_total",
    "Analytics requests answered from rollups (source=rollup) or from raw events (source=raw)",
    ["endpoint", "source"],
)
ROLLUP_RUNS = Counter("tme_rollup_runs_total", "Rollup job runs", ["outcome"])
ROLLUP_LAG = Histogram(
    "tme_rollup_run_duration_seconds", "Duration of one rollup job run",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


@contextlib.contextmanager
def timed(endpoint: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        QUERY_LATENCY.labels(endpoint).observe(time.perf_counter() - start)
