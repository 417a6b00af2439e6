"""A stored event as a Segment spec message: the line of a project's NDJSON export and an event of
a person's export, in the shape Segment's HTTP API (`/v1/batch`, `tme import --file`) reads back.

    {"type": "track", "event": "Signed Up", "messageId": "...", "timestamp": "2026-01-05T10:00:00.123Z",
     "receivedAt": "...", "userId": "...", "anonymousId": "...", "properties": {...}, "context": {...}}

- `timestamp` is the stored event time (already clock-skew corrected), so no `sentAt` is written:
  sent again, the event keeps its time. `receivedAt` is when TME received it.
- track: `event`; page/screen: `name` (the `name` property); identify: `traits`; group: `groupId`
  and `traits`; alias: `previousId`. `properties` on track, page and screen (on the others only
  when they have any). `sessionId` when the event had one (TME reads it back).
- `context` is the context as sent (without the IP address, which is never stored), plus what TME
  stored from elsewhere that it lacks: the person's user agent and language (from the request's
  headers on the native endpoints) as `userAgent` and `locale`, and the page's URL and referrer
  as `page.url` and `page.referrer`. Sent again, the event therefore gets the same browser, OS,
  device, locale, page and referrer.
- Absent ids and fields are left out, never null."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.shared.jsonutil import isoformat

COLUMNS = ("message_id", "event_time", "received_at", "type", "event_name", "user_id", "anonymous_id", "session_id",
           "group_id", "previous_id", "page", "referrer", "user_agent", "locale", "properties", "context", "traits")
COLUMNS_SQL = ", ".join(f"e.{column}" for column in COLUMNS)
WITH_PROPERTIES = frozenset({"track", "page", "screen"})
WITH_TRAITS = frozenset({"identify", "group"})


def _page_context(context: dict[str, Any], row: asyncpg.Record, properties: dict[str, Any]) -> dict[str, Any]:
    """`context.page` with the stored URL and referrer where the message would not carry them."""
    page = context.get("page")
    if page is not None and not isinstance(page, dict):
        return context  # a context.page that is not an object was stored as sent; leave it so
    page = dict(page or {})
    for key, value in (("url", row["page"]), ("referrer", row["referrer"])):
        in_properties = row["type"] == "page" and properties.get(key) == value
        if value is not None and not in_properties and page.get(key) != value:
            page[key] = value
    return {**context, "page": page} if page else context


def _context(row: asyncpg.Record, properties: dict[str, Any]) -> dict[str, Any]:
    context: dict[str, Any] = dict(row["context"] or {})
    if row["user_agent"] and not context.get("userAgent"):
        context["userAgent"] = row["user_agent"]
    if row["locale"] and not context.get("locale"):
        context["locale"] = row["locale"]
    return _page_context(context, row, properties)


def segment_message(row: asyncpg.Record) -> dict[str, Any]:
    """The message for one row of `events` (COLUMNS)."""
    kind: str = row["type"]
    properties: dict[str, Any] = row["properties"] or {}
    message: dict[str, Any] = {"type": kind}
    if kind == "track":
        message["event"] = row["event_name"]
    elif kind in ("page", "screen") and isinstance(properties.get("name"), str):
        message["name"] = properties["name"]
    message["messageId"] = row["message_id"]
    message["timestamp"] = isoformat(row["event_time"])
    message["receivedAt"] = isoformat(row["received_at"])
    for key, column in (("userId", "user_id"), ("anonymousId", "anonymous_id"), ("sessionId", "session_id"),
                        ("groupId", "group_id"), ("previousId", "previous_id")):
        if row[column] is not None:
            message[key] = row[column]
    if kind in WITH_PROPERTIES or properties:
        message["properties"] = properties
    if kind in WITH_TRAITS and row["traits"] is not None:
        message["traits"] = row["traits"]
    message["context"] = _context(row, properties)
    return message
