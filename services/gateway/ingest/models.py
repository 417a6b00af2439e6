"""The ingest API's request and answer shapes, as models: the API reference's part for ingest is
generated from them (document.py).

Requests are validated by the readers in fields.py, native.py, segment.py and shapes.py, not by
these models: the readers name every problem of an event with its own message, refuse an invalid
event alone inside a batch, and cost less per event than a validating library did
(bench/ingest_validation.py, docs/benchmarks.md). Both use the limits of fields.py, and
tests/ingest/test_shapes.py holds them to each other: every field these models list is read by the
readers and no other, and a value is accepted by the readers exactly when the generated schema
accepts it (types, lengths, ranges, required fields, `type`).

Answers are built as plain dicts on the hot path (routes.py); the same test checks them against
the answer models below."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue, SkipJsonSchema
from pydantic_core import CoreSchema

from services.gateway.ingest.fields import MAX_DEPTH, MAX_ID, MAX_NAME, MAX_TIME_MS, MAX_URL, MIN_TIME_MS
from services.gateway.settings import GatewaySettings
from services.shared.api.document import ErrorDetail
from services.shared.api.model import ApiModel, RequestBody

MAX_ISO_LENGTH = 64  # fields._iso_ms reads no longer date-time text
# the limits a server has unless its settings say otherwise
DEFAULTS = GatewaySettings.model_fields
MAX_BATCH_EVENTS: int = DEFAULTS["ingest_max_batch_events"].default
MAX_EVENT_BYTES: int = DEFAULTS["ingest_max_event_bytes"].default
MAX_BATCH_BYTES: int = DEFAULTS["ingest_max_batch_bytes"].default

# The kinds of field an event has, each with its reader in fields.py (null is as good as absent):
# text(required=True): a string that is not empty
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
# text(): a string; "" as good as absent
Label = Annotated[str, Field(max_length=MAX_NAME)] | None
Url = Annotated[str, Field(max_length=MAX_URL)] | None
# ident(): a string or a number (stored as its text); "" as good as absent
ID_NOTE = f"A string of at most {MAX_ID} characters, or a number (stored as text)."
Ident = Annotated[Annotated[str, Field(max_length=MAX_ID)] | float | None, Field(description=ID_NOTE)]
# ident(required=True)
RequiredIdent = Annotated[
    Annotated[str, Field(min_length=1, max_length=MAX_ID)] | float,
    Field(description=f"A string of 1 to {MAX_ID} characters, or a number (stored as text)."),
]
# timestamp(): epoch milliseconds or ISO-8601 text, between 2000-01-01 and 2200-01-01
TIME_NOTE = ("An ISO-8601 date-time (e.g. 2026-01-31T12:00:00.000Z; UTC when it names no zone) or epoch milliseconds, "
             "between 2000-01-01 and 2200-01-01.")
Time = Annotated[
    Annotated[float, Field(ge=MIN_TIME_MS, lt=MAX_TIME_MS)]
    | Annotated[str, Field(max_length=MAX_ISO_LENGTH, json_schema_extra={"format": "date-time"})] | None,
    Field(description=TIME_NOTE),
]
# obj(): any JSON object
OBJ_NOTE = f"Any JSON object, nesting objects and arrays at most {MAX_DEPTH} levels deep."
Obj = Annotated[dict[str, Any] | None, Field(description=OBJ_NOTE)]

_KEY_NOTE = "The project's write key, when it is not sent as HTTP Basic user name or header `X-Write-Key`."


def _no_default(schema: dict[str, Any]) -> None:
    """For a field that is absent rather than null: its schema names no (null) default."""
    schema.pop("default", None)


def _key() -> Any:
    return Field(default=None, description=_KEY_NOTE, json_schema_extra=_no_default)


class NativeEvent(RequestBody):
    """One event in the native (seed-compatible) shape."""

    api_key: SkipJsonSchema[None] | str = _key()
    event_name: Name = Field(description="What happened; `PAGE_VIEW` is stored as a page view (type `page`).")
    event_time: Time = Field(default=None, description=f"When it happened (default: when received). {TIME_NOTE}")
    sent_at: Time = Field(default=None, description="When the client sent it; corrects the event time for the "
                                                    f"device's clock. {TIME_NOTE}")
    session_id: Ident = None
    user_id: Ident = Field(default=None, description=f"{ID_NOTE} Default: a temporary id `temp:<time><random>` "
                                                     "when neither userId nor anonymousId is given.")
    anonymous_id: Ident = None
    message_id: Ident = Field(default=None, description=f"{ID_NOTE} Retries with the same messageId are stored "
                                                        "once.")
    page: Url = Field(default=None, description="The page's URL (its path and UTM parameters are kept).")
    referrer: Url = None
    context: Obj = None
    properties: Obj = None


class NativeBatch(RequestBody):
    """Several native events in one request; each is accepted or refused on its own."""

    api_key: SkipJsonSchema[None] | str = _key()
    batch: list[NativeEvent] = Field(max_length=MAX_BATCH_EVENTS)


def _named(name: str) -> dict[str, Any]:
    return {"required": [name], "properties": {name: {"not": {"enum": [None, ""]}}}}


class SegmentCall(RequestBody):
    """The fields every Segment call has. `userId` or `anonymousId` is required (alias: both `previousId`
    and `userId`)."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [_named("userId"), _named("anonymousId")]})

    write_key: SkipJsonSchema[None] | str = _key()
    message_id: Ident = Field(default=None, description=f"{ID_NOTE} Retries with the same messageId are stored "
                                                        "once.")
    user_id: Ident = None
    anonymous_id: Ident = None
    session_id: Ident = Field(default=None, description=f"{ID_NOTE} Default: `context.sessionId`.")
    timestamp: Time = Field(default=None, description="When it happened (default: `originalTimestamp`, else when "
                                                      f"received). {TIME_NOTE}")
    original_timestamp: Time = None
    sent_at: Time = Field(default=None, description="When the library sent it (default: the batch's `sentAt`); "
                                                    "corrects the event time for the device's clock: receivedAt - "
                                                    f"(sentAt - timestamp). {TIME_NOTE}")
    properties: Obj = None
    context: Obj = Field(default=None, description=f"{OBJ_NOTE} Merged over the batch's `context`.")
    traits: Obj = Field(default=None, description=f"{OBJ_NOTE} Stored with identify and group calls.")
    integrations: Obj = Field(default=None, description="Any JSON object; accepted and not stored.")


class SegmentTrack(SegmentCall):
    """A Segment `track` call: an event named by `event`."""

    type: Literal["track"] = Field(default="track", description="Required inside a batch.")
    event: Name


class SegmentPage(SegmentCall):
    """A Segment `page` call, stored as PAGE_VIEW; the page's URL is `properties.url` or `context.page.url`."""

    type: Literal["page"] = Field(default="page", description="Required inside a batch.")
    name: Label = Field(default=None, description="Stored as `properties.name` (unless that is set).")
    category: Label = Field(default=None, description="Stored as `properties.category` (unless that is set).")


class SegmentScreen(SegmentCall):
    """A Segment `screen` call, stored as SCREEN_VIEW."""

    type: Literal["screen"] = Field(default="screen", description="Required inside a batch.")
    name: Label = Field(default=None, description="Stored as `properties.name` (unless that is set).")
    category: Label = Field(default=None, description="Stored as `properties.category` (unless that is set).")


class SegmentIdentify(SegmentCall):
    """A Segment `identify` call, stored as IDENTIFY; its `traits` (or `context.traits`) update the person."""

    type: Literal["identify"] = Field(default="identify", description="Required inside a batch.")


class SegmentGroup(SegmentCall):
    """A Segment `group` call, stored as GROUP."""

    type: Literal["group"] = Field(default="group", description="Required inside a batch.")
    group_id: RequiredIdent


class SegmentAlias(SegmentCall):
    """A Segment `alias` call, stored as ALIAS: `previousId` becomes another name of `userId`."""

    type: Literal["alias"] = Field(default="alias", description="Required inside a batch.")
    previous_id: RequiredIdent
    user_id: RequiredIdent  # required here, optional in the other calls


SEGMENT_CALLS: dict[str, type[SegmentCall]] = {
    "track": SegmentTrack, "page": SegmentPage, "screen": SegmentScreen, "identify": SegmentIdentify,
    "group": SegmentGroup, "alias": SegmentAlias,
}


class _TypeRequired:
    """In a batch, each call names its `type` (a single call's path says it)."""

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {**handler(schema), "required": ["type"]}


BatchCall = Annotated[
    SegmentTrack | SegmentPage | SegmentScreen | SegmentIdentify | SegmentGroup | SegmentAlias,
    Field(discriminator="type"), _TypeRequired(),
]


class SegmentBatch(RequestBody):
    """Segment's `/v1/batch` (and `/v1/import`): several calls, each with its `type`, accepted or refused
    on its own."""

    write_key: SkipJsonSchema[None] | str = _key()
    batch: list[BatchCall] = Field(max_length=MAX_BATCH_EVENTS)
    sent_at: Time = Field(default=None, description="When the library sent the batch: the `sentAt` of each call "
                                                    f"that has none. {TIME_NOTE}")
    context: Obj = Field(default=None, description=f"{OBJ_NOTE} Copied into each call (a call's own context wins "
                                                   "key by key).")


class RejectedEvent(ApiModel):
    """An event of the request that was not accepted, and why."""

    index: int
    """Its position in the request's `batch` (0 for a single event)."""
    error: ErrorDetail
    """`validation_error` (`fields` names each problem) or `event_too_large`."""


class IngestResult(ApiModel):
    """Accepted: every event, or every valid one while `rejected` lists the others."""

    success: Literal[True]
    accepted: int
    """Events queued for storage."""
    rejected: list[RejectedEvent]
    """Invalid events, by position in the request."""


class IngestError(ApiModel):
    """The shared error shape; when no event of a batch was accepted, `rejected` lists each with its error."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=False)  # `rejected` may be absent

    error: ErrorDetail
    rejected: SkipJsonSchema[None] | list[RejectedEvent] = Field(default=None, json_schema_extra=_no_default)
    """Every event of the batch, with its error (only when the request was a batch)."""
