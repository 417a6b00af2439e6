"""The ingest routes' part of the API reference, generated from their models (models.py) and the
error catalogue, merged into the gateway's document (services/gateway/openapi.py reads
`INGEST_PATHS` and `INGEST_COMPONENTS`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode

from services.gateway.ingest.models import (
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    MAX_EVENT_BYTES,
    SEGMENT_CALLS,
    IngestError,
    IngestResult,
    NativeBatch,
    NativeEvent,
    SegmentBatch,
)
from services.shared.api.document import Error, error_responses, schemas_of
from services.shared.errors import (
    ApiError,
    EventTooLarge,
    IncompleteBody,
    InvalidEncoding,
    InvalidJson,
    InvalidWriteKey,
    MissingWriteKey,
    Overloaded,
    PayloadTooLarge,
    QueueUnavailable,
    RateLimited,
    Unavailable,
    UnsupportedEncoding,
    ValidationFailed,
)

Schema = dict[str, Any]
TAG = "Ingest"
# every error an ingest route answers with (routes.py, body.py, writekeys.py, queue.py, ratelimit.py)
ERRORS: tuple[type[ApiError], ...] = (
    InvalidJson, InvalidEncoding, IncompleteBody, MissingWriteKey, InvalidWriteKey, PayloadTooLarge, EventTooLarge,
    UnsupportedEncoding, ValidationFailed, RateLimited, Unavailable, QueueUnavailable, Overloaded,
)
# what each status means here, before the list of its codes
_STATUS_NOTES = {
    "413": f"Too large: the body (over {MAX_BATCH_BYTES // 1024} KB, also once inflated), the batch (over "
           f"{MAX_BATCH_EVENTS:,} events) or the event (over {MAX_EVENT_BYTES // 1024} KB with what the request "
           "copies into it). In a batch, an event too large is refused alone; when every event is, `rejected` "
           "lists them.",
    "422": "No event was valid: a single event, or every event of a batch (`rejected` lists each with its "
           "problems; `fields` names them as `batch[i].field`).",
    "429": "This write key sent more than its rate (TME_INGEST_RATE_PER_KEY events/s per gateway process, with a "
           "burst); nothing of the request was stored. Retry after the given delay.",
    "503": "Nothing was stored: the queue is full or unreachable, or the write key cannot be checked right now. "
           "Retry after the given delay.",
}
# Every ingest route needs the project's write key, given one of three ways: HTTP Basic user name,
# the X-Write-Key header, or `writeKey`/`apiKey` in the body. OpenAPI cannot name a body field as a
# security scheme, hence the empty alternative (no header needed) and the note the docs page shows.
WRITE_KEY_SECURITY: list[dict[str, list[str]]] = [{"writeKeyBasic": []}, {"writeKeyHeader": []}, {}]
WRITE_KEY_IN_BODY = "`writeKey` or `apiKey` in the body"
_NOTES = (
    "CORS is open (`Access-Control-Allow-Origin: *`); any content type is read as JSON (`text/plain` from "
    "sendBeacon included); `Content-Encoding: gzip` and `deflate` are accepted. Each event is checked on its own: "
    "the valid events of a batch are stored and answered 200 while `rejected` names the others by position. "
    f"Limits: {MAX_EVENT_BYTES // 1024} KB per event, {MAX_BATCH_BYTES // 1024} KB and {MAX_BATCH_EVENTS:,} events "
    "per request (the server's TME_INGEST_MAX_* settings)."
)
_KEY = "wk_3q2b8f0c1e4a4d9f8b7c6a5e4d3c2b1a"

NATIVE_EXAMPLES: dict[str, Any] = {
    "event": {"summary": "One event", "value": {
        "apiKey": _KEY, "eventName": "Signed Up", "userId": "u-1",
        "page": "https://example.com/pricing?utm_source=newsletter", "properties": {"plan": "pro"}}},
    "batch": {"summary": "A batch", "value": {"apiKey": _KEY, "batch": [
        {"eventName": "PAGE_VIEW", "anonymousId": "a-42", "page": "https://example.com/"},
        {"eventName": "Signed Up", "anonymousId": "a-42", "userId": "u-1", "properties": {"plan": "pro"}}]}},
}
SEGMENT_EXAMPLES: dict[str, Any] = {
    "track": {"userId": "u-1", "event": "Order Completed", "properties": {"total": 42.5, "currency": "EUR"},
              "timestamp": "2026-01-05T10:00:00Z"},
    "page": {"anonymousId": "a-42", "name": "Pricing",
             "properties": {"url": "https://example.com/pricing", "path": "/pricing", "referrer": ""}},
    "screen": {"userId": "u-1", "name": "Settings", "context": {"app": {"version": "3.2.1"}}},
    "identify": {"userId": "u-1", "anonymousId": "a-42", "traits": {"email": "ada@example.com", "name": "Ada"}},
    "group": {"userId": "u-1", "groupId": "acme", "traits": {"name": "Acme Inc."}},
    "alias": {"previousId": "a-42", "userId": "u-1"},
    "batch": {"batch": [
        {"type": "identify", "userId": "u-1", "traits": {"email": "ada@example.com"}},
        {"type": "track", "userId": "u-1", "event": "Order Completed", "properties": {"total": 42.5}}],
        "context": {"library": {"name": "analytics-python", "version": "2.3.0"}}},
}
SEGMENT_EXAMPLES["import"] = SEGMENT_EXAMPLES["batch"]
SEGMENT_BATCHES = ("batch", "import")

_MODELS: list[tuple[type[BaseModel], JsonSchemaMode]] = [
    (NativeEvent, "validation"), (NativeBatch, "validation"), (SegmentBatch, "validation"),
    *((model, "validation") for model in SEGMENT_CALLS.values()),
    (IngestResult, "serialization"), (IngestError, "serialization"), (Error, "serialization"),
]
_REFS, SCHEMAS = schemas_of(_MODELS)


def _responses() -> Schema:
    ok = {"description": (IngestResult.__doc__ or "").strip(),
          "content": {"application/json": {"schema": _REFS[(IngestResult, "serialization")]}}}
    responses: Schema = {"200": ok, **error_responses(ERRORS)}
    for status, note in _STATUS_NOTES.items():
        responses[status]["description"] = f"{note}\n\n{responses[status]['description']}"
    for status in ("413", "422"):  # a batch refused whole names each of its events
        responses[status]["content"]["application/json"]["schema"] = _REFS[(IngestError, "serialization")]
    return responses


def _operation(summary: str, operation_id: str, description: str, media: Schema) -> Schema:
    return {"post": {
        "tags": [TAG], "summary": summary, "operationId": operation_id, "description": description,
        "security": WRITE_KEY_SECURITY, "x-security-note": WRITE_KEY_IN_BODY,
        "requestBody": {"required": True, "content": {"application/json": media}},
        "responses": _responses(),
    }}


def _native(summary: str, operation_id: str) -> Schema:
    body = {"oneOf": [_REFS[(NativeEvent, "validation")], _REFS[(NativeBatch, "validation")]]}
    return _operation(summary, operation_id,
                      "One event, or `{apiKey, batch: [...]}`. Needs the project's write key: in `apiKey`, the "
                      "header `X-Write-Key` or as HTTP Basic user name (the browser SDK puts it in the body). "
                      + _NOTES, {"schema": body, "examples": NATIVE_EXAMPLES})


def _segment(kind: str) -> Schema:
    model = SegmentBatch if kind in SEGMENT_BATCHES else SEGMENT_CALLS[kind]
    return _operation(f"Segment-compatible {kind}", f"segment{kind.title()}",
                      "Segment HTTP Tracking API. Needs the project's write key: HTTP Basic user name (empty "
                      "password, what Segment's libraries send), the header `X-Write-Key`, or `writeKey` in the "
                      "body. When `sentAt` is given, the event time is corrected for the device's clock: "
                      "receivedAt - (sentAt - timestamp). " + _NOTES,
                      {"schema": _REFS[(model, "validation")], "example": SEGMENT_EXAMPLES[kind]})


INGEST_PATHS: dict[str, Any] = {
    "/api/track": _native("Track events (native shape)", "trackNative"),
    "/api/tracking-service/v1/public/events/": _native("Track events (the original system's path)",
                                                       "trackSeedPath"),
    **{f"/v1/{kind}": _segment(kind) for kind in (*SEGMENT_CALLS, *SEGMENT_BATCHES)},
}

INGEST_COMPONENTS: dict[str, Any] = {"schemas": SCHEMAS}
