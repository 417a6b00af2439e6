"""The rules of the funnel definition posted to `POST /api/projects/{id}/funnels` (its shape is
AnalyticsFunnelRequest in schemas.py): steps, a window and filters; every problem is a 400 naming
the field (`steps[2].event`, `windowSeconds`). The range (`from`, `to`, `tz`) follows params.py's
rules, checked once the service's largest range is known."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from services.shared.errors import ApiError, InvalidParameter
from services.tracking.filters import Condition, parse_filters
from services.tracking.params import text
from services.tracking.queries.funnels import Step

MIN_STEPS, MAX_STEPS = 2, 10
MAX_WINDOW_SECONDS = 90 * 86_400
DEFAULT_WINDOW_SECONDS = 86_400
MAX_EVENT_NAME = 200
RANGE_FIELDS = ("from", "to", "tz")


@dataclass(frozen=True)
class FunnelDefinition:
    steps: list[Step]
    window: dt.timedelta
    conditions: list[Condition]


def _bad(field: str, message: str) -> ApiError:
    return InvalidParameter(f"{field}: {message}.", fields={field: message})


def _step(item: Any, index: int) -> Step:
    where = f"steps[{index}]"
    if not isinstance(item, dict):
        raise _bad(where, "must be an object with event and optional filters")
    event = item.get("event")
    if not isinstance(event, str) or not 0 < len(event) <= MAX_EVENT_NAME:
        raise _bad(f"{where}.event", f"must be an event name (1 to {MAX_EVENT_NAME} characters)")
    conditions = parse_filters(item["filters"], f"{where}.filters") if item.get("filters") is not None else []
    return Step(event, conditions)


def parse_definition(body: dict[str, Any]) -> FunnelDefinition:
    """The steps, window and filters; the range fields checked to be text (parse_range reads them)."""
    steps = body.get("steps")
    if not isinstance(steps, list) or not MIN_STEPS <= len(steps) <= MAX_STEPS:
        raise _bad("steps", f"must be a list of {MIN_STEPS} to {MAX_STEPS} steps")
    parsed = [_step(item, i) for i, item in enumerate(steps)]
    window = body.get("windowSeconds", DEFAULT_WINDOW_SECONDS)
    if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window <= MAX_WINDOW_SECONDS:
        raise _bad("windowSeconds", f"must be an integer between 1 and {MAX_WINDOW_SECONDS}")
    conditions = parse_filters(body["filters"], "filters") if body.get("filters") is not None else []
    for name in RANGE_FIELDS:
        text(body.get(name), name)
    return FunnelDefinition(parsed, dt.timedelta(seconds=window), conditions)
