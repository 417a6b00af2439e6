"""Benchmark `bench/ingest_validation`: what validating ingest bodies costs with today's hand-written
validators, with pydantic v2 models and with msgspec Structs, measured in one run.

    python -m bench.ingest_validation [--repeats 7] [--seconds 0.3]

Two bodies: a Segment batch of 100 events shaped like analytics.js's (70 track, 25 page, 5
identify; ISO-8601 timestamps, a full browser context, `_metadata` and `integrations` that are not
stored), and the single native event of bench/ingest. Each figure is the best of `--repeats` runs
of about `--seconds` each (CPU time of this process), in microseconds per request and per event,
with its ratio to today's code:

  a. today: services/gateway/ingest (shapes.py -> segment.py / native.py -> events.build_event),
     on the body parsed by orjson, as routes.py runs it;
  b. pydantic: models with the same fields and limits (a `type`-discriminated union for Segment's
     calls), `model_validate` on the parsed dict per event, and `model_validate_json` on the bytes
     (the batch as one model: the whole batch fails on one bad event, so it is only the fast path);
  c. msgspec: Structs with the same fields and limits, `msgspec.convert` on the parsed dict per
     event, and `msgspec.json.decode` on the bytes (the batch's events as `msgspec.Raw`, each decoded
     on its own, which keeps per-event rejection).

"+ build" lines turn each validated event into the stream's event with today's
events.build_event (the enrichment every variant shares); "validate" lines stop at the
validated model. Today's code validates and builds in one pass: its validation alone is the
difference between "today" and "build only". The candidate models only approximate today's rules
(ids as numbers, the userId-or-anonymousId rule, per-field messages and collecting every problem
are left out where the library cannot say them), so they are a lower bound of what a faithful
port would cost. Asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

import msgspec
import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictFloat, StrictInt, TypeAdapter, model_validator

from bench.common import machine_summary
from bench.ingest import _event
from services.gateway.ingest import fields as f
from services.gateway.ingest.enrich import AgentParser
from services.gateway.ingest.events import RequestInfo, build_event
from services.gateway.ingest.shapes import native_request, segment_request

AGENT = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/120.0.0.0 Safari/537.36")
KEY = "wk_3q2b8f0c1e4a4d9f8b7c6a5e4d3c2b1a"


# --- the bodies ---------------------------------------------------------------------------------

def _ajs_event(i: int) -> dict[str, Any]:
    """Event i of an analytics.js (analytics-next) batch."""
    kind = "identify" if i % 20 == 0 else "page" if i % 4 == 1 else "track"
    path = f"/p/{i % 40}"
    url = f"https://shop.example.com{path}?utm_source=news"
    ev: dict[str, Any] = {
        "timestamp": f"2026-01-05T10:{i % 60:02d}:00.{i % 1000:03d}Z",
        "integrations": {},
        "type": kind,
        "messageId": f"ajs-next-{i:08x}1f2e3d4c5b6a79881f2e3d4c",
        "anonymousId": "5b1f0e3c-6a2d-4c8e-9f7a-3b2d1c0e9f8a",
        "context": {
            "page": {"path": path, "referrer": "https://www.google.com/", "search": "?utm_source=news",
                     "title": "Red Shoes", "url": url},
            "userAgent": AGENT,
            "userAgentData": {"brands": [{"brand": "Chromium", "version": "120"},
                                         {"brand": "Not_A Brand", "version": "8"}],
                              "mobile": False, "platform": "macOS"},
            "locale": "en-US",
            "library": {"name": "analytics.js", "version": "npm:next-1.64.0"},
            "timezone": "Europe/Berlin",
            "campaign": {"source": "news"},
        },
        "writeKey": KEY,
        "sentAt": "2026-01-05T10:59:59.000Z",
        "_metadata": {"bundled": ["Segment.io"], "unbundled": [], "bundledIds": []},
    }
    if kind == "track":
        ev["event"] = "Product Viewed"
        ev["properties"] = {"product_id": f"p-{i % 40}", "price": 19.99, "currency": "EUR", "name": "Red Shoes"}
    elif kind == "page":
        ev["name"] = "Product"
        ev["category"] = "Shop"
        ev["properties"] = {"path": path, "referrer": "https://www.google.com/", "search": "?utm_source=news",
                            "title": "Red Shoes", "url": url}
    else:
        ev["userId"] = f"u-{i}"
        ev["traits"] = {"email": f"u{i}@example.com", "plan": "pro"}
    return ev


SEGMENT_BATCH = orjson.dumps({"batch": [_ajs_event(i) for i in range(100)], "writeKey": KEY,
                              "sentAt": "2026-01-05T10:59:59.000Z"})
NATIVE_EVENT = orjson.dumps({"apiKey": KEY, **_event(7)})


# --- b. pydantic candidates ---------------------------------------------------------------------

_PD_CONFIG = ConfigDict(extra="ignore", populate_by_name=True)
PdText = Annotated[str, Field(min_length=1, max_length=f.MAX_NAME, strict=True)]
PdUrl = Annotated[str, Field(max_length=f.MAX_URL, strict=True)]
PdId = Annotated[str, Field(min_length=1, max_length=f.MAX_ID, strict=True)] | StrictInt | StrictFloat
PdMs = Annotated[int, Field(ge=f.MIN_TIME_MS, lt=f.MAX_TIME_MS, strict=True)]
PdTime = PdMs | dt.datetime


def _shallow(value: dict[str, Any]) -> dict[str, Any]:
    """The depth rule every variant keeps (fields.too_deep): no library can say it."""
    if f.too_deep(value):
        raise ValueError(f"must not nest objects or arrays more than {f.MAX_DEPTH} levels deep")
    return value


PdObj = Annotated[dict[str, Any], AfterValidator(_shallow)]
PD_TIME = TypeAdapter(PdTime)


class PdNative(BaseModel):
    model_config = _PD_CONFIG
    eventName: PdText
    messageId: PdId | None = None
    userId: PdId | None = None
    anonymousId: PdId | None = None
    sessionId: PdId | None = None
    eventTime: PdTime | None = None
    sentAt: PdTime | None = None
    page: PdUrl | None = None
    referrer: PdUrl | None = None
    context: PdObj | None = None
    properties: PdObj | None = None


class _PdSegment(BaseModel):
    model_config = _PD_CONFIG
    messageId: PdId | None = None
    userId: PdId | None = None
    anonymousId: PdId | None = None
    sessionId: PdId | None = None
    timestamp: PdTime | None = None
    originalTimestamp: PdTime | None = None
    sentAt: PdTime | None = None
    properties: PdObj | None = None
    context: PdObj | None = None
    traits: PdObj | None = None
    integrations: PdObj | None = None

    @model_validator(mode="after")
    def _someone(self) -> _PdSegment:
        if self.userId is None and self.anonymousId is None:
            raise ValueError("userId or anonymousId is required")
        return self


class PdTrack(_PdSegment):
    type: Literal["track"] = "track"
    event: PdText


class PdPage(_PdSegment):
    type: Literal["page", "screen"] = "page"
    name: PdText | None = None
    category: PdText | None = None


class PdIdentify(_PdSegment):
    type: Literal["identify"] = "identify"


PdSegmentEvent = Annotated[PdTrack | PdPage | PdIdentify, Field(discriminator="type")]
PD_SEGMENT = TypeAdapter(PdSegmentEvent)


class PdSegmentBatch(BaseModel):
    model_config = _PD_CONFIG
    batch: list[PdSegmentEvent]
    sentAt: PdTime | None = None
    context: PdObj | None = None


# --- c. msgspec candidates ----------------------------------------------------------------------

MsText = Annotated[str, msgspec.Meta(min_length=1, max_length=f.MAX_NAME)]
MsUrl = Annotated[str, msgspec.Meta(max_length=f.MAX_URL)]
MsId = Annotated[str, msgspec.Meta(min_length=1, max_length=f.MAX_ID)] | int | float
MsTime = Annotated[int, msgspec.Meta(ge=f.MIN_TIME_MS, lt=f.MAX_TIME_MS)] | Annotated[str, msgspec.Meta(max_length=64)]
MsObj = dict[str, Any]


class MsNative(msgspec.Struct):
    eventName: MsText
    messageId: MsId | None = None
    userId: MsId | None = None
    anonymousId: MsId | None = None
    sessionId: MsId | None = None
    eventTime: MsTime | None = None
    sentAt: MsTime | None = None
    page: MsUrl | None = None
    referrer: MsUrl | None = None
    context: MsObj | None = None
    properties: MsObj | None = None
    apiKey: str | None = None

    def __post_init__(self) -> None:
        for value in (self.properties, self.context):
            if value:
                _shallow(value)


def _ms_time(value: int | str | None) -> int | None:
    """A validated time field as epoch ms (msgspec has no union of str and datetime)."""
    if value is None or isinstance(value, int):
        return value
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp() * 1000)


class _MsSegment(msgspec.Struct, tag_field="type"):
    messageId: MsId | None = None
    userId: MsId | None = None
    anonymousId: MsId | None = None
    sessionId: MsId | None = None
    timestamp: MsTime | None = None
    originalTimestamp: MsTime | None = None
    sentAt: MsTime | None = None
    properties: MsObj | None = None
    context: MsObj | None = None
    traits: MsObj | None = None
    integrations: MsObj | None = None

    def __post_init__(self) -> None:
        if self.userId is None and self.anonymousId is None:
            raise ValueError("userId or anonymousId is required")
        for value in (self.properties, self.context, self.traits):
            if value:
                _shallow(value)


class MsTrack(_MsSegment, tag="track"):
    event: MsText | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.event is None:
            raise ValueError("event is required")


class MsPage(_MsSegment, tag="page"):
    name: MsText | None = None
    category: MsText | None = None


class MsIdentify(_MsSegment, tag="identify"):
    pass


MsSegmentEvent = MsTrack | MsPage | MsIdentify


class MsSegmentBatch(msgspec.Struct):
    batch: list[msgspec.Raw]
    sentAt: MsTime | None = None
    context: MsObj | None = None
    writeKey: str | None = None


MS_BATCH = msgspec.json.Decoder(MsSegmentBatch)
MS_SEGMENT = msgspec.json.Decoder(MsSegmentEvent)
MS_NATIVE = msgspec.json.Decoder(MsNative)


# --- building the stream event from a validated model (the same for b and c) -------------------

def _id(value: str | int | float | None) -> str | None:
    return value if value is None or type(value) is str else str(value)


def _pd_time(value: int | dt.datetime | None) -> int | None:
    return int(value.timestamp() * 1000) if isinstance(value, dt.datetime) else value


def _info() -> RequestInfo:
    return RequestInfo(received_at=int(time.time() * 1000), header_agent=None, agents=AGENTS,
                       max_future_ms=600_000, has_nul=False, may_nest_deep=True)


def _segment_fields(ev: Any, times: Callable[[Any], int | None], sent_at: int | None) -> dict[str, Any]:
    """build_event's arguments from a validated Segment call."""
    kind = getattr(ev, "type", None) or ev.__struct_config__.tag  # msgspec keeps a Struct's tag apart
    is_page = kind == "page"
    properties = ev.properties
    if is_page and (ev.name or ev.category):
        properties = {**(properties or {}), "name": ev.name, "category": ev.category}
    context = ev.context or {}
    page_context = context.get("page") or {}
    when = times(ev.timestamp)
    return {"type_": kind, "name": ev.event if kind == "track" else "PAGE_VIEW" if is_page else "IDENTIFY",
            "message_id": _id(ev.messageId), "user_id": _id(ev.userId), "anonymous_id": _id(ev.anonymousId),
            "session_id": _id(ev.sessionId), "timestamp": when if when is not None else times(ev.originalTimestamp),
            "sent_at": times(ev.sentAt) or sent_at, "page": (properties or {}).get("url") or page_context.get("url"),
            "referrer": page_context.get("referrer"), "properties": properties, "context": context,
            "traits": ev.traits if kind == "identify" else None}


def _native_fields(ev: Any, times: Callable[[Any], int | None]) -> dict[str, Any]:
    return {"type_": "page" if ev.eventName == "PAGE_VIEW" else "track", "name": ev.eventName,
            "message_id": _id(ev.messageId), "user_id": _id(ev.userId), "anonymous_id": _id(ev.anonymousId),
            "session_id": _id(ev.sessionId), "timestamp": times(ev.eventTime), "sent_at": times(ev.sentAt),
            "page": ev.page, "referrer": ev.referrer, "properties": ev.properties, "context": ev.context}


def _build_segment(ev: Any, info: RequestInfo, times: Callable[[Any], int | None], sent_at: int | None) -> Any:
    return build_event(info, **_segment_fields(ev, times, sent_at))


def _build_native(ev: Any, info: RequestInfo, times: Callable[[Any], int | None]) -> Any:
    return build_event(info, **_native_fields(ev, times))


# --- the variants -------------------------------------------------------------------------------

AGENTS = AgentParser(10_000)
SEGMENT_SHAPE = segment_request("batch")


def today_segment(body: bytes) -> int:
    parsed = SEGMENT_SHAPE(orjson.loads(body))
    info = _info()
    return sum(1 for ev in parsed.events if not isinstance(parsed.normalise(ev, info), f.Problems))


def today_native(body: bytes) -> int:
    parsed = native_request(orjson.loads(body))
    info = _info()
    return sum(1 for ev in parsed.events if not isinstance(parsed.normalise(ev, info), f.Problems))


def build_only_segment(body: bytes) -> int:
    """The stream events built from already validated models: the part every variant shares."""
    info = _info()
    for fields in BUILT_SEGMENT:
        build_event(info, **fields)
    return len(BUILT_SEGMENT)


def build_only_native(body: bytes) -> int:
    build_event(_info(), **BUILT_NATIVE)
    return 1


def pd_dict_segment(body: bytes, build: bool = True) -> int:
    data = orjson.loads(body)
    sent_at = _pd_time(PD_TIME.validate_python(data["sentAt"]))
    info = _info()
    for raw in data["batch"]:
        ev = PD_SEGMENT.validate_python(raw)
        if build:
            _build_segment(ev, info, _pd_time, sent_at)
    return len(data["batch"])


def pd_json_segment(body: bytes, build: bool = True) -> int:
    batch = PdSegmentBatch.model_validate_json(body)
    info = _info()
    if build:
        sent_at = _pd_time(batch.sentAt)
        for ev in batch.batch:
            _build_segment(ev, info, _pd_time, sent_at)
    return len(batch.batch)


def pd_dict_native(body: bytes, build: bool = True) -> int:
    ev = PdNative.model_validate(orjson.loads(body))
    if build:
        _build_native(ev, _info(), _pd_time)
    return 1


def pd_json_native(body: bytes, build: bool = True) -> int:
    ev = PdNative.model_validate_json(body)
    if build:
        _build_native(ev, _info(), _pd_time)
    return 1


def ms_dict_segment(body: bytes, build: bool = True) -> int:
    data = orjson.loads(body)
    sent_at = _ms_time(data["sentAt"])
    info = _info()
    for raw in data["batch"]:
        ev = msgspec.convert(raw, MsSegmentEvent)
        if build:
            _build_segment(ev, info, _ms_time, sent_at)
    return len(data["batch"])


def ms_json_segment(body: bytes, build: bool = True) -> int:
    batch = MS_BATCH.decode(body)
    sent_at = _ms_time(batch.sentAt)
    info = _info()
    for raw in batch.batch:
        ev = MS_SEGMENT.decode(raw)
        if build:
            _build_segment(ev, info, _ms_time, sent_at)
    return len(batch.batch)


def ms_dict_native(body: bytes, build: bool = True) -> int:
    ev = msgspec.convert(orjson.loads(body), MsNative)
    if build:
        _build_native(ev, _info(), _ms_time)
    return 1


def ms_json_native(body: bytes, build: bool = True) -> int:
    ev = MS_NATIVE.decode(body)
    if build:
        _build_native(ev, _info(), _ms_time)
    return 1


# build_event's arguments, every time already in epoch ms: what is left once validation is done
BUILT_SEGMENT = [_segment_fields(MS_SEGMENT.decode(raw), _ms_time, None)
                 for raw in MS_BATCH.decode(SEGMENT_BATCH).batch]
BUILT_NATIVE = _native_fields(MS_NATIVE.decode(NATIVE_EVENT), _ms_time)


# --- measuring ----------------------------------------------------------------------------------

def best_us(run: Callable[[], int], repeats: int, seconds: float) -> tuple[float, int]:
    """Best CPU microseconds per call over `repeats` runs of about `seconds` each; events per call."""
    events = run()
    loops = 1
    while True:  # calibrate: enough calls for one run to take about `seconds`
        start = time.process_time()
        for _ in range(loops):
            run()
        took = time.process_time() - start
        if took >= seconds / 4:
            break
        loops *= 2
    loops = max(1, int(loops * seconds / max(took, 1e-9)))
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(loops):
            run()
        best = min(best, (time.process_time() - start) / loops)
    return best * 1e6, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7, help="runs per figure; the best is kept")
    parser.add_argument("--seconds", type=float, default=0.3, help="length of one run")
    args = parser.parse_args()
    print(f"machine: {machine_summary()}")
    print(f"pydantic {__import__('pydantic').VERSION}, msgspec {msgspec.__version__}, orjson {orjson.__version__}")
    print(f"bodies: Segment batch of 100 analytics.js events ({len(SEGMENT_BATCH):,} bytes), "
          f"native single event ({len(NATIVE_EVENT)} bytes)\n")
    cases: list[tuple[str, list[tuple[str, Callable[[bytes], int]]], bytes]] = [
        ("Segment batch, 100 events", [
            ("a. today (orjson + fields.py), validate + build", today_segment),
            ("   build only (events.build_event)", build_only_segment),
            ("b. pydantic model_validate per event + build", pd_dict_segment),
            ("b. pydantic model_validate_json whole batch + build", pd_json_segment),
            ("b. pydantic model_validate per event, validate", lambda b: pd_dict_segment(b, build=False)),
            ("b. pydantic model_validate_json whole batch, validate", lambda b: pd_json_segment(b, build=False)),
            ("c. msgspec convert per event + build", ms_dict_segment),
            ("c. msgspec decode (Raw per event) + build", ms_json_segment),
            ("c. msgspec convert per event, validate", lambda b: ms_dict_segment(b, build=False)),
            ("c. msgspec decode (Raw per event), validate", lambda b: ms_json_segment(b, build=False)),
        ], SEGMENT_BATCH),
        ("native single event", [
            ("a. today (orjson + native.py), validate + build", today_native),
            ("   build only (events.build_event)", build_only_native),
            ("b. pydantic model_validate + build", pd_dict_native),
            ("b. pydantic model_validate_json + build", pd_json_native),
            ("b. pydantic model_validate, validate", lambda b: pd_dict_native(b, build=False)),
            ("b. pydantic model_validate_json, validate", lambda b: pd_json_native(b, build=False)),
            ("c. msgspec convert + build", ms_dict_native),
            ("c. msgspec decode + build", ms_json_native),
            ("c. msgspec convert, validate", lambda b: ms_dict_native(b, build=False)),
            ("c. msgspec decode, validate", lambda b: ms_json_native(b, build=False)),
        ], NATIVE_EVENT),
    ]
    for title, variants, body in cases:
        print(f"{title}: µs per request, µs per event, ratio to a.")
        base = 0.0
        figures: dict[str, float] = {}
        for label, run in variants:
            us, events = best_us(functools.partial(run, body), args.repeats, args.seconds)
            figures[label] = us
            base = base or us
            print(f"  {label:<58} {us:9.1f} {us / events:8.2f}   {us / base:5.2f}x")
        today = next(iter(figures.values()))
        build = figures["   build only (events.build_event)"]
        print(f"  {'a. today, validation alone (today - build only)':<58} {today - build:9.1f}")
        print()


if __name__ == "__main__":
    main()
