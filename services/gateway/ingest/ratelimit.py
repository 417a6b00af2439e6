"""Per-write-key ingest rate limit: a token bucket per project in each gateway process, so a
leaked (public) write key cannot flood the stream, the subscribers and PostgreSQL that every
other project shares.

A bucket holds up to `burst` events and refills at `rate` events per second; a request takes
one token per event it carries. A request that finds too few tokens is refused whole with 429,
the shared error shape and `Retry-After` (the seconds until enough tokens are back), and takes
nothing (tme_ingest_requests_total counts it as outcome `rate_limited`). The limit is per
process: a deployment of N gateway processes lets one key through at up to N x rate. Checked in
memory on the hot path (a dict lookup and some arithmetic, no Redis). The shared dashboards
(services/gateway/share.py) use the same buckets, one per client address, counting requests."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable

from services.shared.errors import RateLimited


class IngestRateLimit:
    def __init__(self, *, rate: float, burst: int, max_keys: int,
                 clock: Callable[[], float] = time.monotonic, subject: str = "This write key",
                 unit: str = "events") -> None:
        self.rate = rate  # events per second; 0 turns the limit off
        self.subject = subject  # who the 429's message names, and what it counts
        self.unit = unit
        self.burst = max(burst, 1)
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: dict[Hashable, list[float]] = {}  # project id (or address) -> [tokens, last refill time]

    def take(self, project_id: Hashable, events: int) -> None:
        """Spend `events` tokens of the project's bucket, or raise ApiError 429."""
        if self.rate <= 0:
            return
        now = self._clock()
        bucket = self._buckets.get(project_id)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._forget_full(now)
            bucket = self._buckets[project_id] = [float(self.burst), now]
        else:
            bucket[0] = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
        need = min(events, self.burst)  # a batch larger than the burst costs a full bucket
        if bucket[0] >= need:
            bucket[0] -= need
            return
        wait = max(1, math.ceil((need - bucket[0]) / self.rate))
        raise RateLimited(f"{self.subject} sends more than {self.rate:g} {self.unit} per second (bursts up to "
                          f"{self.burst}); retry in {wait} s.",
                          headers={"Retry-After": str(wait)})

    def _forget_full(self, now: float) -> None:
        """Make room: drop the buckets that have refilled (forgetting them changes nothing), or
        all of them when none has (bounded memory wins over exactness)."""
        full = [pid for pid, (tokens, last) in self._buckets.items()
                if tokens + (now - last) * self.rate >= self.burst]
        for pid in full or list(self._buckets):
            del self._buckets[pid]
