"""Buffered hot-path metrics (services/shared/metrics.py) end up exactly where direct updates
would: the same buckets, sum and count, visible once flushed and in every /metrics answer."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from services.shared.metrics import buffered, flush_metrics

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.1, 1)


def _samples(registry: CollectorRegistry, prefix: str) -> list[str]:
    return [line.split(prefix, 1)[1] for line in generate_latest(registry).decode().splitlines()
            if line.startswith(prefix) and "_created" not in line]


def test_buffered_histogram_and_counter_match_direct_updates() -> None:
    direct_registry, buffered_registry = CollectorRegistry(), CollectorRegistry()
    direct = Histogram("tme_t_seconds", "t", ["route"], buckets=BUCKETS, registry=direct_registry).labels("/a")
    held = buffered(Histogram("tme_t_seconds", "t", ["route"], buckets=BUCKETS,
                              registry=buffered_registry).labels("/a"))
    direct_count = Counter("tme_c_total", "c", registry=direct_registry)
    held_count = buffered(Counter("tme_c_total", "c", registry=buffered_registry))
    rnd = random.Random(3)
    values = [*BUCKETS, 0.0, 5.0, *(rnd.expovariate(200) for _ in range(500))]  # bounds themselves too
    for value in values:
        direct.observe(value)
        held.observe(value)
        direct_count.inc(2)
        held_count.inc(2)
    assert "} 0.0" in "".join(_samples(buffered_registry, "tme_t_seconds_count"))  # not flushed yet
    flush_metrics()
    assert _samples(buffered_registry, "tme_") == _samples(direct_registry, "tme_")
    flush_metrics()  # nothing new: nothing added twice
    assert _samples(buffered_registry, "tme_") == _samples(direct_registry, "tme_")
