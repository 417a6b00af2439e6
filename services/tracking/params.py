"""Query parameters shared by every analytics endpoint: the time range (`from`, `to`) in a time
zone (`tz`), the `filters` list, page size and opaque cursors. Everything invalid becomes a 400
naming the parameter."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass
from typing import Any

import orjson

from services.shared.errors import ApiError
from services.shared.validation import bounded_int
from services.tracking.filters import Condition, parse_filters

DEFAULT_DAYS = 7
MAX_PARAM_LENGTH = 8_000


def bad(name: str, message: str) -> ApiError:
    return ApiError(400, f"{name}: {message}.", code="invalid_parameter", fields={name: message})


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def parse_tz(value: str | None) -> zoneinfo.ZoneInfo:
    name = value or "UTC"
    if len(name) > 64 or name not in _known_zones():
        raise bad("tz", "must be an IANA time zone name such as Europe/Berlin")
    return zoneinfo.ZoneInfo(name)


def local_midnight(day: dt.date, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)


def _parse_moment(value: str, name: str, tz: zoneinfo.ZoneInfo, *, end: bool) -> tuple[dt.datetime, bool]:
    """An instant (UTC) and whether it was a plain date. A date `to` means the end of that day."""
    text = value.strip()
    if len(text) == 10:
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise bad(name, "must be an ISO date (2026-01-31) or date-time (2026-01-31T12:00:00Z)") from None
        return local_midnight(day + dt.timedelta(days=1) if end else day, tz), True
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise bad(name, "must be an ISO date (2026-01-31) or date-time (2026-01-31T12:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)  # a date-time without offset is wall time in `tz`
    return moment.astimezone(dt.UTC), False


@dataclass(frozen=True)
class TimeRange:
    start: dt.datetime  # inclusive, UTC
    end: dt.datetime  # exclusive, UTC
    tz: zoneinfo.ZoneInfo

    @property
    def tz_name(self) -> str:
        return self.tz.key

    def local(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(self.tz)

    def whole_days(self) -> bool:
        return all(self.local(m).time() == dt.time(0) for m in (self.start, self.end))

    def previous(self) -> TimeRange:
        """The period of the same length just before: the same number of calendar days in `tz`
        for whole-day ranges (DST days included), else the same duration."""
        if self.whole_days():
            first, last = self.local(self.start).date(), self.local(self.end).date()
            start = local_midnight(first - (last - first), self.tz)
        else:
            start = self.start - (self.end - self.start)
        return TimeRange(start, self.start, self.tz)

    def as_json(self) -> dict[str, str]:
        return {"from": self.local(self.start).isoformat(), "to": self.local(self.end).isoformat(),
                "tz": self.tz_name}


def parse_range(query: Any, *, max_days: int, default_days: int = DEFAULT_DAYS,
                default_start: dt.datetime | None = None, now: dt.datetime | None = None) -> TimeRange:
    """`from`/`to`/`tz` from a query mapping (or a JSON body). Defaults: the last `default_days`
    calendar days in `tz`, today included."""
    tz = parse_tz(_text(query, "tz"))
    now = now or dt.datetime.now(dt.UTC)
    raw_from, raw_to = _text(query, "from"), _text(query, "to")
    if raw_to:
        end, _ = _parse_moment(raw_to, "to", tz, end=True)
    else:
        end = local_midnight(now.astimezone(tz).date() + dt.timedelta(days=1), tz)
    if raw_from:
        start, _ = _parse_moment(raw_from, "from", tz, end=False)
    elif default_start is not None and not raw_to:
        start = default_start
    else:
        start = local_midnight(end.astimezone(tz).date() - dt.timedelta(days=default_days), tz)
        if start >= end:
            start = end - dt.timedelta(days=default_days)
    if start >= end:
        raise bad("to", "must be after from")
    if end - start > dt.timedelta(days=max_days):
        raise bad("from", f"the range may cover at most {max_days} days")
    return TimeRange(start, end, tz)


def _text(query: Any, name: str) -> str | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise bad(name, "must be a string")
    if len(value) > MAX_PARAM_LENGTH:
        raise bad(name, "is too long")
    return value


def filters_param(query: Any, name: str = "filters") -> list[Condition]:
    """`filters` as a JSON-encoded array in the query string."""
    raw = _text(query, name)
    if raw is None:
        return []
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad(name, "must be a JSON array of conditions") from None
    return parse_filters(data, name)


def limit_param(query: Any, *, default: int = 100, high: int = 1000) -> int:
    return bounded_int(query.get("limit"), "limit", default=default, low=1, high=high)


def choice(query: Any, name: str, options: tuple[str, ...], default: str | None = None) -> str:
    value = _text(query, name)
    if value is None:
        if default is None:
            raise bad(name, f"is required (one of {', '.join(options)})")
        return default
    if value not in options:
        raise bad(name, f"must be one of {', '.join(options)}")
    return value


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(query: Any, size: int, name: str = "cursor") -> list[Any] | None:
    """The values a previous page's `nextCursor` carried, or None on the first page."""
    raw = _text(query, name)
    if raw is None:
        return None
    try:
        values = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise bad(name, "is not a cursor this endpoint gave out") from None
    if not isinstance(values, list) or len(values) != size:
        raise bad(name, "is not a cursor this endpoint gave out")
    return values


def cursor_time(value: Any, name: str = "cursor") -> dt.datetime:
    """A timestamp stored in a cursor as integer epoch microseconds."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise bad(name, "is not a cursor this endpoint gave out")
    try:
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=value)
    except OverflowError:
        raise bad(name, "is not a cursor this endpoint gave out") from None


def epoch_us(moment: dt.datetime) -> int:
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
