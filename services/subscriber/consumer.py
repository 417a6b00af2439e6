"""The consumer loop: Redis Stream consumer group -> PostgreSQL, nothing lost, nothing twice.

- XREADGROUP batches (count / block configurable) under a consumer name unique to the process.
- One transaction per batch (see writer.py); XACK only after COMMIT. A redelivered entry is
  harmless: the (project, messageId) ledger drops what is already stored.
- PostgreSQL or Redis unreachable: keep the batch, retry with backoff, acknowledge nothing, and
  keep our pending entries fresh (XCLAIM JUSTID) so that other consumers do not take them over.
- An entry the database refuses (a data error, not an outage) is retried alone; once XPENDING
  counts `max_deliveries` deliveries it moves to the dead-letter stream with the reason and is
  acknowledged. Entries that cannot be decoded go there at once.
- Events of a project that no longer exists (deleted) are not stored (the write keeps only events of
  existing projects, writer.py): their entries are acknowledged and counted
  (`tme_subscriber_deleted_project_events_total`), never dead-lettered, so no copy of a deleted
  project's data stays behind.
- Entries left pending by a dead consumer are reclaimed with XAUTOCLAIM after `claim_idle_ms`.
- Only entries every consumer group has acknowledged are trimmed (XTRIM MINID below the oldest
  pending / last-delivered id of each group).
- stop(): the batch in hand is finished and acknowledged, then run() returns. run() is the step of
  the subscriber's background loop (app.py), which stops it so on shutdown and runs it again,
  after a back-off, if it ever raises."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from opentelemetry import propagate, trace
from redis.exceptions import RedisError, ResponseError
from redis.typing import EncodableT, FieldT, StreamIdT

from services.shared.redis import DEAD_LETTER_STREAM, EVENTS_GROUP, EVENTS_STREAM
from services.shared.stream import StreamBatch, StreamFormatError, decode_batch
from services.shared.tracing import tracer
from services.subscriber import metrics, streams
from services.subscriber.rows import PersonFact, person_facts
from services.subscriber.settings import SubscriberSettings
from services.subscriber.writer import EventWriter

log = logging.getLogger("tme.subscriber")
_tracer = tracer("tme.subscriber")

Entry = tuple[bytes, dict[bytes, bytes] | None]


def _entries(reply: Any) -> list[Entry]:
    """The entries of an XREADGROUP reply (`[[stream, [(id, fields), ...]], ...]`, or None), which
    redis-py types as the union of every command's reply shape."""
    return [entry for _, items in reply or [] for entry in items]
_DATA_ERROR_CLASSES = ("22", "23", "54")  # data exception, integrity violation, program limit exceeded


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def is_refusal(exc: BaseException) -> bool:
    """True when the data itself was refused (retrying will not help): PostgreSQL data errors, or
    a value the driver cannot encode. False for outages, timeouts, deadlocks and anything else
    worth retrying."""
    if isinstance(exc, asyncpg.PostgresError):
        return (exc.sqlstate or "")[:2] in _DATA_ERROR_CLASSES
    return isinstance(exc, (TypeError, ValueError, OverflowError))


def _b(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


@dataclass
class Item:
    """One stream entry ready to be written: its header decoded, its events still serialised
    (PostgreSQL parses them), its person facts, and its raw fields (kept for a dead letter)."""

    batch: StreamBatch
    fields: dict[bytes, bytes]
    facts: list[PersonFact]

    @property
    def entry_id(self) -> bytes:
        return self.batch.entry_id


@dataclass
class Work:
    """Entries written together, in one transaction."""

    items: list[Item] = field(default_factory=list)

    @property
    def ids(self) -> list[bytes]:
        return [item.entry_id for item in self.items]


class Consumer:
    def __init__(self, settings: SubscriberSettings, redis: aioredis.Redis, writer: EventWriter) -> None:
        self.s = settings
        self.redis = redis
        self.writer = writer
        self.name = settings.consumer_name or default_consumer_name()
        self._stopping = asyncio.Event()
        self._retry: dict[bytes, float] = {}  # entry id -> monotonic time of the next attempt
        self._next: dict[str, float] = {}
        self._claim_cursor = b"0-0"
        self._events_per_entry = 1.0  # moving average, sizes reads to about max_batch_events

    # -- life cycle -------------------------------------------------------------------
    def stop(self) -> None:
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass

    async def run(self) -> None:
        log.info("consumer %s starting on %s/%s", self.name, EVENTS_STREAM, EVENTS_GROUP)
        ahead: asyncio.Task[Work] | None = None
        try:
            await self._ensure_group()
            await self._own_pending()
            while not self.stopping:
                try:
                    await self._housekeeping()
                    retries = await self._due_retries()
                    if retries:
                        await self._handle(await self._decode(retries))
                        continue
                    task, ahead = ahead or asyncio.create_task(self._read_and_decode()), None
                    work = await task
                    if work.items:
                        # read and decode the next batch while this one is being written
                        ahead = asyncio.create_task(self._read_and_decode())
                        await self._handle(work)
                except (RedisError, OSError) as exc:
                    metrics.RETRIES.labels("redis").inc()
                    log.warning("redis unavailable (%s); retrying", type(exc).__name__)
                    await self._sleep(self.s.subscriber_backoff_max_seconds / 2)
                except Exception:
                    log.exception("unexpected error in the consumer loop; continuing")
                    await self._sleep(1.0)
            if ahead is not None:  # entries already delivered to us: finish them too
                task, ahead = ahead, None
                await self._handle(await task)
        except (RedisError, OSError) as exc:
            log.warning("stopping with Redis unavailable (%s); unfinished entries stay pending", type(exc).__name__)
        finally:
            log.info("consumer %s stopped", self.name)

    async def _ensure_group(self) -> None:
        delay = 0.2
        while not self.stopping:
            try:
                await self.redis.xgroup_create(EVENTS_STREAM, EVENTS_GROUP, id="0", mkstream=True)
                return
            except ResponseError as exc:
                if "BUSYGROUP" in str(exc):
                    return
                raise
            except (RedisError, OSError) as exc:
                log.warning("cannot create the consumer group yet (%s)", type(exc).__name__)
                await self._sleep(delay)
                delay = min(delay * 2, self.s.subscriber_backoff_max_seconds)

    async def _own_pending(self) -> None:
        """Entries delivered earlier to a consumer of the same name (a restart with a fixed
        TME_CONSUMER_NAME) are handled first."""
        while not self.stopping:
            try:
                reply = await self.redis.xreadgroup(EVENTS_GROUP, self.name, {EVENTS_STREAM: "0"},
                                                    count=self.s.subscriber_read_count)
            except (RedisError, OSError) as exc:
                log.warning("cannot read own pending entries (%s)", type(exc).__name__)
                await self._sleep(1.0)
                continue
            entries = _entries(reply)
            if not entries:
                return
            await self._handle(await self._decode(entries))

    # -- reading ----------------------------------------------------------------------
    async def _read(self) -> list[Entry]:
        """New entries: wait up to block_ms for the first; if fewer than read_count came, linger a
        moment and top up, so that a steady trickle is written in batches, not entry by entry."""
        count = max(1, min(self.s.subscriber_read_count,
                           int(self.s.subscriber_max_batch_events / self._events_per_entry)))
        entries = await self._read_new(count, self.s.subscriber_block_ms)
        if entries and len(entries) < count and self.s.subscriber_linger_ms and not self.stopping:
            await asyncio.sleep(self.s.subscriber_linger_ms / 1000)
            entries += await self._read_new(count - len(entries), None)
        return entries

    async def _read_new(self, count: int, block: int | None) -> list[Entry]:
        try:
            reply = await self.redis.xreadgroup(EVENTS_GROUP, self.name, {EVENTS_STREAM: ">"}, count=count,
                                                block=block)
        except ResponseError as exc:
            if "NOGROUP" in str(exc):
                await self._ensure_group()
                return []
            raise
        return _entries(reply)

    async def _due_retries(self) -> list[Entry]:
        if not self._retry:
            return []
        now = time.monotonic()
        due = [entry_id for entry_id, at in self._retry.items() if at <= now]
        if not due:
            return []
        for entry_id in due:
            del self._retry[entry_id]
        # XCLAIM to ourselves: a new delivery, so XPENDING's delivery count goes up
        claimed: Any = await self.redis.xclaim(EVENTS_STREAM, EVENTS_GROUP, self.name, 0, list[StreamIdT](due))
        return list(claimed or [])  # without justid: the (id, fields) entries

    async def _reclaim(self) -> None:
        reply = await self.redis.xautoclaim(EVENTS_STREAM, EVENTS_GROUP, self.name, self.s.subscriber_claim_idle_ms,
                                            start_id=self._claim_cursor, count=self.s.subscriber_read_count)
        cursor, entries = reply[0], reply[1]
        self._claim_cursor = _b(cursor)
        entries = [e for e in entries if e is not None and e[0] is not None]
        if entries:
            metrics.RECLAIMED.inc(len(entries))
            log.info("reclaimed %s entries left pending by other consumers", len(entries))
            await self._handle(await self._decode(entries))

    # -- handling ---------------------------------------------------------------------
    async def _read_and_decode(self) -> Work:
        return await self._decode(await self._read())

    async def _decode(self, entries: list[Entry]) -> Work:
        """Entries -> rows (CPU only, no database: this runs while the previous batch is being
        written). Entries that cannot be read go to the dead letters at once; entries deleted
        from the stream while pending are acknowledged."""
        work = Work()
        gone: list[bytes] = []
        for entry_id, fields in entries:
            if entry_id is None:
                continue
            entry_id = _b(entry_id)
            if not fields:  # deleted from the stream while pending (Redis 6.2 returns it empty)
                gone.append(entry_id)
                continue
            try:
                batch = decode_batch(entry_id, fields, parse=False)
                work.items.append(Item(batch, fields, person_facts(batch)))
            except (StreamFormatError, TypeError, ValueError) as exc:
                await self._dead_letter(entry_id, fields, "unreadable", str(exc), 0)
        if gone:
            await self._ack(gone)
        if work.items:
            per_entry = sum(item.batch.count for item in work.items) / len(work.items)
            self._events_per_entry = max(1.0, 0.8 * self._events_per_entry + 0.2 * per_entry)
        return work

    async def _handle(self, work: Work) -> None:
        for chunk in self._chunks(work):
            await self._write(chunk)

    def _chunks(self, work: Work) -> list[Work]:
        """Split a work too big for one transaction (reclaimed or retried entries come in
        whatever sizes they have) into pieces of about max_batch_events events."""
        chunks: list[Work] = []
        current = Work()
        size = 0
        for item in work.items:
            if current.items and size + item.batch.count > self.s.subscriber_max_batch_events:
                chunks.append(current)
                current, size = Work(), 0
            current.items.append(item)
            size += item.batch.count
        if current.items:
            chunks.append(current)
        return chunks

    async def _write(self, work: Work) -> None:
        batches = [item.batch for item in work.items]
        events = sum(batch.count for batch in batches)
        facts = [fact for item in work.items for fact in item.facts]
        ids = work.ids
        links = self._links(batches)
        delay = 0.1
        while True:
            start = time.perf_counter()
            try:
                with _tracer.start_as_current_span("subscriber write", links=links) as span:
                    span.set_attribute("tme.events", events)
                    result = await self.writer.write(batches, facts)
            except Exception as exc:
                self.writer.discard()
                if is_refusal(exc):
                    await self._refused(work, exc)
                    return
                metrics.RETRIES.labels("postgres").inc()
                if self.stopping:
                    log.warning("stopping while PostgreSQL is unavailable; %s entries stay pending", len(ids))
                    return
                log.warning("writing %s events failed (%s: %s); retrying in %.1fs", events,
                            type(exc).__name__, str(exc)[:200], delay)
                await self._keep_fresh(ids)
                await self._sleep(delay)
                delay = min(delay * 2, self.s.subscriber_backoff_max_seconds)
                continue
            metrics.INSERT_LATENCY.observe(time.perf_counter() - start)
            metrics.BATCH_EVENTS.observe(events)
            metrics.BATCH_ENTRIES.observe(len(ids))
            metrics.ROWS_INSERTED.inc(result.inserted)
            metrics.DUPLICATES.inc(result.duplicates)
            if result.dropped:
                metrics.DELETED_PROJECT_EVENTS.inc(result.dropped)
                log.info("dropped %s events of deleted project(s) %s", result.dropped, sorted(result.gone))
            for fact in facts:
                metrics.PERSONS.labels(fact.kind).inc()
            await self._ack(ids)
            return

    @staticmethod
    def _links(batches: list[StreamBatch]) -> list[trace.Link]:
        links: list[trace.Link] = []
        for batch in batches[:64]:
            if batch.carrier:
                ctx = trace.get_current_span(propagate.extract(batch.carrier)).get_span_context()
                if ctx.is_valid:
                    links.append(trace.Link(ctx))
        return links

    async def _refused(self, work: Work, exc: BaseException) -> None:
        """The batch's data was refused: write its entries one by one, so that only the guilty
        entry waits for another attempt (and eventually goes to the dead letters)."""
        if len(work.items) > 1:
            for item in work.items:
                await self._write(Work([item]))
            return
        item = work.items[0]
        reason = f"{type(exc).__name__}: {str(exc)[:500]}"
        deliveries = await self._deliveries(item.entry_id)
        if deliveries >= self.s.subscriber_max_deliveries:
            await self._dead_letter(item.entry_id, item.fields, "refused", reason, deliveries)
            return
        delay = self.s.subscriber_retry_delay_seconds * 2 ** max(deliveries - 1, 0)
        log.warning("entry %s refused by PostgreSQL (delivery %s of %s): %s; next attempt in %.1fs",
                    item.entry_id.decode(), deliveries, self.s.subscriber_max_deliveries, reason, delay)
        self._retry[item.entry_id] = time.monotonic() + delay

    async def _deliveries(self, entry_id: bytes) -> int:
        rows = await self.redis.xpending_range(EVENTS_STREAM, EVENTS_GROUP, min=entry_id, max=entry_id, count=1)
        return int(rows[0]["times_delivered"]) if rows else 1

    async def _keep_fresh(self, ids: list[bytes]) -> None:
        """Reset the idle time of entries we are still working on (no new delivery counted)."""
        try:
            await self.redis.xclaim(EVENTS_STREAM, EVENTS_GROUP, self.name, 0, list[StreamIdT](ids), justid=True)
        except (RedisError, OSError):
            pass

    async def _ack(self, ids: list[bytes]) -> None:
        delay = 0.1
        for _ in range(20):
            try:
                await self.redis.xack(EVENTS_STREAM, EVENTS_GROUP, *ids)
                metrics.ENTRIES_ACKED.inc(len(ids))
                return
            except (RedisError, OSError) as exc:
                log.warning("XACK failed (%s); retrying", type(exc).__name__)
                if self.stopping:
                    break
                await self._sleep(delay)
                delay = min(delay * 2, self.s.subscriber_backoff_max_seconds)
        log.warning("%s entries stay unacknowledged; they will be redelivered and deduplicated", len(ids))

    async def _dead_letter(self, entry_id: bytes, fields: dict[bytes, bytes], kind: str, reason: str,
                           deliveries: int) -> None:
        letter: dict[FieldT, EncodableT] = {key: value for key, value in fields.items()}  # redis' key type
        letter.update({b"reason": reason.encode(), b"kind": kind.encode(), b"original_id": entry_id,
                       b"consumer": self.name.encode(), b"deliveries": str(deliveries).encode(),
                       b"failed_at": str(int(time.time() * 1000)).encode()})
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(DEAD_LETTER_STREAM, letter, maxlen=self.s.subscriber_dead_letter_maxlen, approximate=True)
            pipe.xack(EVENTS_STREAM, EVENTS_GROUP, entry_id)
            await pipe.execute()
        metrics.DEAD_LETTERED.labels(kind).inc()
        log.error("entry %s moved to %s (%s): %s", entry_id.decode(), DEAD_LETTER_STREAM, kind, reason)

    # -- housekeeping -----------------------------------------------------------------
    def _due(self, name: str, every: float) -> bool:
        now = time.monotonic()
        if now < self._next.get(name, 0.0):
            return False
        self._next[name] = now + every
        return True

    async def _database_chore(self, name: str, every: float, job: Callable[[], Awaitable[object]]) -> None:
        """Run a maintenance job on the writer's connection when due; after a failure, retry soon."""
        if not self._due(name, every):
            return
        try:
            await job()
        except Exception as exc:
            self.writer.discard()
            self._next[name] = time.monotonic() + 30
            log.warning("%s maintenance failed: %s", name, exc)

    async def _housekeeping(self) -> None:
        check = self.s.subscriber_partition_check_seconds
        await self._database_chore("partitions", check, lambda: self.writer.ensure_partitions(
            self.s.subscriber_partition_months_ahead))
        window = self.s.subscriber_dedupe_window_hours * 3600
        await self._database_chore("ledger", min(check, window / 4), lambda: self.writer.rotate_ledger(window))
        if self._due("claim", self.s.subscriber_claim_interval_seconds):
            await self._reclaim()
        if self._due("trim", self.s.subscriber_trim_interval_seconds):
            await streams.trim_acknowledged(self.redis)
        if self._due("gauges", self.s.subscriber_gauge_interval_seconds):
            await streams.update_gauges(self.redis)
        if self._due("consumers", 60.0):
            await streams.forget_idle_consumers(self.redis, self.name, self.s.subscriber_idle_consumer_seconds)
