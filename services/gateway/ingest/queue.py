"""Append accepted batches to the Redis stream, one entry per request, and refuse work (503 +
Retry-After) while the backlog is above its bound. The gateway never trims the stream: only the
subscriber trims, and only entries every consumer group has acknowledged.

Appends are pipelined (appender.py): the XADDs of all requests that reach this point in the same
turn of the event loop go to Redis in one write; each request still waits for its own entry id
before answering, so a 2xx always means "in the stream"."""

from __future__ import annotations

import logging
import time

import redis.asyncio as aioredis
from opentelemetry import propagate, trace
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from services.gateway.ingest import metrics
from services.gateway.ingest.appender import AckWait, StreamAppender
from services.shared.errors import ApiError, Overloaded, QueueUnavailable
from services.shared.metrics import buffered
from services.shared.redis import EVENTS_STREAM
from services.shared.stream import StreamEvent, encode_batch
from services.shared.tracing import tracer

log = logging.getLogger("tme.gateway.ingest")
_tracer = tracer("tme.gateway.ingest")

_ENQUEUE_LATENCY = buffered(metrics.ENQUEUE_LATENCY)


class EventQueue:
    def __init__(self, *, max_backlog: int, check_interval: float, retry_after: int, timeout: float,
                 wait_aof: bool = False, replicas: int = 0) -> None:
        """`wait_aof` / `replicas`: a 2xx also waits for WAITAOF / WAIT (appender.AckWait)."""
        self.max_backlog = max_backlog
        self.timeout = timeout
        self.check_interval = check_interval
        self.retry_after = retry_after
        self._length = 0
        self._checked_at = float("-inf")
        self._appender = StreamAppender(EVENTS_STREAM, _ENQUEUE_LATENCY.observe,
                                        AckWait.of(wait_aof, replicas, timeout))
        # a tracer provider is installed at startup or never (configure_tracing); asking for it per
        # request looks the environment up each time
        self._traced = not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)

    def _unavailable(self, message: str, kind: type[ApiError] = QueueUnavailable) -> ApiError:
        return kind(message, headers={"Retry-After": str(self.retry_after)})

    async def check_backlog(self, redis: aioredis.Redis) -> None:
        """503 while the stream holds more than `max_backlog` entries. The length is measured
        at most every `check_interval` seconds (one XLEN shared by all requests meanwhile)."""
        now = time.monotonic()
        if now - self._checked_at >= self.check_interval:
            self._checked_at = now
            try:
                self._length = int(await redis.xlen(EVENTS_STREAM))
            except (RedisError, OSError) as exc:
                self._checked_at = float("-inf")
                log.warning("event queue unavailable: %s", type(exc).__name__)
                raise self._unavailable("The event queue is unavailable; try again shortly.") from None
        if self._length >= self.max_backlog:
            raise self._unavailable("Too many events are waiting to be stored; try again shortly.", Overloaded)

    async def enqueue(
        self, redis: aioredis.Redis, project_id: int, write_key: str, received_at: int, events: list[StreamEvent]
    ) -> None:
        if self._traced or trace.get_current_span().get_span_context().is_valid:
            with _tracer.start_as_current_span("ingest enqueue") as span:
                span.set_attribute("tme.project_id", project_id)
                span.set_attribute("tme.events", len(events))
                carrier: dict[str, str] = {}
                propagate.inject(carrier)  # W3C traceparent travels inside the stream entry
                await self._append(redis, encode_batch(project_id, write_key, received_at, events, carrier))
        else:
            await self._append(redis, encode_batch(project_id, write_key, received_at, events, {}))

    def close(self) -> None:
        self._appender.close()

    async def _append(self, redis: aioredis.Redis, fields: dict[bytes, bytes]) -> None:
        try:
            try:
                await self._appender.append(redis, fields, self.timeout)
            except (RedisConnectionError, ConnectionError):
                # the connection was lost (Redis restarted, say) before this worker noticed: once
                # more on a new one. Should the first XADD have landed after all, the entry is
                # there twice and the subscriber stores its events once (deduplicated by messageId).
                await self._appender.append(redis, fields, self.timeout)
        except (RedisError, OSError, TimeoutError) as exc:
            if str(exc).startswith("OOM"):  # Redis at its maxmemory (noeviction): it refuses, loses nothing
                raise self._unavailable("Too many events are waiting to be stored; try again shortly.",
                                        Overloaded) from None
            log.warning("enqueue failed: %s", type(exc).__name__ if isinstance(exc, OSError) else exc)
            raise self._unavailable("The event queue is unavailable; try again shortly.") from None
        self._length += 1
