"""The event stream's entry format, written by the gateway and read by the subscriber.

One Redis Stream entry carries one accepted ingest request: the project it belongs to, the
write key it came with, when it was received, the W3C trace context of the request, and the
whole batch of validated, enriched events as one orjson array (one entry per request, not per
event: redis-py spends most of an XADD's cost in the client).

Fields (bytes): ``v`` format version, ``p`` project id, ``k`` write key, ``r`` receivedAt
(epoch ms), ``e`` the events (JSON array of :class:`StreamEvent`), ``n`` how many (optional:
entries written before it existed lack it), ``tp``/``ts`` traceparent and tracestate when a
span was active.

The subscriber hands ``e`` to PostgreSQL as it is, which parses it (no Python object per
event); it parses an entry itself only to count its events when ``n`` is missing and to read
identify/alias events, which it finds by their compact ``"type":"identify"`` / ``"type":"alias"``
(orjson writes no spaces)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import UnionType
from typing import Any, TypedDict, get_args, get_origin, get_type_hints

import orjson

FORMAT_VERSION = b"1"


class StreamEvent(TypedDict, total=False):
    """One normalised event as the gateway enqueues it (times are epoch milliseconds)."""

    messageId: str
    type: str  # track | page | screen | identify | group | alias
    event: str  # the event name stored in events.event_name
    userId: str | None
    anonymousId: str | None
    sessionId: str | None
    groupId: str | None
    previousId: str | None
    timestamp: int  # event time after clock-skew correction: the partition key
    sentAt: int | None
    page: str | None
    path: str | None
    referrer: str | None
    referrerHost: str | None
    referrerSource: str | None  # the traffic source: named utm_source, else the referrer's; None: direct/internal
    utmSource: str | None
    utmMedium: str | None
    utmCampaign: str | None
    utmTerm: str | None
    utmContent: str | None
    properties: dict[str, Any]
    traits: dict[str, Any] | None
    context: dict[str, Any]
    userAgent: str | None
    browser: str | None
    browserVersion: str | None
    os: str | None
    osVersion: str | None
    deviceType: str | None
    isBot: bool
    library: str | None  # the sending library (context.library.name), "http" when none is named
    appVersion: str | None
    locale: str | None
    screenClass: str | None  # mobile | tablet | laptop | desktop


# StreamEvent keys whose `events` column is not the key in snake_case
_COLUMN_OF = {"timestamp": "event_time", "event": "event_name"}
_SQL_TYPES = {str: "text", int: "bigint", bool: "boolean", dict: "jsonb"}


@dataclass(frozen=True)
class StoredField:
    """One StreamEvent key and the `events` column it is stored in (one row per event)."""

    key: str
    column: str
    sql_type: str  # how PostgreSQL reads the key from the serialised event: text | bigint | boolean | jsonb
    optional: bool  # may be null; a missing non-optional JSON object or flag is stored as {} / false

    @property
    def is_time(self) -> bool:
        """Epoch milliseconds in the stream, a timestamptz column."""
        return self.sql_type == "bigint"


def _stored_fields() -> tuple[StoredField, ...]:
    """StreamEvent's keys in declaration order, with their columns: the one list of an event's fields
    that the subscriber's INSERT, the demo's COPY rows and their tests are built from."""
    fields = []
    for key, hint in get_type_hints(StreamEvent).items():
        optional = isinstance(hint, UnionType) and type(None) in get_args(hint)
        if optional:
            hint = next(a for a in get_args(hint) if a is not type(None))
        column = _COLUMN_OF.get(key) or re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()
        fields.append(StoredField(key, column, _SQL_TYPES[get_origin(hint) or hint], optional))
    return tuple(fields)


STORED_FIELDS = _stored_fields()


class StreamFormatError(ValueError):
    """An entry that no version of this code can read (it goes to the dead-letter stream)."""


@dataclass
class StreamBatch:
    entry_id: bytes
    project_id: int
    write_key: str
    received_at: int
    events: list[StreamEvent]  # parsed only when asked for (decode_batch(parse=True) or needed)
    carrier: dict[str, str] = field(default_factory=dict)
    raw_events: bytes = b"[]"  # the `e` field: the events as the gateway serialised them
    count: int = 0  # how many events


_PERSON_MARKERS = (b'"type":"identify"', b'"type":"alias"')


def has_person_events(raw_events: bytes) -> bool:
    """True when a serialised batch may hold identify or alias events."""
    return any(marker in raw_events for marker in _PERSON_MARKERS)


def encode_batch(
    project_id: int, write_key: str, received_at: int, events: list[StreamEvent], carrier: dict[str, str]
) -> dict[bytes, bytes]:
    fields: dict[bytes, bytes] = {
        b"v": FORMAT_VERSION,
        b"p": str(project_id).encode(),
        b"k": write_key.encode(),
        b"r": str(received_at).encode(),
        b"e": orjson.dumps(events),
        b"n": str(len(events)).encode(),
    }
    if "traceparent" in carrier:
        fields[b"tp"] = carrier["traceparent"].encode()
    if "tracestate" in carrier:
        fields[b"ts"] = carrier["tracestate"].encode()
    return fields


def _text(fields: dict[bytes, bytes], key: bytes) -> str:
    value = fields.get(key)
    if value is None:
        raise StreamFormatError(f"field {key.decode()!r} is missing")
    return value.decode() if isinstance(value, bytes) else str(value)


def decode_batch(entry_id: bytes, fields: dict[bytes, bytes], *, parse: bool = True) -> StreamBatch:
    """The entry's batch. With parse=False the events stay serialised (`raw_events`) unless the
    entry lacks its count or may hold identify/alias events."""
    try:
        version = fields.get(b"v")
        if version != FORMAT_VERSION:
            raise StreamFormatError(f"unknown entry format {version!r}")
        raw = fields.get(b"e")
        if not isinstance(raw, bytes):
            raise StreamFormatError("field 'e' is missing")
        count = int(fields[b"n"]) if b"n" in fields else -1
        events: Any = []
        if parse or count < 0 or has_person_events(raw):
            events = orjson.loads(raw)
            if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
                raise StreamFormatError("field 'e' is not a JSON array of objects")
            count = len(events)
        carrier = {}
        if b"tp" in fields:
            carrier["traceparent"] = _text(fields, b"tp")
        if b"ts" in fields:
            carrier["tracestate"] = _text(fields, b"ts")
        return StreamBatch(
            entry_id=entry_id,
            project_id=int(_text(fields, b"p")),
            write_key=_text(fields, b"k"),
            received_at=int(_text(fields, b"r")),
            events=events,
            carrier=carrier,
            raw_events=raw,
            count=count,
        )
    except StreamFormatError:
        raise
    except (ValueError, UnicodeDecodeError, orjson.JSONDecodeError) as exc:
        raise StreamFormatError(f"unreadable entry: {exc}") from None
