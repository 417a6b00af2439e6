"""Streamed exports: the explorer's events (CSV or NDJSON), a whole project (Segment NDJSON or CSV)
and one person's data (JSON), all through `stream`.

Rows come from a server-side cursor inside a read-only transaction and are written out in
chunks as they arrive, so an export of any size uses a bounded amount of memory. A Writer says
what each export writes before, for and after its rows.

The explorer's exports and a project's CSV have AnalyticsEvent's fields as columns; JSON columns
(properties, context, traits) are JSON text in CSV. CSV cells that a spreadsheet would run as a
formula (text starting with =, +, -, @, tab or carriage return) get a leading single quote,
OWASP's advice against CSV injection; the NDJSON and JSON exports keep every value as it was
sent."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any, Literal

import asyncpg

from services.shared.jsonutil import dumps
from services.tracking.queries.rows import COLUMNS_SQL, FIELDS, event_json
from services.tracking.queries.segment_messages import segment_message

Format = Literal["csv", "ndjson"]
FORMATS: dict[Format, str] = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}
CHUNK_BYTES = 64 * 1024
PREFETCH = 2000
_JSON_FIELDS = frozenset({"properties", "context", "traits"})
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def export_sql(where: str) -> str:
    return f"SELECT {COLUMNS_SQL} FROM events e WHERE {where} ORDER BY e.event_time, e.message_id"


def csv_value(name: str, value: Any) -> Any:
    """A cell as CSV exports write it."""
    if value is None:
        return ""
    if name in _JSON_FIELDS:
        return dumps(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class Writer:
    """Serialised rows waiting to be sent; `add` one row, `take` what is buffered."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()

    def head(self) -> None:
        """Written before the first row."""

    def add(self, record: asyncpg.Record) -> None:
        raise NotImplementedError

    def tail(self) -> None:
        """Written after the last row."""

    def full(self) -> bool:
        return self.buffer.tell() >= CHUNK_BYTES

    def take(self) -> bytes:
        data = self.buffer.getvalue().encode()
        self.buffer.seek(0)
        self.buffer.truncate()
        return data


class EventCsv(Writer):
    """AnalyticsEvent's fields as columns, after a header row unless `header` is False (a
    continuation of a file that has it)."""

    def __init__(self, *, header: bool = True) -> None:
        super().__init__()
        # RFC 4180's CRLF: a cell holding a lone CR or LF is then quoted (with "\n" a CR went bare)
        self.writer = csv.writer(self.buffer, lineterminator="\r\n")
        self.header = header

    def head(self) -> None:
        if self.header:
            self.writer.writerow([name for _, name in FIELDS])

    def add(self, record: asyncpg.Record) -> None:
        event = event_json(record)
        self.writer.writerow([csv_value(name, event[name]) for _, name in FIELDS])


class EventLines(Writer):
    """One AnalyticsEvent per line."""

    def add(self, record: asyncpg.Record) -> None:
        self.buffer.write(dumps(event_json(record)).decode())
        self.buffer.write("\n")


class SegmentLines(Writer):
    """One Segment spec message per line (segment_messages.py)."""

    def add(self, record: asyncpg.Record) -> None:
        self.buffer.write(dumps(segment_message(record)).decode())
        self.buffer.write("\n")


class PersonDocument(Writer):
    """One JSON object: the person's fields, then `events`, an array of Segment spec messages."""

    def __init__(self, person: dict[str, Any]) -> None:
        super().__init__()
        self.person = person
        self.first = True

    def head(self) -> None:
        opening = dumps(self.person).decode()
        self.buffer.write(opening[:-1] + (',"events":[' if self.person else '"events":['))

    def add(self, record: asyncpg.Record) -> None:
        if not self.first:
            self.buffer.write(",")
        self.first = False
        self.buffer.write(dumps(segment_message(record)).decode())

    def tail(self) -> None:
        self.buffer.write("]}\n")


def event_writer(fmt: Format) -> Writer:
    """The explorer export's writer for a format."""
    return EventCsv() if fmt == "csv" else EventLines()


async def stream(pool: asyncpg.Pool, sql: str, args: list[Any], writer: Writer) -> AsyncIterator[bytes]:
    """The rows of `sql`, as `writer` writes them, in chunks of about CHUNK_BYTES."""
    writer.head()
    async with pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
        async for record in conn.cursor(sql, *args, prefetch=PREFETCH):
            writer.add(record)
            if writer.full():
                yield writer.take()
    writer.tail()
    rest = writer.take()
    if rest:
        yield rest
