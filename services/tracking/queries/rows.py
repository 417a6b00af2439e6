"""One stored event as the API shows it (explorer, person view, realtime, exports): the columns of
`events` that AnalyticsEvent (services/tracking/public.py) lists, under its public names."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.shared.jsonutil import isoformat
from services.tracking.public import AnalyticsEvent

# (column, public name) in the model's order, which exports write
FIELDS: tuple[tuple[str, str], ...] = tuple((column, field.alias or column)
                                            for column, field in AnalyticsEvent.model_fields.items())
COLUMNS_SQL = ", ".join(f"e.{column}" for column, _ in FIELDS)
TIME_FIELDS = frozenset({"event_time", "received_at"})


def event_json(row: asyncpg.Record) -> dict[str, Any]:
    """The event as AnalyticsEvent serialises it, for the streams (SSE, NDJSON, CSV) that write
    rows as they come rather than validating each into the model."""
    out: dict[str, Any] = {}
    for column, name in FIELDS:
        value = row[column]
        out[name] = isoformat(value) if column in TIME_FIELDS else value
    return out


def stored_event(row: asyncpg.Record) -> AnalyticsEvent:
    return AnalyticsEvent.model_validate(dict(row))
