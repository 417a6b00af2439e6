"""Append accepted batches to the Redis stream, one entry per request, and refuse work (503 +
Retry-After) while the backlog is above its bound. The gateway never trims the stream: only the
subscriber trims, and only entries every consumer group has acknowledged.

Appends are pipelined: the XADDs of all requests that reach this point in the same turn of the
event loop go to Redis in one round trip; each request still waits for its own entry id before
answering, so a 2xx always means "in the stream"."""

from __future__ import annotations

import asyncio
import logging
import time

import redis.asyncio as aioredis
from opentelemetry import propagate, trace
from redis.exceptions import RedisError

from services.gateway.ingest import metrics
from services.shared.errors import ApiError
from services.shared.metrics import buffered
from services.shared.redis import EVENTS_STREAM
from services.shared.stream import StreamEvent, encode_batch
from services.shared.tracing import tracer

log = logging.getLogger("tme.gateway.ingest")
_tracer = tracer("tme.gateway.ingest")

Fields = dict[bytes, bytes]
_ENQUEUE_LATENCY = buffered(metrics.ENQUEUE_LATENCY)


class _PipelinedAppender:
    """Collects XADDs during one event-loop turn and sends them as one pipeline. One timer per
    pipeline (not one per request) answers its waiters with TimeoutError after `max_wait`."""

    def __init__(self) -> None:
        self._waiting: list[tuple[Fields, asyncio.Future[bytes]]] = []
        self._scheduled = False
        self._flushes: set[asyncio.Future[None]] = set()  # keeps running flushes referenced

    def append(self, redis: aioredis.Redis, fields: Fields, max_wait: float) -> asyncio.Future[bytes]:
        """A future of the entry id. Cancelling it (the client went away) leaves the shared
        pipeline alone."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        self._waiting.append((fields, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush_soon, redis, max_wait)
        return future

    def _flush_soon(self, redis: aioredis.Redis, max_wait: float) -> None:
        self._scheduled = False
        batch, self._waiting = self._waiting, []
        flush = asyncio.ensure_future(self._flush(redis, batch))
        timer = asyncio.get_running_loop().call_later(max_wait, self._expire, batch)
        self._flushes.add(flush)
        flush.add_done_callback(self._flushes.discard)
        flush.add_done_callback(lambda _: timer.cancel())

    @staticmethod
    def _expire(batch: list[tuple[Fields, asyncio.Future[bytes]]]) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(TimeoutError("Redis did not answer in time"))

    @staticmethod
    async def _flush(redis: aioredis.Redis, batch: list[tuple[Fields, asyncio.Future[bytes]]]) -> None:
        start = time.perf_counter()
        try:
            async with redis.pipeline(transaction=False) as pipe:
                for fields, _ in batch:
                    pipe.xadd(EVENTS_STREAM, fields)  # type: ignore[arg-type]
                results = await pipe.execute(raise_on_error=False)
        except BaseException as exc:  # connection lost, cancelled...: every waiter hears about it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc if isinstance(exc, Exception) else RedisError("cancelled"))
            if not isinstance(exc, Exception):
                raise
            return
        elapsed = time.perf_counter() - start
        for (_, future), result in zip(batch, results, strict=True):
            _ENQUEUE_LATENCY.observe(elapsed)
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)


class EventQueue:
    def __init__(self, *, max_backlog: int, check_interval: float, retry_after: int, timeout: float) -> None:
        self.max_backlog = max_backlog
        self.timeout = timeout
        self.check_interval = check_interval
        self.retry_after = retry_after
        self._length = 0
        self._checked_at = float("-inf")
        self._appender = _PipelinedAppender()
        # a tracer provider is installed at startup or never (configure_tracing); asking for it per
        # request looks the environment up each time
        self._traced = not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)

    def _unavailable(self, message: str, code: str = "queue_unavailable") -> ApiError:
        return ApiError(503, message, code=code, headers={"Retry-After": str(self.retry_after)})

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
            raise self._unavailable("Too many events are waiting to be stored; try again shortly.", "overloaded")

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

    async def _append(self, redis: aioredis.Redis, fields: Fields) -> None:
        try:
            await self._appender.append(redis, fields, self.timeout)
        except (RedisError, OSError, TimeoutError) as exc:
            if str(exc).startswith("OOM"):  # Redis at its maxmemory (noeviction): it refuses, loses nothing
                raise self._unavailable("Too many events are waiting to be stored; try again shortly.",
                                        "overloaded") from None
            log.warning("enqueue failed: %s", type(exc).__name__)
            raise self._unavailable("The event queue is unavailable; try again shortly.") from None
        self._length += 1
