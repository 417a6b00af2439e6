"""Request bodies -> the list of raw events they carry and how to normalise each: the native
shape (one event, or `{batch: [...]}`) and Segment's (one call, or `/v1/batch|import` with
batch-level `sentAt` and `context`).

Request-level data copied into every event (a batch's `context`, the request's User-Agent) is
counted per event: each event's size limit includes it, and all the copies of one request
together may not exceed COPY_FACTOR times the request size limit, so a small request cannot
become a huge stream entry (a 40 KB batch context in 2,500 events was 100 MB)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from services.gateway.ingest import fields as f
from services.gateway.ingest.events import RequestInfo
from services.gateway.ingest.native import native_event
from services.gateway.ingest.segment import TYPES, segment_event
from services.shared.errors import EventTooLarge, PayloadTooLarge, ValidationFailed

Normalise = Callable[[Any, RequestInfo], Any]  # -> StreamEvent | Problems
Shape = Callable[[dict[str, Any]], "Parsed"]
COPY_FACTOR = 4


@dataclass
class Parsed:
    events: list[Any]
    is_batch: bool
    normalise: Normalise
    copied_bytes: int = 0  # serialised request-level data merged into every event (the batch's context)


def check_copies(parsed: Parsed, agent_bytes: int, max_event_bytes: int, max_batch_bytes: int) -> None:
    """Refuse (413) a request whose request-level data, copied into each of its events, would
    exceed the per-event limit on its own or COPY_FACTOR x the request limit in all."""
    if parsed.copied_bytes > max_event_bytes:
        raise EventTooLarge(f"The batch's context is larger than {max_event_bytes // 1024} KB, the limit per "
                            "event it is copied into.", fields={"context": "is too large"})
    copied = (parsed.copied_bytes + agent_bytes) * len(parsed.events)
    if copied > COPY_FACTOR * max_batch_bytes:
        raise PayloadTooLarge(f"The batch's context and User-Agent, copied into each of its {len(parsed.events)} "
                              f"events, come to {copied // 1024} KB, more than {COPY_FACTOR * max_batch_bytes // 1024} "
                              "KB; send fewer events per batch or the context with each event.")


def _batch_list(data: dict[str, Any]) -> list[Any]:
    items = data.get("batch")
    if not isinstance(items, list):
        raise ValidationFailed("batch must be an array of events.",
                               fields={"batch": "must be an array" if items is not None else "is required (an array)"})
    return items


def native_request(data: dict[str, Any]) -> Parsed:
    if "batch" in data:
        return Parsed(_batch_list(data), True, native_event)
    return Parsed([data], False, native_event)


def _original_event(ev: Any, info: RequestInfo) -> Any:
    """An event of the original Track My Events' snippet: its `context` was the caller's own data
    (`__trk.trackEvent({eventName, context})`), so it is stored as the event's properties, as the
    import of the original's history and tme.js's `__trk` store it; one that names `properties`
    is read as a native event."""
    if type(ev) is dict and "properties" not in ev and "context" in ev:
        ev = {**ev, "properties": ev["context"]}
        del ev["context"]
    return native_event(ev, info)


def original_request(data: dict[str, Any]) -> Parsed:
    """The native shape as the original system's path (`/api/tracking-service/v1/public/events/`) takes it."""
    parsed = native_request(data)
    parsed.normalise = _original_event
    return parsed


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
            summary = "; ".join(f"{k}: {v}" for k, v in problems.items())
            raise ValidationFailed(f"Invalid batch ({summary}).", fields=dict(problems))
        return Parsed(items, True, lambda ev, info: segment_event(
            ev, info, forced_type=None, batch_sent_at=sent_at, batch_context=context),
            copied_bytes=len(orjson.dumps(context)) if context else 0)

    return batch
