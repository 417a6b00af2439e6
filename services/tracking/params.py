"""The rules of the parameters shared by every analytics endpoint (the query-string models in
schemas.py and the funnel body apply them): the time range (`from`, `to`) in a time zone (`tz`),
the `filters` list, choices and opaque cursors. Everything invalid becomes a 400 naming the
parameter: NUL characters (PostgreSQL text cannot hold them), moments outside
1970-01-01..2200-01-01 (Python's dates end at year 9999 and arithmetic near it overflows), time
zones PostgreSQL does not know (its `pg_timezone_names`, loaded once per process, as well as
Python's), and cursors this service did not give out."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass
from typing import Any

import orjson

from services.shared.errors import NUL_MESSAGE, ApiError, InvalidParameter
from services.tracking.filters import Condition, parse_filters

DEFAULT_DAYS = 7
MAX_PARAM_LENGTH = 8_000
MIN_MOMENT = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MAX_MOMENT = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
_RANGE_MESSAGE = "must be between 1970-01-01 and 2200-01-01"
_postgres_zones: frozenset[str] | None = None  # set by load_postgres_zones


def bad(name: str, message: str) -> ApiError:
    return InvalidParameter(f"{name}: {message}.", fields={name: message})


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def postgres_zones_loaded() -> bool:
    return _postgres_zones is not None


async def load_postgres_zones(pool: Any) -> None:
    """The time zone names PostgreSQL knows (a zone only Python knows fails in the query)."""
    global _postgres_zones
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT name FROM pg_timezone_names")
    _postgres_zones = frozenset(r["name"] for r in rows) | {"UTC"}


def parse_tz(value: str | None) -> zoneinfo.ZoneInfo:
    name = value or "UTC"
    known = len(name) <= 64 and name in _known_zones()
    if not known or (_postgres_zones is not None and name not in _postgres_zones):
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
        if not MIN_MOMENT.date() <= day < MAX_MOMENT.date():
            raise bad(name, _RANGE_MESSAGE)
        return local_midnight(day + dt.timedelta(days=1) if end else day, tz), True
    try:
        moment = dt.datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)  # a date-time without offset is wall time in `tz`
        moment = moment.astimezone(dt.UTC)
    except ValueError:
        raise bad(name, "must be an ISO date (2026-01-31) or date-time (2026-01-31T12:00:00Z)") from None
    except OverflowError:  # year 1 or 9999 shifted by its offset
        raise bad(name, _RANGE_MESSAGE) from None
    if not MIN_MOMENT <= moment <= MAX_MOMENT:
        raise bad(name, _RANGE_MESSAGE)
    return moment, False


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
    return text(query.get(name), name)


def text(value: Any, name: str) -> str | None:
    """A parameter's text, None when absent or empty."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise bad(name, "must be a string")
    if len(value) > MAX_PARAM_LENGTH:
        raise bad(name, "is too long")
    if "\x00" in value:
        raise bad(name, NUL_MESSAGE)
    return value


def refuse_nul(query: Any) -> None:
    """A 400 naming the first query parameter (name or value) that holds a NUL character."""
    for key, value in query.multi_items():
        if "\x00" in key or "\x00" in value:
            raise bad(key.replace("\x00", "\\u0000"), NUL_MESSAGE)


def filters_text(raw: str, name: str = "filters") -> list[Condition]:
    """`filters` given as a JSON-encoded array (in a query string)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad(name, "must be a JSON array of conditions") from None
    return parse_filters(data, name)


def choice(value: str, name: str, options: tuple[str, ...]) -> str:
    if value not in options:
        raise bad(name, f"must be one of {', '.join(options)}")
    return value


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def not_our_cursor(name: str = "cursor") -> ApiError:
    return bad(name, "is not a cursor this endpoint gave out")


def decode_cursor(raw: str, size: int, name: str = "cursor") -> list[Any]:
    """The values a previous page's `nextCursor` carried."""
    try:
        values = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise not_our_cursor(name) from None
    if not isinstance(values, list) or len(values) != size or not all(_cursor_value(v) for v in values):
        raise not_our_cursor(name)
    return values


def _cursor_value(value: Any) -> bool:
    """A value a cursor may carry: null, a string without NUL, an integer PostgreSQL's bigint holds."""
    if value is None:
        return True
    if isinstance(value, str):
        return "\x00" not in value
    return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63


def cursor_time(value: Any, name: str = "cursor") -> dt.datetime:
    """A timestamp stored in a cursor as integer epoch microseconds."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise not_our_cursor(name)
    try:
        moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=value)
    except OverflowError:
        raise not_our_cursor(name) from None
    if not MIN_MOMENT <= moment <= MAX_MOMENT:
        raise not_our_cursor(name)
    return moment


def epoch_us(moment: dt.datetime) -> int:
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def value_cursor(raw: str) -> tuple[int, str | None]:
    """A breakdown's position: the last row's visitors and value."""
    visitors, value = decode_cursor(raw, 2)
    if not isinstance(visitors, int) or isinstance(visitors, bool) or not (value is None or isinstance(value, str)):
        raise not_our_cursor()
    return visitors, value


def time_cursor(raw: str) -> tuple[dt.datetime, str]:
    """A list's position: the last item's time and id."""
    moment, key = decode_cursor(raw, 2)
    if not isinstance(key, str):
        raise not_our_cursor()
    return cursor_time(moment), key
