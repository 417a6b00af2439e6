"""A whole project's events for export, oldest first, resumable.

The order is (event time, messageId), which is total: message ids are unique per project (the
subscriber's dedupe ledger). `after` continues an export after a given event: the last line of
a cut-off download names it, by its `timestamp` and `messageId` (both formats write both), sent
as a JSON array, `["2026-01-05T10:00:00.123Z","7f3c..."]`. A continuation writes every event
after that position and none before it, so appending it to the download's complete lines gives
every event once. Events stored meanwhile with an earlier time (late or imported events) are not
in the continuation, as in the explorer's pages.

A CSV cell that would start with a formula character gets a leading quote (export.py), so a
messageId copied from a CSV line may carry one that the id itself does not have; the position is
then the stored event that either spelling names."""

from __future__ import annotations

import datetime as dt

import orjson

from services.shared.errors import ApiError
from services.tracking.db import Db
from services.tracking.params import MAX_MOMENT, MIN_MOMENT, bad
from services.tracking.queries import rows, segment_messages
from services.tracking.queries.export import FORMULA_STARTS, Format
from services.tracking.sql import Params

Position = tuple[dt.datetime, str]
MAX_MESSAGE_ID = 256  # an id (255 characters at most) with a CSV cell's leading quote
AFTER_MESSAGE = 'must be a JSON array of the last exported timestamp and messageId: ["2026-01-05T10:00:00Z","m-1"]'


def _not_a_position() -> ApiError:
    return bad("after", AFTER_MESSAGE)


def parse_after(raw: str) -> Position:
    """`after` as (UTC instant, messageId); a 400 naming `after` for anything else."""
    try:
        values = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _not_a_position() from None
    if not isinstance(values, list) or len(values) != 2 or not all(isinstance(v, str) for v in values):
        raise _not_a_position()
    moment_text, message_id = values
    try:
        moment = dt.datetime.fromisoformat(moment_text)
    except ValueError:
        raise _not_a_position() from None
    if moment.tzinfo is None:
        raise bad("after", "the timestamp must have a UTC offset or Z, as exports write it")
    try:
        moment = moment.astimezone(dt.UTC)
    except OverflowError:
        raise bad("after", "the timestamp must be between 1970-01-01 and 2200-01-01") from None
    if not MIN_MOMENT <= moment <= MAX_MOMENT:
        raise bad("after", "the timestamp must be between 1970-01-01 and 2200-01-01")
    if not 0 < len(message_id) <= MAX_MESSAGE_ID or "\x00" in message_id:
        raise bad("after", f"the messageId must have 1 to {MAX_MESSAGE_ID} characters and no NUL")
    return moment, message_id


async def resolve_after(db: Db, project_id: int, after: Position | None, fmt: Format) -> Position | None:
    """The position as stored: a messageId from a CSV cell may carry the cell's formula quote."""
    if after is None or fmt != "csv":
        return after
    moment, message_id = after
    if not (message_id.startswith("'") and message_id[1:].startswith(FORMULA_STARTS)):
        return after
    row = await db.fetchrow(
        """SELECT message_id FROM events
           WHERE project_id = $1 AND event_time = $2 AND message_id = ANY($3::text[])
           ORDER BY message_id LIMIT 1""",
        [project_id, moment, [message_id, message_id[1:]]])
    return moment, (row["message_id"] if row is not None else message_id[1:])


def project_where(params: Params, project_id: int, start: dt.datetime | None, end: dt.datetime | None,
                  after: Position | None) -> str:
    parts = [f"e.project_id = {params.add(project_id)}"]
    if start is not None:
        parts.append(f"e.event_time >= {params.add(start)}")
    if end is not None:
        parts.append(f"e.event_time < {params.add(end)}")
    if after is not None:
        moment = params.add(after[0])
        # the first condition lets the (project, time) index start at the position; the second is exact
        parts.append(f"e.event_time >= {moment}")
        parts.append(f"(e.event_time, e.message_id) > ({moment}, {params.add(after[1], 'text')})")
    return " AND ".join(parts)


def project_sql(where: str, fmt: Format) -> str:
    """NDJSON writes Segment messages, CSV the explorer's columns."""
    columns = segment_messages.COLUMNS_SQL if fmt == "ndjson" else rows.COLUMNS_SQL
    return f"SELECT {columns} FROM events e WHERE {where} ORDER BY e.event_time, e.message_id"


async def count(db: Db, params: Params, where: str) -> int:
    row = await db.fetchrow(f"SELECT count(*) AS n FROM events e WHERE {where}", params.values)
    assert row is not None
    return int(row["n"])
