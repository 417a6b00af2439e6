"""Time buckets in the caller's time zone, DST included.

Day, week (ISO, Monday) and month buckets are local calendar periods: PostgreSQL truncates the
local wall time (`date_trunc(unit, t AT TIME ZONE tz)`), so a DST day is one bucket of 23 or 25
hours. Minute and hour buckets are real elapsed periods aligned to local wall-clock boundaries
with the UTC offset in force at the event: a spring-forward day has 23 hour buckets, a
fall-back day 25 (the repeated 02:00 hour appears twice, with its two offsets). Python builds
the zero-filled list of buckets with the same rules; both sides key a bucket by its start
instant (epoch seconds)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Literal, get_args

from services.tracking.params import TimeRange, bad
from services.tracking.sql import Params

Interval = Literal["minute", "hour", "day", "week", "month"]
INTERVALS: tuple[Interval, ...] = get_args(Interval)
_SECONDS = {"minute": 60, "hour": 3600}
_APPROX = {"minute": 60, "hour": 3600, "day": 86_400, "week": 7 * 86_400, "month": 28 * 86_400}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def bucket_sql(interval: str, column: str, params: Params, tz: str) -> str:
    """SQL for the start of `column`'s bucket, as epoch seconds (bigint)."""
    zone = params.add(tz)
    if interval in _SECONDS:
        size = _SECONDS[interval]
        offset = f"extract(epoch FROM ({column} AT TIME ZONE {zone}) - ({column} AT TIME ZONE 'UTC'))"
        return (f"(floor((extract(epoch FROM {column}) + {offset}) / {size}) * {size} - {offset})::bigint")
    unit = {"day": "day", "week": "week", "month": "month"}[interval]
    return f"extract(epoch FROM (date_trunc('{unit}', {column} AT TIME ZONE {zone}) AT TIME ZONE {zone}))::bigint"


def _epoch(moment: dt.datetime) -> int:
    return int((moment - _EPOCH).total_seconds())


def _elapsed_bucket(moment: dt.datetime, size: int, tz: zoneinfo.ZoneInfo) -> int:
    shift = moment.astimezone(tz).utcoffset()
    assert shift is not None  # a datetime in a ZoneInfo zone always has an offset
    offset = int(shift.total_seconds())
    return (_epoch(moment) + offset) // size * size - offset


def _calendar_start(day: dt.date, interval: str) -> dt.date:
    if interval == "week":
        return day - dt.timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def _calendar_next(day: dt.date, interval: str) -> dt.date:
    if interval == "week":
        return day + dt.timedelta(days=7)
    if interval == "month":
        return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return day + dt.timedelta(days=1)


def _local_midnight_epoch(day: dt.date, tz: zoneinfo.ZoneInfo) -> int:
    return _epoch(dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC))


def bucket_of(moment: dt.datetime, interval: str, tz: zoneinfo.ZoneInfo) -> int:
    """The start (epoch seconds) of the bucket `moment` falls in: the Python twin of bucket_sql."""
    if interval in _SECONDS:
        return _elapsed_bucket(moment, _SECONDS[interval], tz)
    return _local_midnight_epoch(_calendar_start(moment.astimezone(tz).date(), interval), tz)


def whole_hour_offsets(rng: TimeRange) -> bool:
    """Whether `tz` is a whole number of hours from UTC throughout the range (sampled every
    6 hours and at both ends), so its hour, day, week and month buckets start on UTC hours."""
    moment = rng.start
    while True:
        offset = moment.astimezone(rng.tz).utcoffset()
        if offset is None or offset.total_seconds() % 3600:
            return False
        if moment >= rng.end:
            return True
        moment = min(moment + dt.timedelta(hours=6), rng.end)


def series(rng: TimeRange, interval: str, max_buckets: int) -> list[int]:
    """The start (epoch seconds) of every bucket overlapping the range, in order."""
    estimate = (rng.end - rng.start).total_seconds() / _APPROX[interval]
    if estimate > max_buckets:
        raise bad("interval", f"{interval} buckets over this range would be more than {max_buckets}; "
                              f"choose a longer interval or a shorter range")
    starts: list[int] = []
    if interval in _SECONDS:
        size = _SECONDS[interval]
        step = dt.timedelta(seconds=min(size, 900))  # offsets move in multiples of 15 minutes
        moment = rng.start
        while moment < rng.end:
            bucket = _elapsed_bucket(moment, size, rng.tz)
            if not starts or bucket > starts[-1]:
                starts.append(bucket)
            moment += step
    else:
        last_day = (rng.end - dt.timedelta(microseconds=1)).astimezone(rng.tz).date()
        day = _calendar_start(rng.start.astimezone(rng.tz).date(), interval)
        while day <= last_day:
            starts.append(_local_midnight_epoch(day, rng.tz))
            day = _calendar_next(day, interval)
    if len(starts) > max_buckets:
        raise bad("interval", f"{interval} buckets over this range would be more than {max_buckets}; "
                              f"choose a longer interval or a shorter range")
    return starts


def label(epoch: int, tz: zoneinfo.ZoneInfo) -> str:
    """A bucket start as local ISO time with its offset (2026-10-25T02:00:00+01:00)."""
    return (_EPOCH + dt.timedelta(seconds=epoch)).astimezone(tz).isoformat()
