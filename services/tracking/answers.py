"""Where an analytics answer comes from: the rollup tables when the question allows it (see
rollups/), the raw event table otherwise. Both give the same numbers, except that unique
visitors over a range of at least `rollup_min_events` events are a HyperLogLog estimate.

Rollups answer when they are enabled, the question has no filter, its range starts and ends on
UTC hours (and its buckets do: time zones a whole number of hours from UTC, no minute buckets),
the rollup job has finished a first run, and the range holds at least `rollup_min_events`
events; smaller ranges are answered exactly from raw events, which is fast at that size.

Retention comes from a cohort matrix (exact, see rollups/cohorts.py) when it has no filter and no
start or returning event, its time zone is a whole number of hours from UTC at all times, its
range starts on a period and ends on one or after the job's watermark, and the project has at
least `rollup_min_events` events. The first such question in a zone and period is answered from
raw events and registers the matrix (up to `retention_matrices` per project), and wakes the
rollup job, which computes it at once. Matrices nobody asked for in `retention_matrix_days` are
dropped by the job."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from typing import Any

from starlette.applications import Starlette

from services.tracking.buckets import whole_hour_offsets
from services.tracking.db import Db
from services.tracking.filters import Condition
from services.tracking.metrics import ROLLUP_ANSWERS
from services.tracking.params import TimeRange
from services.tracking.queries import breakdown, retention, summary, timeseries
from services.tracking.rollups import read
from services.tracking.rollups.hourly import DIMENSIONS
from services.tracking.state import tracking_state


def _on_hours(rng: TimeRange) -> bool:
    return all(m.timestamp() % 3600 == 0 for m in (rng.start, rng.end))


async def _use_rollups(app: Starlette, db: Db, project_id: int, rng: TimeRange, conditions: list[Condition],
                       interval: str | None = None) -> bool:
    settings = tracking_state(app).settings
    if not settings.rollups_enabled or conditions or not _on_hours(rng):
        return False
    if interval is not None and (interval == "minute" or not whole_hour_offsets(rng)):
        return False
    events = await read.size(db, project_id, rng)
    return events is not None and events >= settings.rollup_min_events


async def totals(app: Starlette, db: Db, project_id: int, rng: TimeRange,
                 conditions: list[Condition]) -> summary.Totals:
    if await _use_rollups(app, db, project_id, rng, conditions):
        ROLLUP_ANSWERS.labels("summary", "rollup").inc()
        return await read.totals(db, project_id, rng)
    ROLLUP_ANSWERS.labels("summary", "raw").inc()
    return await summary.raw_totals(db, project_id, rng, conditions)


async def series_counts(app: Starlette, db: Db, project_id: int, rng: TimeRange, conditions: list[Condition],
                        metric: str, interval: str) -> dict[int, int]:
    if await _use_rollups(app, db, project_id, rng, conditions, interval):
        ROLLUP_ANSWERS.labels("timeseries", "rollup").inc()
        return await read.series_counts(db, project_id, rng, metric, interval)
    ROLLUP_ANSWERS.labels("timeseries", "raw").inc()
    return await timeseries.raw_counts(db, project_id, rng, conditions, metric, interval)


async def breakdown_rows(app: Starlette, db: Db, project_id: int, rng: TimeRange, conditions: list[Condition],
                         by: str, limit: int, after: tuple[int, str | None] | None) -> list[dict[str, Any]]:
    if by in DIMENSIONS and await _use_rollups(app, db, project_id, rng, conditions):
        ROLLUP_ANSWERS.labels("breakdown", "rollup").inc()
        return await read.breakdown_rows(db, project_id, rng, by, limit, after)
    ROLLUP_ANSWERS.labels("breakdown", "raw").inc()
    return await breakdown.raw_breakdown(db, project_id, rng, conditions, by, limit, after)


@functools.lru_cache(maxsize=256)
def _always_whole_hours(tz_name: str) -> bool:
    """Whether the zone has been a whole number of hours from UTC since 1970 (and stays so to 2040)."""
    start, end = dt.datetime(1970, 1, 1, tzinfo=dt.UTC), dt.datetime(2040, 1, 1, tzinfo=dt.UTC)
    return whole_hour_offsets(TimeRange(start, end, zoneinfo.ZoneInfo(tz_name)))


def _starts_period(moment: dt.datetime, rng: TimeRange, period: str) -> bool:
    local = rng.local(moment)
    return local.time() == dt.time(0) and retention.period_start(local.date(), period) == local.date()


async def _cohort_matrix(app: Starlette, db: Db, project_id: int, rng: TimeRange, conditions: list[Condition],
                         period: str, start_event: str | None, return_event: str | None) -> read.MatrixState | None:
    """The state of the matrix that could answer this retention question, None when none can."""
    settings = tracking_state(app).settings
    if (not settings.rollups_enabled or conditions or start_event is not None or return_event is not None
            or not _always_whole_hours(rng.tz_name) or not _starts_period(rng.start, rng, period)):
        return None
    state = await read.cohort_matrix_state(db, project_id, rng, period)
    if state.watermark is None or state.events < settings.rollup_min_events:
        return None
    if not _starts_period(rng.end, rng, period) and rng.end <= state.watermark:
        return None  # a range ending inside a period, in the past: only raw events know where
    return state


async def retention_cohorts(app: Starlette, db: Db, project_id: int, rng: TimeRange, conditions: list[Condition],
                            period: str, periods: int, start_event: str | None,
                            return_event: str | None) -> list[dict[str, Any]]:
    matrix = await _cohort_matrix(app, db, project_id, rng, conditions, period, start_event, return_event)
    if matrix is not None and matrix.ready:
        ROLLUP_ANSWERS.labels("retention", "rollup").inc()
        first, last = retention.first_and_last(rng, period)
        counts = await read.cohort_counts(db, project_id, rng.tz_name, period, first, last)
        await read.note_cohort_matrix_use(db, project_id, rng.tz_name, period)
        return retention.triangle(counts, rng, period, periods)
    ROLLUP_ANSWERS.labels("retention", "raw").inc()
    counts = await retention.raw_counts(db, project_id, rng, conditions, period, start_event, return_event)
    settings = tracking_state(app).settings
    if matrix is not None and matrix.ready is None and await read.register_cohort_matrix(
            db, project_id, rng.tz_name, period, settings.retention_matrices):
        rollups = tracking_state(app).rollups
        if rollups is not None:  # the job computes the matrix now rather than after its pause
            rollups.wake()
    return retention.triangle(counts, rng, period, periods)
