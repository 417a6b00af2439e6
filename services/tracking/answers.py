"""Where an analytics answer comes from: the rollup tables when the question allows it (see
rollups.py), the raw event table otherwise. Both give the same numbers."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette

from services.tracking.db import Db
from services.tracking.filters import Condition
from services.tracking.metrics import ROLLUP_ANSWERS
from services.tracking.params import TimeRange
from services.tracking.queries import breakdown, summary, timeseries


async def totals(app: Starlette, db: Db, project_id: int, rng: TimeRange,
                 conditions: list[Condition]) -> summary.Totals:
    ROLLUP_ANSWERS.labels("summary", "raw").inc()
    return await summary.raw_totals(db, project_id, rng, conditions)


async def series_counts(app: Starlette, db: Db, project_id: int, rng: TimeRange, conditions: list[Condition],
                        metric: str, interval: str) -> dict[int, int]:
    ROLLUP_ANSWERS.labels("timeseries", "raw").inc()
    return await timeseries.raw_counts(db, project_id, rng, conditions, metric, interval)


async def breakdown_rows(app: Starlette, db: Db, project_id: int, rng: TimeRange, conditions: list[Condition],
                         by: str, limit: int, after: tuple[int, str | None] | None) -> list[dict[str, Any]]:
    ROLLUP_ANSWERS.labels("breakdown", "raw").inc()
    return await breakdown.raw_breakdown(db, project_id, rng, conditions, by, limit, after)
