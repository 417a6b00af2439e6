"""Field readers for one incoming event: each reads a field, checks its type and size, and on a
mistake records a precise message under the field's name instead of raising, so one call can
report every problem of an event at once."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

from services.shared.errors import ValidationFailed

MAX_ID = 255
MAX_NAME = 255
MAX_URL = 8192
MIN_TIME_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
MAX_TIME_MS = 7_258_118_400_000  # 2200-01-01T00:00:00Z
MAX_DEPTH = 32  # levels of objects/arrays in properties, context, traits (the field itself is level 1)
_CONTAINERS = (dict, list)


# NUL characters (refused by PostgreSQL text and jsonb) can only arrive as the JSON escape \u0000;
# the request handler looks for it in the raw body and then strips them from the whole event.


class Problems(dict[str, str]):
    """field name -> message ("" names the event itself); empty when the event is valid."""

    code = ValidationFailed.code

    def add(self, name: str, message: str) -> None:
        self.setdefault(name, message)


def text(ev: dict[str, Any], name: str, problems: Problems, *, max_len: int, required: bool = False) -> str | None:
    value = ev.get(name)
    if type(value) is str and 0 < len(value) <= max_len:  # the common case, first
        return value
    if value is None:
        if required:
            problems.add(name, "is required")
        return None
    if not isinstance(value, str):
        problems.add(name, f"must be a string, not {json_type(value)}")
        return None
    if required and not value.strip():
        problems.add(name, "must not be empty")
        return None
    if len(value) > max_len:
        problems.add(name, f"must be at most {max_len} characters")
        return None
    return value


def ident(ev: dict[str, Any], name: str, problems: Problems, *, required: bool = False) -> str | None:
    """An id given as a string or an integer (Segment allows both); stored as text."""
    value = ev.get(name)
    if type(value) is str and 0 < len(value) <= MAX_ID:  # the common case, first
        return value
    if value is None or value == "":
        if required:
            problems.add(name, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        problems.add(name, f"must be a string or a number, not {json_type(value)}")
        return None
    if isinstance(value, float):
        if not math.isfinite(value):
            problems.add(name, "must be a finite number")
            return None
        value = int(value) if value.is_integer() else repr(value)
    out = value if isinstance(value, str) else str(value)
    if len(out) > MAX_ID:
        problems.add(name, f"must be at most {MAX_ID} characters")
        return None
    return out


def obj(ev: dict[str, Any], name: str, problems: Problems, *, deep: bool = True) -> dict[str, Any] | None:
    """An object field; with `deep`, one nested more than MAX_DEPTH levels is a problem."""
    value = ev.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.add(name, f"must be an object, not {json_type(value)}")
        return None
    if deep and too_deep(value):
        problems.add(name, f"must not nest objects or arrays more than {MAX_DEPTH} levels deep")
        return None
    return value


def too_deep(value: dict[str, Any] | list[Any], limit: int = MAX_DEPTH) -> bool:
    """Whether objects/arrays nest more than `limit` levels below and including `value`. Deeper
    JSON cannot be serialised back (orjson stops at 255 levels: the stream entry, the API's
    answers), and no analytics question reads that deep. Recursion is bounded by `limit`."""
    return not _within(value, limit - 1)


def _within(value: dict[str, Any] | list[Any], levels: int) -> bool:
    items: Iterable[Any] = value.values() if type(value) is dict else value
    for item in items:
        kind = type(item)
        if (kind is dict or kind is list) and (levels == 0 or not _within(item, levels - 1)):
            return False
    return True


def may_nest_deep(body: bytes) -> bool:
    """False when the body has too few brackets for anything in it to nest MAX_DEPTH deep: then
    the events' objects need no walk (a single event usually, never a large batch)."""
    return body.count(b"{") + body.count(b"[") > MAX_DEPTH


def timestamp(ev: dict[str, Any], name: str, problems: Problems) -> int | None:
    """Epoch milliseconds from a number (ms) or an ISO-8601 string; None when absent."""
    value = ev.get(name)
    if type(value) is int and MIN_TIME_MS <= value < MAX_TIME_MS:  # the common case, first
        return value
    if value is None or value == "":
        return None
    ms: int | None = None
    if isinstance(value, bool):
        pass
    elif isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            problems.add(name, "must be a finite number of milliseconds")
            return None
        ms = int(value)
    elif isinstance(value, str):
        ms = _iso_ms(value)
        if ms is None:
            problems.add(name, "must be an ISO-8601 date-time (e.g. 2026-01-31T12:00:00.000Z) or epoch milliseconds")
            return None
    if ms is None:
        problems.add(name, f"must be epoch milliseconds or an ISO-8601 string, not {json_type(value)}")
        return None
    if not MIN_TIME_MS <= ms < MAX_TIME_MS:
        problems.add(name, "must be between 2000-01-01 and 2200-01-01 (epoch milliseconds, not seconds)")
        return None
    return ms


def _iso_ms(value: str) -> int | None:
    if len(value) > 64:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        return int(parsed.timestamp() * 1000)
    except (OverflowError, OSError, ValueError):
        return None


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def strip_nul(value: Any) -> Any:
    """Remove NUL characters from strings and keys (PostgreSQL text and jsonb refuse them)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {k.replace("\x00", ""): strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_nul(v) for v in value]
    return value
