"""`tme import --file FILE --project ID`: events exported by Segment or RudderStack (NDJSON, one
call per line: track, page, screen, identify, group, alias; plain or gzip, told apart by the
file's first bytes) brought into a project through live ingest's own path.

Each line goes through the validation and enrichment of `POST /v1/batch` (the gateway's
segment_event: the same fields, limits and messages) and the accepted events go onto the same
Redis stream the gateway appends to, with the gateway's own queue (services/gateway/ingest/
queue.py), so the subscriber stores them with the same dedupe by messageId. A line without a
messageId gets one from its content (`import-<sha256>`), so the same line always has the same id.

Historical times are kept: an export's `timestamp` is already the corrected event time (Segment
and RudderStack compute receivedAt - (sentAt - originalTimestamp) when they receive a call), so a
line's `sentAt` is left out; live ingest would otherwise "correct" the time against now, the
moment of the import. A line with neither `timestamp` nor `originalTimestamp` takes its
`receivedAt`, else the time of the import. The months of the history get their partitions
before their events are queued.

`file_imports` records per project and file (SHA-256 of its bytes) how many lines were handed
to the stream, after each batch: a run that stops resumes after the last batch handed over (a
batch handed over twice is stored once, by its messageIds), and a finished file is not read
again. While the stream's backlog is at the gateway's bound the import waits, as a client of the
gateway would after a 503."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import hashlib
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import redis.asyncio as aioredis

from services.demo.bulk import partition_months
from services.demo.progress import Progress
from services.gateway.ingest.enrich import AgentParser
from services.gateway.ingest.events import RequestInfo
from services.gateway.ingest.fields import MIN_TIME_MS, Problems, may_nest_deep
from services.gateway.ingest.queue import EventQueue
from services.gateway.ingest.segment import segment_event
from services.gateway.settings import GatewaySettings
from services.shared.db import plain_url
from services.shared.errors import EventTooLarge, InvalidJson, Overloaded, QueueUnavailable
from services.shared.redis import create_redis
from services.shared.stream import StreamEvent
from services.subscriber.writer import EventWriter

GZIP_MAGIC = b"\x1f\x8b"
BATCH_EVENTS = 500  # events per stream entry (a live batch may hold up to 2,500)
EXAMPLES = 5  # line numbers listed per rejection reason
QUEUE_RETRIES = 12  # a stream that cannot be reached this many times in a row ends the run (resumable)


class ProjectNotFound(LookupError):
    pass


def opener(path: Path) -> io.BufferedIOBase:
    """The file's lines as bytes: gunzipped when it starts with gzip's magic bytes."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == GZIP_MAGIC else open(path, "rb")


def scan(path: Path) -> tuple[str, int]:
    """(SHA-256 of the file's bytes, number of lines): the file's identity and the progress total."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    with opener(path) as lines:
        count = sum(1 for _ in lines)
    return digest.hexdigest(), count


def content_id(call: dict[str, Any]) -> str:
    """The messageId of a line that has none: from its content, keys sorted (the same call gets the
    same id however its JSON was laid out)."""
    return "import-" + hashlib.sha256(orjson.dumps(call, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


@dataclass
class Rejected:
    """Why a line was refused: the error code live ingest answers and its problems."""

    code: str
    reason: str


def read_line(line: bytes, settings: GatewaySettings, agents: AgentParser) -> StreamEvent | Rejected | None:
    """One line as live ingest would take it in a `/v1/batch` request of its own (None: a blank line)."""
    text = line.strip()
    if not text:
        return None
    if len(text) > settings.ingest_max_event_bytes:
        return Rejected(EventTooLarge.code, f"the event is larger than {settings.ingest_max_event_bytes // 1024} "
                                            "KB, the limit per event")
    try:
        call = orjson.loads(text)
    except orjson.JSONDecodeError:
        return Rejected(InvalidJson.code, "the line is not JSON")
    if isinstance(call, dict):
        call.pop("sentAt", None)  # the export's timestamp is already corrected (module docstring)
        if call.get("timestamp") is None and call.get("originalTimestamp") is None and "receivedAt" in call:
            call["timestamp"] = call["receivedAt"]
        if call.get("messageId") is None:
            call["messageId"] = content_id(call)
    info = RequestInfo(received_at=int(time.time() * 1000), header_agent=None, agents=agents,
                       max_future_ms=int(settings.ingest_max_future_seconds * 1000),
                       has_nul=b"\\u0000" in text, may_nest_deep=may_nest_deep(text))
    outcome = segment_event(call, info, forced_type=None)
    if isinstance(outcome, Problems):
        return Rejected(outcome.code, "; ".join(f"{k}: {v}" if k else f"the event {v}" for k, v in outcome.items()))
    return outcome


@dataclass
class FileImportResult:
    digest: str
    lines: int  # lines in the file
    resumed_after: int = 0  # lines handed over by earlier runs
    already_imported: bool = False  # an earlier run finished this file: nothing was read
    accepted: int = 0  # this run
    rejected: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (code, reason) -> line numbers
    total_accepted: int = 0  # all runs
    total_rejected: int = 0

    def reject(self, number: int, rejected: Rejected) -> None:
        self.rejected.setdefault((rejected.code, rejected.reason), []).append(number)

    def summary(self) -> list[str]:
        if self.already_imported:
            return [f"already imported: {self.total_accepted} events accepted, {self.total_rejected} lines rejected "
                    f"(file sha256 {self.digest[:12]}); nothing to do"]
        lines = [f"{self.accepted} events accepted, {sum(len(n) for n in self.rejected.values())} lines rejected"
                 + (f" (resumed after line {self.resumed_after}; all runs: {self.total_accepted} accepted, "
                    f"{self.total_rejected} rejected)" if self.resumed_after else "")]
        for (code, reason), numbers in sorted(self.rejected.items(), key=lambda item: -len(item[1])):
            shown = ", ".join(str(n) for n in numbers[:EXAMPLES]) + (", ..." if len(numbers) > EXAMPLES else "")
            lines.append(f"  {len(numbers)} x {code}: {reason} (line{'s' if len(numbers) > 1 else ''} {shown})")
        return lines


class Partitions:
    """Creates the monthly event partitions back to the oldest event seen so far."""

    def __init__(self, writer: EventWriter) -> None:
        self.writer = writer
        self.covered_from: int | None = None  # epoch ms: partitions exist from this month on

    async def cover(self, oldest_ms: int) -> None:
        oldest_ms = max(oldest_ms, MIN_TIME_MS)
        if self.covered_from is not None and oldest_ms >= self.covered_from:
            return
        now_ms = int(time.time() * 1000)
        back, ahead = partition_months(min(oldest_ms, now_ms), now_ms)
        await self.writer.ensure_partitions(ahead, months_back=back)
        start = dt.datetime.fromtimestamp(oldest_ms / 1000, dt.UTC)
        self.covered_from = int(dt.datetime(start.year, start.month, 1, tzinfo=dt.UTC).timestamp() * 1000)


class Handover:
    """Puts accepted events on the stream with the gateway's queue, waiting while it is full."""

    def __init__(self, settings: GatewaySettings, redis: aioredis.Redis, project_id: int, write_key: str) -> None:
        self.settings = settings
        self.redis = redis
        self.project_id = project_id
        self.write_key = write_key
        self.queue = EventQueue(max_backlog=settings.ingest_max_backlog,
                                check_interval=settings.ingest_backlog_check_seconds,
                                retry_after=settings.ingest_retry_after_seconds,
                                timeout=settings.ingest_enqueue_timeout_seconds,
                                wait_aof=settings.ingest_ack_wait_aof, replicas=settings.ingest_ack_replicas)

    async def send(self, events: list[StreamEvent]) -> None:
        failures = 0
        while True:
            try:
                await self.queue.check_backlog(self.redis)
                await self.queue.enqueue(self.redis, self.project_id, self.write_key, int(time.time() * 1000), events)
                return
            except Overloaded:
                pass  # the subscriber is behind: wait as long as it takes
            except QueueUnavailable:
                failures += 1
                if failures >= QUEUE_RETRIES:
                    raise
            await asyncio.sleep(self.settings.ingest_retry_after_seconds)

    def close(self) -> None:
        self.queue.close()


def numbered(path: Path, after: int) -> Iterator[tuple[int, bytes]]:
    """(line number from 1, line) of the lines after the first `after`."""
    with opener(path) as lines:
        for number, line in enumerate(lines, start=1):
            if number > after:
                yield number, line


async def _position(conn: asyncpg.Connection, project_id: int, digest: str) -> asyncpg.Record:
    await conn.execute("INSERT INTO file_imports (project_id, file_digest) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                       project_id, digest)
    record = await conn.fetchrow("SELECT * FROM file_imports WHERE project_id = $1 AND file_digest = $2",
                                 project_id, digest)
    assert record is not None  # inserted just above if it was missing
    return record


_ADVANCE = """UPDATE file_imports SET lines_done = $3, accepted = accepted + $4, rejected = rejected + $5,
                     finished = $6, updated_at = now()
              WHERE project_id = $1 AND file_digest = $2
              RETURNING accepted, rejected"""


async def import_file(path: Path, project_id: int, database_url: str, redis_url: str, *,
                      settings: GatewaySettings | None = None, progress: bool = True) -> FileImportResult:
    """Import the file into the project (see the module docstring)."""
    settings = settings or GatewaySettings()
    digest, total = scan(path)
    result = FileImportResult(digest=digest, lines=total)
    writer = EventWriter(plain_url(database_url))
    redis = create_redis(redis_url)
    handover: Handover | None = None
    try:
        conn = await writer.connection()
        write_key = await conn.fetchval("SELECT write_key FROM projects WHERE id = $1", project_id)
        if write_key is None:
            raise ProjectNotFound(f"project {project_id} does not exist in this database")
        position = await _position(conn, project_id, digest)
        result.total_accepted, result.total_rejected = position["accepted"], position["rejected"]
        if position["finished"]:
            result.already_imported = True
            return result
        result.resumed_after = position["lines_done"]
        handover = sender = Handover(settings, redis, project_id, write_key)
        partitions = Partitions(writer)
        agents = AgentParser(settings.ingest_ua_cache_size)
        bar = Progress(total - result.resumed_after, "import", enabled=progress)
        pending: list[StreamEvent] = []
        rejected = 0
        done = result.resumed_after

        async def hand_over(upto: int, finished: bool) -> None:
            nonlocal pending, rejected, done
            if pending:
                await partitions.cover(min(e["timestamp"] for e in pending))
                await sender.send(pending)
            totals = await conn.fetchrow(_ADVANCE, project_id, digest, upto, len(pending), rejected, finished)
            assert totals is not None  # the row was made by _position
            result.total_accepted, result.total_rejected = totals["accepted"], totals["rejected"]
            result.accepted += len(pending)
            bar.advance(upto - done)
            pending, rejected, done = [], 0, upto

        for number, line in numbered(path, result.resumed_after):
            outcome = read_line(line, settings, agents)
            if isinstance(outcome, Rejected):
                result.reject(number, outcome)
                rejected += 1
            elif outcome is not None:
                pending.append(outcome)
            if len(pending) >= BATCH_EVENTS or number - done >= 10 * BATCH_EVENTS:
                await hand_over(number, False)
        await hand_over(total, True)
        bar.close()
        return result
    finally:
        if handover is not None:
            handover.close()
        await redis.aclose()
        await writer.close()
