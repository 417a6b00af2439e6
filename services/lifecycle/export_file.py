"""The export file `tme export` writes: where a partial one resumes, and counting the events in
what the server sends.

A download that stops mid-way (the connection broke, the command was interrupted) leaves the file
ending in a torn line. `resume_point` cuts that off and reads the last complete line's
`timestamp` and `messageId`: the project export's `after` (services/tracking/queries/
project_export.py), which continues right after it. NDJSON lines never hold a raw line break, so
the last one is found from the end of the file. A CSV record may (a quoted cell), so a CSV file is
read from its start: a line break ends a record only outside quotes, which is where an even
number of `"` came before it (RFC 4180 escapes a quote inside a cell as two)."""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import orjson

Format = Literal["ndjson", "csv"]
BLOCK = 64 * 1024
POSITION_FIELDS = ("timestamp", "messageId")


class NotAnExport(ValueError):
    """The file is not an export in the asked format (a resume would corrupt it)."""


@dataclass(frozen=True)
class ResumePoint:
    size: int  # bytes of complete lines the file keeps (0: start over)
    after: tuple[str, str] | None  # the last complete event's timestamp and messageId
    cut: int  # bytes of a torn last line removed


def _last_ndjson_line(fh: io.BufferedReader, size: int) -> tuple[int, bytes]:
    """(end of the last complete line, that line without its line break); (0, b"") when there is none."""
    tail = b""
    position = size
    end = None
    while position > 0:
        step = min(BLOCK, position)
        position -= step
        fh.seek(position)
        tail = fh.read(step) + tail
        if end is None:
            newline = tail.rfind(b"\n")
            if newline < 0:
                continue
            end = position + newline + 1
            tail = tail[:newline]
        start = tail.rfind(b"\n")
        if start >= 0:
            return end, tail[start + 1:]
    return (end, tail) if end is not None else (0, b"")


def _ndjson_point(path: Path, size: int) -> ResumePoint:
    with open(path, "rb") as fh:
        end, line = _last_ndjson_line(fh, size)
    if end == 0:
        return ResumePoint(0, None, size)
    try:
        message = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise NotAnExport("its last complete line is not JSON") from None
    moment, message_id = (message.get(name) for name in POSITION_FIELDS) if isinstance(message, dict) else (None, None)
    if not (isinstance(moment, str) and moment and isinstance(message_id, str) and message_id):
        raise NotAnExport("its last complete line has no timestamp and messageId")
    return ResumePoint(end, (moment, message_id), size - end)


class RecordCounter:
    """Counts the records complete in what was read so far (CSV: line breaks outside quotes)."""

    def __init__(self, fmt: Format) -> None:
        self.csv = fmt == "csv"
        self.in_quotes = False

    def feed(self, data: bytes) -> int:
        if not self.csv:
            return data.count(b"\n")
        if not self.in_quotes and b'"' not in data:
            return data.count(b"\n")
        records = 0
        for piece in data.split(b"\n")[:-1]:
            self.in_quotes ^= piece.count(b'"') % 2 == 1
            records += not self.in_quotes
        self.in_quotes ^= data[data.rfind(b"\n") + 1:].count(b'"') % 2 == 1
        return records


def _csv_point(path: Path, size: int) -> ResumePoint:
    """Reads the whole file: the header (the first record), and the last record's position."""
    header = last = b""
    record = bytearray()
    end = records = 0
    in_quotes = False
    with open(path, "rb") as fh:
        for line in fh:
            record += line
            in_quotes ^= line.count(b'"') % 2 == 1
            if in_quotes or not line.endswith(b"\n"):
                continue
            end += len(record)
            records += 1
            if records == 1:
                header = bytes(record)
            last = bytes(record)
            record.clear()
    if records < 2:  # a header at most: nothing to keep
        return ResumePoint(0, None, size)
    names = _csv_row(header)
    if not all(name in names for name in POSITION_FIELDS):
        raise NotAnExport("its first line is not a CSV header with timestamp and messageId")
    values = _csv_row(last)
    if len(values) != len(names):
        raise NotAnExport("its last complete line does not have the header's columns")
    row = dict(zip(names, values, strict=True))
    return ResumePoint(end, (row["timestamp"], row["messageId"]), size - end)


def _csv_row(record: bytes) -> list[str]:
    try:
        return next(csv.reader(io.StringIO(record.decode())), [])
    except (UnicodeDecodeError, csv.Error):
        raise NotAnExport("it does not read as CSV") from None


def resume_point(path: Path, fmt: Format) -> ResumePoint:
    """Where a download into `path` continues, after cutting a torn last line off the file (a file
    without a complete event is emptied: the download starts again)."""
    size = path.stat().st_size if path.exists() else 0
    if size == 0:
        return ResumePoint(0, None, 0)
    point = _ndjson_point(path, size) if fmt == "ndjson" else _csv_point(path, size)
    if point.size < size:
        with open(path, "r+b") as fh:
            fh.truncate(point.size)
            os.fsync(fh.fileno())
    return point
