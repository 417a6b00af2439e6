"""`realtime/stream`: Server-Sent Events of the project's incoming events.

Every `stream_poll_seconds` the table is asked for rows stored since the last poll (looking
`stream_overlap_seconds` further back and skipping ids already sent, see queries/realtime).
Each event is one SSE message (`event: event`, `data: <event JSON>`); a comment line keeps an
idle connection open; the stream ends by itself after `stream_max_seconds` (the browser's
EventSource reconnects) and as soon as the client goes away (Starlette cancels the generator)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator

from services.shared.jsonutil import dumps
from services.tracking.db import Db
from services.tracking.filters import Condition
from services.tracking.queries.realtime import STREAM_BATCH, db_now, stream_sql
from services.tracking.queries.rows import event_json
from services.tracking.settings import TrackingSettings


def sse(event: str, data: bytes) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


async def event_stream(db: Db, project_id: int, conditions: list[Condition],
                       settings: TrackingSettings) -> AsyncIterator[bytes]:
    overlap = dt.timedelta(seconds=settings.stream_overlap_seconds)
    watermark = await db_now(db)  # only events stored from now on: those already visible count as sent
    seen: dict[str, dt.datetime] = {}
    sql, args = stream_sql(project_id, conditions, watermark - overlap)
    for row in await db.fetch(sql.replace(f"LIMIT {STREAM_BATCH}", ""), args):
        seen[row["message_id"]] = row["created_at"]
    deadline = time.monotonic() + settings.stream_max_seconds
    last_write = time.monotonic()
    yield b"retry: 3000\n: connected\n\n"
    while time.monotonic() < deadline:
        since, after_id = watermark - overlap, ""
        while True:  # page through everything stored since the last poll
            sql, args = stream_sql(project_id, conditions, since, after_id)
            rows = await db.fetch(sql, args)
            out = []
            for row in rows:
                created = row["created_at"]
                watermark = max(watermark, created)
                if row["message_id"] in seen:
                    continue
                seen[row["message_id"]] = created
                out.append(sse("event", dumps(event_json(row))))
            if out:
                yield b"".join(out)
                last_write = time.monotonic()
            if len(rows) < STREAM_BATCH:
                break
            since, after_id = rows[-1]["created_at"], rows[-1]["message_id"]
        horizon = watermark - overlap
        seen = {mid: created for mid, created in seen.items() if created >= horizon}
        if time.monotonic() - last_write >= settings.stream_keepalive_seconds:
            yield b": keep-alive\n\n"
            last_write = time.monotonic()
        await asyncio.sleep(settings.stream_poll_seconds)
    yield sse("end", b'{"reason": "max duration reached; reconnect to continue"}')
