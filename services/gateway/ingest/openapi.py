"""OpenAPI description of the ingest endpoints, merged into the gateway's document
(services/gateway/openapi.py reads `INGEST_PATHS` and `INGEST_COMPONENTS`)."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

_TIME: Schema = {"oneOf": [{"type": "string", "format": "date-time"}, {"type": "integer"}],
                 "description": "ISO-8601 date-time or epoch milliseconds (2000-01-01 .. 2200-01-01)."}
_ID: Schema = {"type": ["string", "integer"], "maxLength": 255}
_OBJ: Schema = {"type": "object", "additionalProperties": True}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _err(name: str) -> Schema:
    return {"$ref": f"#/components/responses/{name}"}


SCHEMAS: dict[str, Schema] = {
    "NativeEvent": {
        "type": "object",
        "description": "One event in the native (seed-compatible) shape.",
        "required": ["eventName"],
        "properties": {
            "apiKey": {"type": "string", "description": "The project's write key (or send header X-Write-Key)."},
            "eventName": {"type": "string", "minLength": 1, "maxLength": 255,
                          "description": "`PAGE_VIEW` is stored as a page view (type `page`)."},
            "eventTime": {**_TIME, "description": "When it happened; epoch ms (default: when received)."},
            "sentAt": {**_TIME, "description": "When the client sent it; enables clock-skew correction."},
            "sessionId": _ID,
            "userId": {**_ID, "description": "Default: a temporary id `temp:<time><random>`."},
            "anonymousId": _ID,
            "messageId": {**_ID, "description": "Retries with the same messageId are stored once."},
            "page": {"type": "string", "maxLength": 8192, "description": "Page URL (path and UTM are extracted)."},
            "referrer": {"type": "string", "maxLength": 8192},
            "context": _OBJ,
            "properties": _OBJ,
        },
    },
    "NativeBatch": {
        "type": "object",
        "required": ["batch"],
        "properties": {"apiKey": {"type": "string"},
                       "batch": {"type": "array", "maxItems": 2500, "items": _ref("NativeEvent")}},
    },
    "SegmentEvent": {
        "type": "object",
        "description": "Segment HTTP Tracking API fields. track needs `event`; group needs `groupId`; alias "
                       "needs `previousId` and `userId`; the others need `userId` or `anonymousId`.",
        "properties": {
            "type": {"type": "string", "enum": ["track", "page", "screen", "identify", "group", "alias"],
                     "description": "Required inside /v1/batch and /v1/import."},
            "writeKey": {"type": "string"},
            "messageId": _ID, "userId": _ID, "anonymousId": _ID, "groupId": _ID, "previousId": _ID,
            "event": {"type": "string", "maxLength": 255}, "name": {"type": "string", "maxLength": 255},
            "category": {"type": "string", "maxLength": 255},
            "properties": _OBJ, "traits": _OBJ, "context": _OBJ, "integrations": _OBJ,
            "timestamp": _TIME, "originalTimestamp": _TIME, "sentAt": _TIME,
        },
    },
    "SegmentBatch": {
        "type": "object",
        "required": ["batch"],
        "properties": {"batch": {"type": "array", "maxItems": 2500, "items": _ref("SegmentEvent")},
                       "sentAt": _TIME, "context": _OBJ, "writeKey": {"type": "string"}},
    },
    "IngestResult": {
        "type": "object",
        "required": ["success", "accepted", "rejected"],
        "properties": {
            "success": {"type": "boolean", "const": True},
            "accepted": {"type": "integer", "description": "Events queued for storage."},
            "rejected": {"type": "array", "description": "Invalid events, by position in the request.",
                         "items": {"type": "object", "required": ["index", "error"],
                                   "properties": {"index": {"type": "integer"},
                                                  "error": {"type": "object", "properties": {
                                                      "code": {"type": "string"}, "message": {"type": "string"},
                                                      "fields": {"type": "object",
                                                                 "additionalProperties": {"type": "string"}}}}}}},
        },
        "example": {"success": True, "accepted": 2, "rejected": [{"index": 1, "error": {
            "code": "validation_error", "message": "Invalid event (eventName: is required).",
            "fields": {"eventName": "is required"}}}]},
    },
}

RESPONSES: dict[str, Any] = {
    "IngestRateLimited": {
        "description": "This write key sent more than its rate (TME_INGEST_RATE_PER_KEY events/s per gateway "
                       "process, with a burst); nothing of the request was stored. Retry after the given delay.",
        "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
        "content": {"application/json": {"schema": _ref("Error")}},
    },
    "IngestOverloaded": {
        "description": "The queue is full or unreachable; nothing was stored. Retry after the given delay.",
        "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
        "content": {"application/json": {"schema": _ref("Error")}},
    },
}

_COMMON_RESPONSES = {
    "200": {"description": "Accepted (all, or all valid events; `rejected` lists the others).",
            "content": {"application/json": {"schema": _ref("IngestResult")}}},
    "400": _err("BadRequest"),
    "401": _err("Unauthorized"),
    "413": _err("PayloadTooLarge"),
    "415": {"description": "Unsupported Content-Encoding (gzip and deflate are accepted).",
            "content": {"application/json": {"schema": _ref("Error")}}},
    "422": _err("ValidationError"),
    "429": _err("IngestRateLimited"),
    "503": _err("IngestOverloaded"),
}
_NOTES = ("CORS is open (`Access-Control-Allow-Origin: *`); any content type is read as JSON (`text/plain` "
          "from sendBeacon included); `Content-Encoding: gzip` is accepted. Limits: 32 KB per event, 500 KB and "
          "2,500 events per request.")


# Every ingest route needs the project's write key, given one of three ways: HTTP Basic user name,
# the X-Write-Key header, or `writeKey`/`apiKey` in the body. OpenAPI cannot name a body field as a
# security scheme, hence the empty alternative (no header needed) and the note the docs page shows.
WRITE_KEY_SECURITY: list[dict[str, list[str]]] = [{"writeKeyBasic": []}, {"writeKeyHeader": []}, {}]
WRITE_KEY_IN_BODY = "`writeKey` or `apiKey` in the body"
_KEY = "wk_3q2b8f0c1e4a4d9f8b7c6a5e4d3c2b1a"

_NATIVE_EXAMPLES = {
    "event": {"summary": "One event", "value": {
        "apiKey": _KEY, "eventName": "Signed Up", "userId": "u-1",
        "page": "https://example.com/pricing?utm_source=newsletter", "properties": {"plan": "pro"}}},
    "batch": {"summary": "A batch", "value": {"apiKey": _KEY, "batch": [
        {"eventName": "PAGE_VIEW", "anonymousId": "a-42", "page": "https://example.com/"},
        {"eventName": "Signed Up", "anonymousId": "a-42", "userId": "u-1", "properties": {"plan": "pro"}}]}},
}
_SEGMENT_EXAMPLES: dict[str, Any] = {
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
_SEGMENT_EXAMPLES["import"] = _SEGMENT_EXAMPLES["batch"]


def _native(summary: str, op_id: str) -> dict[str, Any]:
    return {"post": {
        "tags": ["Ingest"], "summary": summary, "operationId": op_id,
        "description": "One event, or `{apiKey, batch: [...]}`. Needs the project's write key: in `apiKey`, the "
                       "header `X-Write-Key` or as HTTP Basic user name (the browser SDK puts it in the body). "
                       + _NOTES,
        "security": WRITE_KEY_SECURITY, "x-security-note": WRITE_KEY_IN_BODY,
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"oneOf": [_ref("NativeEvent"), _ref("NativeBatch")]}, "examples": _NATIVE_EXAMPLES}}},
        "responses": _COMMON_RESPONSES,
    }}


def _segment(kind: str) -> dict[str, Any]:
    batch = kind in ("batch", "import")
    return {"post": {
        "tags": ["Ingest"], "summary": f"Segment-compatible {kind}", "operationId": f"segment{kind.title()}",
        "description": ("Segment HTTP Tracking API. Needs the project's write key: HTTP Basic user name (empty "
                        "password, what Segment's libraries send), the header `X-Write-Key`, or `writeKey` in the "
                        "body. When `sentAt` is given, the event time is corrected for the device's clock: "
                        "receivedAt - (sentAt - timestamp). " + _NOTES),
        "security": WRITE_KEY_SECURITY, "x-security-note": WRITE_KEY_IN_BODY,
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": _ref("SegmentBatch" if batch else "SegmentEvent"), "example": _SEGMENT_EXAMPLES[kind]}}},
        "responses": _COMMON_RESPONSES,
    }}


INGEST_PATHS: dict[str, Any] = {
    "/api/track": _native("Track events (native shape)", "trackNative"),
    "/api/tracking-service/v1/public/events/": _native("Track events (the original system's path)",
                                                       "trackSeedPath"),
    **{f"/v1/{kind}": _segment(kind)
       for kind in ("track", "page", "screen", "identify", "group", "alias", "batch", "import")},
}

INGEST_COMPONENTS: dict[str, Any] = {"schemas": SCHEMAS, "responses": RESPONSES}
