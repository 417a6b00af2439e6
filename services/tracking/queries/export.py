"""Streaming exports of the explorer's events (oldest first) as CSV or NDJSON.

Rows come from a server-side cursor inside a read-only transaction and are written out in
chunks as they arrive, so an export of any size uses a bounded amount of memory. JSON columns
(properties, context, traits) are JSON text in CSV.

CSV cells that a spreadsheet would run as a formula (text starting with =, +, -, @, tab or carriage
return) get a leading single quote, OWASP's advice against CSV injection; the NDJSON export keeps
every value as it was sent."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any, Literal

import asyncpg

from services.shared.jsonutil import dumps
from services.tracking.queries.rows import COLUMNS_SQL, FIELDS, event_json

Format = Literal["csv", "ndjson"]
FORMATS: dict[Format, str] = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}
CHUNK_BYTES = 64 * 1024
PREFETCH = 2000
_JSON_FIELDS = frozenset({"properties", "context", "traits"})
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def export_sql(where: str) -> str:
    return f"SELECT {COLUMNS_SQL} FROM events e WHERE {where} ORDER BY e.event_time, e.message_id"


def _csv_value(name: str, value: Any) -> Any:
    if value is None:
        return ""
    if name in _JSON_FIELDS:
        return dumps(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Chunks:
    """Serialised rows waiting to be sent."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.buffer = io.StringIO()
        # RFC 4180's CRLF: a cell holding a lone CR or LF is then quoted (with "\n" a CR went bare)
        self.writer = csv.writer(self.buffer, lineterminator="\r\n")
        if fmt == "csv":
            self.writer.writerow([name for _, name in FIELDS])

    def add(self, event: dict[str, Any]) -> None:
        if self.fmt == "csv":
            self.writer.writerow([_csv_value(name, event[name]) for _, name in FIELDS])
        else:
            self.buffer.write(dumps(event).decode())
            self.buffer.write("\n")

    def full(self) -> bool:
        return self.buffer.tell() >= CHUNK_BYTES

    def take(self) -> bytes:
        data = self.buffer.getvalue().encode()
        self.buffer.seek(0)
        self.buffer.truncate()
        return data


async def stream_rows(pool: asyncpg.Pool, sql: str, args: list[Any], fmt: str) -> AsyncIterator[bytes]:
    chunks = _Chunks(fmt)
    async with pool.acquire() as conn, conn.transaction(readonly=True, isolation="repeatable_read"):
        async for record in conn.cursor(sql, *args, prefetch=PREFETCH):
            chunks.add(event_json(record))
            if chunks.full():
                yield chunks.take()
    tail = chunks.take()
    if tail:
        yield tail
