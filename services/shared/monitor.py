"""Dependency and pool metrics, sampled in the background by every service process.

Every `interval` seconds (TME_MONITOR_INTERVAL_SECONDS, first sample at start-up; a background
loop, background.py) a service, from the probes of its state (probes.py):
- runs its PostgreSQL / Redis readiness checks and records `tme_dependency_up` and
  `tme_dependency_check_duration_seconds` (a failed or timed-out check counts as down);
- records its PostgreSQL connections by state (`tme_db_pool_connections`) and their bound
  (`tme_db_pool_max_connections`);
- records Redis memory (`tme_redis_memory_used_bytes`, `tme_redis_maxmemory_bytes`) when it has
  a Redis client: at maxmemory Redis refuses new events (ingest answers 503).

Label sets are bounded (service x dependency, service x state). With several uvicorn workers
(PROMETHEUS_MULTIPROC_DIR) pool gauges add up over the live workers; `up` keeps the worst."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from prometheus_client import Gauge, Histogram
from redis.exceptions import RedisError

from services.shared.background import BackgroundLoop
from services.shared.probes import Probes

log = logging.getLogger("tme.monitor")

DEPENDENCIES = ("postgres", "redis")

DEPENDENCY_UP = Gauge(
    "tme_dependency_up", "1 when the last check of a dependency from this service succeeded, else 0",
    ["service", "dependency"], multiprocess_mode="livemin",
)
DEPENDENCY_CHECK = Histogram(
    "tme_dependency_check_duration_seconds", "Round trip of one dependency check (SELECT 1, PING)",
    ["service", "dependency"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2),
)
POOL_CONNECTIONS = Gauge(
    "tme_db_pool_connections", "Open PostgreSQL pool connections by state (in_use, idle)",
    ["service", "state"], multiprocess_mode="livesum",
)
POOL_MAX = Gauge(
    "tme_db_pool_max_connections", "Most connections the PostgreSQL pool may open",
    ["service"], multiprocess_mode="livesum",
)
REDIS_MEMORY = Gauge(
    "tme_redis_memory_used_bytes", "Memory Redis reports in use (INFO memory used_memory)",
    ["service"], multiprocess_mode="livemax",
)
REDIS_MAXMEMORY = Gauge(
    "tme_redis_maxmemory_bytes", "Redis maxmemory (0: no limit)", ["service"], multiprocess_mode="livemax",
)


class Monitor:
    def __init__(self, service: str, probes: Probes, *, timeout: float = 2.0) -> None:
        self.service = service
        self.probes = probes
        self.checks = {name: check for name, check in probes.checks.items() if name in DEPENDENCIES}
        self.timeout = timeout

    async def sample(self) -> None:
        for name, check in self.checks.items():
            start = time.perf_counter()
            try:
                await asyncio.wait_for(check(), self.timeout)
                up = 1
            except Exception as exc:  # an unreachable dependency is a measurement, not an error here
                up = 0
                log.warning("dependency %s unavailable: %s", name, type(exc).__name__)
            DEPENDENCY_CHECK.labels(self.service, name).observe(time.perf_counter() - start)
            DEPENDENCY_UP.labels(self.service, name).set(up)
        if self.probes.pool is not None:
            in_use, idle, maximum = self.probes.pool()
            POOL_CONNECTIONS.labels(self.service, "in_use").set(in_use)
            POOL_CONNECTIONS.labels(self.service, "idle").set(idle)
            POOL_MAX.labels(self.service).set(maximum)
        redis = self.probes.redis
        if redis is not None and "redis" in self.checks:
            try:
                info = await asyncio.wait_for(redis.info("memory"), self.timeout)
                REDIS_MEMORY.labels(self.service).set(int(info.get("used_memory", 0)))
                REDIS_MAXMEMORY.labels(self.service).set(int(info.get("maxmemory", 0)))
            except (RedisError, OSError, TimeoutError):
                pass


def monitoring(service: str, probes: Probes,
               interval: float) -> contextlib.AbstractAsyncContextManager[BackgroundLoop | None]:
    """The sampler as a background loop beside the app; nothing when the service has no
    PostgreSQL/Redis at all or the interval is 0."""
    monitor = Monitor(service, probes)
    if not monitor.checks or interval <= 0:
        return contextlib.nullcontext()
    return BackgroundLoop(service, "monitor", monitor.sample, interval=interval)
