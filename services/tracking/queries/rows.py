"""One stored event as the API shows it (explorer, person view, realtime, exports)."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.shared.jsonutil import isoformat

# (column, public name) in the order exports write them
FIELDS: tuple[tuple[str, str], ...] = (
    ("message_id", "messageId"),
    ("event_time", "timestamp"),
    ("received_at", "receivedAt"),
    ("type", "type"),
    ("event_name", "event"),
    ("visitor_id", "visitorId"),
    ("user_id", "userId"),
    ("anonymous_id", "anonymousId"),
    ("session_id", "sessionId"),
    ("group_id", "groupId"),
    ("previous_id", "previousId"),
    ("page", "url"),
    ("path", "path"),
    ("referrer", "referrer"),
    ("referrer_host", "referrerHost"),
    ("referrer_source", "source"),
    ("utm_source", "utmSource"),
    ("utm_medium", "utmMedium"),
    ("utm_campaign", "utmCampaign"),
    ("utm_term", "utmTerm"),
    ("utm_content", "utmContent"),
    ("browser", "browser"),
    ("browser_version", "browserVersion"),
    ("os", "os"),
    ("os_version", "osVersion"),
    ("device_type", "device"),
    ("is_bot", "isBot"),
    ("library", "library"),
    ("app_version", "appVersion"),
    ("locale", "locale"),
    ("screen_class", "screen"),
    ("properties", "properties"),
    ("context", "context"),
    ("traits", "traits"),
)
COLUMNS_SQL = ", ".join(f"e.{column}" for column, _ in FIELDS)
TIME_FIELDS = frozenset({"event_time", "received_at"})


def event_json(row: asyncpg.Record) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column, name in FIELDS:
        value = row[column]
        out[name] = isoformat(value) if column in TIME_FIELDS else value
    return out
