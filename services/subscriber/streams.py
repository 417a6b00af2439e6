"""Stream upkeep done by every subscriber: trimming what all consumer groups acknowledged,
the stream gauges, and forgetting consumers that are long gone."""

from __future__ import annotations

import time
from typing import Any

import redis.asyncio as aioredis

from services.shared.redis import DEAD_LETTER_STREAM, EVENTS_GROUP, EVENTS_STREAM
from services.subscriber import metrics


def id_tuple(entry_id: bytes | str) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def trim_acknowledged(redis: aioredis.Redis) -> int:
    """XTRIM MINID below what every group still needs: its oldest pending entry or, when nothing
    is pending, the entry after its last-delivered id. Group info is read before the pending
    lists, so an entry delivered in between is above the last-delivered id we saw. Nothing that
    a group has not acknowledged is ever trimmed (Redis 7 would drop it from the pending list)."""
    groups = await redis.xinfo_groups(EVENTS_STREAM)
    if not groups:
        return 0
    floor: tuple[int, int] | None = None
    for group in groups:
        last = id_tuple(group["last-delivered-id"])
        summary = await redis.xpending(EVENTS_STREAM, group["name"])
        needed = id_tuple(summary["min"]) if summary and summary.get("pending") else (last[0], last[1] + 1)
        floor = needed if floor is None or needed < floor else floor
    if floor is None or floor <= (0, 1):
        return 0
    trimmed = int(await redis.xtrim(EVENTS_STREAM, minid=f"{floor[0]}-{floor[1]}", approximate=False))
    if trimmed:
        metrics.TRIMMED.inc(trimmed)
    return trimmed


async def update_gauges(redis: aioredis.Redis) -> None:
    """Stream length, pending entries, and the lag (entries not yet delivered, and the age of
    the oldest of them; Redis 6.2 has no XINFO lag field)."""
    length = int(await redis.xlen(EVENTS_STREAM))
    summary = await redis.xpending(EVENTS_STREAM, EVENTS_GROUP)
    pending = int(summary.get("pending", 0)) if summary else 0
    lag_seconds = 0.0
    for group in await redis.xinfo_groups(EVENTS_STREAM):
        if _text(group["name"]) == EVENTS_GROUP:
            last = _text(group["last-delivered-id"])
            first_new = await redis.xrange(EVENTS_STREAM, min=f"({last}", count=1)
            new_id = first_new[0][0] if first_new else None
            if new_id is not None:
                lag_seconds = max(0.0, time.time() - id_tuple(new_id)[0] / 1000)
    metrics.STREAM_LENGTH.set(length)
    metrics.STREAM_PENDING.set(pending)
    metrics.STREAM_LAG.set(max(0, length - pending))
    metrics.STREAM_LAG_SECONDS.set(lag_seconds)
    metrics.DEAD_LETTER_LENGTH.set(int(await redis.xlen(DEAD_LETTER_STREAM)))


async def forget_idle_consumers(redis: aioredis.Redis, me: str, idle_seconds: float) -> None:
    """Remove consumers idle for long that hold nothing (never one with pending entries: they
    would become unclaimable)."""
    for consumer in await redis.xinfo_consumers(EVENTS_STREAM, EVENTS_GROUP):
        name = _text(consumer["name"])
        if name != me and int(consumer["pending"]) == 0 and int(consumer["idle"]) > idle_seconds * 1000:
            await redis.xgroup_delconsumer(EVENTS_STREAM, EVENTS_GROUP, name)
