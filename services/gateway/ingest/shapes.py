"""Request bodies -> the list of raw events they carry and how to normalise each: the native
shape (one event, or `{batch: [...]}`) and Segment's (one call, or `/v1/batch|import` with
batch-level `sentAt` and `context`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.gateway.ingest import fields as f
from services.gateway.ingest.events import RequestInfo
from services.gateway.ingest.native import native_event
from services.gateway.ingest.segment import TYPES, segment_event
from services.shared.errors import ApiError

Normalise = Callable[[Any, RequestInfo], Any]  # -> StreamEvent | Problems
Shape = Callable[[dict[str, Any]], "Parsed"]


@dataclass
class Parsed:
    events: list[Any]
    is_batch: bool
    normalise: Normalise


def _batch_list(data: dict[str, Any]) -> list[Any]:
    items = data.get("batch")
    if not isinstance(items, list):
        raise ApiError(422, "batch must be an array of events.", code="validation_error",
                       fields={"batch": "must be an array" if items is not None else "is required (an array)"})
    return items


def native_request(data: dict[str, Any]) -> Parsed:
    if "batch" in data:
        return Parsed(_batch_list(data), True, native_event)
    return Parsed([data], False, native_event)


def segment_request(kind: str) -> Shape:
    """The shape of `/v1/<kind>`: one call of that type, or a batch (`batch`, `import`)."""
    if kind in TYPES:
        def single(data: dict[str, Any]) -> Parsed:
            return Parsed([data], False, lambda ev, info: segment_event(ev, info, forced_type=kind))
        return single

    def batch(data: dict[str, Any]) -> Parsed:
        items = _batch_list(data)
        problems = f.Problems()
        sent_at = f.timestamp(data, "sentAt", problems)
        context = f.obj(data, "context", problems)
        if problems:
            raise ApiError(422, f"Invalid batch ({'; '.join(f'{k}: {v}' for k, v in problems.items())}).",
                           code="validation_error", fields=dict(problems))
        return Parsed(items, True, lambda ev, info: segment_event(
            ev, info, forced_type=None, batch_sent_at=sent_at, batch_context=context))

    return batch
