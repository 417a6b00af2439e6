"""The API reference's ingest shapes (generated from services/gateway/ingest/models.py) describe what
the ingest validators do: they read exactly the fields the document lists, and for every field a value
is accepted exactly when the document's schema accepts it (types, lengths, ranges, required fields,
Segment's `type`). The answers are what the answer models describe."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from services.gateway.ingest.enrich import AgentParser
from services.gateway.ingest.events import RequestInfo
from services.gateway.ingest.fields import Problems
from services.gateway.ingest.models import SEGMENT_CALLS, IngestError, IngestResult
from services.gateway.ingest.shapes import Shape, native_request, segment_request
from services.gateway.openapi import openapi_document
from services.shared.errors import ValidationFailed

from .helpers import Project, event


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING = _Missing()  # a probe that leaves the field out
KEY_FIELDS = {"apiKey", "writeKey"}  # read with the request's write key (body.write_key), not by the event readers
DATE_TIME = "2026-01-05T10:00:00.123Z"


@dataclass(frozen=True)
class Case:
    """One request shape: the document's schema for it, a valid body, and where a probed field goes."""

    label: str
    component: str
    shape: Shape
    base: dict[str, Any]
    in_batch: bool = False  # the probed fields are those of the batch's event, not of the request
    single_call: bool = False

    def body(self, field: str, value: Any) -> dict[str, Any]:
        body = copy.deepcopy(self.base)
        target = body["batch"][0] if self.in_batch else body
        if value is MISSING:
            target.pop(field, None)
        else:
            target[field] = value
        return body


SEGMENT_BASES: dict[str, dict[str, Any]] = {
    "track": {"userId": "u", "event": "Clicked"}, "page": {"userId": "u"}, "screen": {"userId": "u"},
    "identify": {"userId": "u"}, "group": {"userId": "u", "groupId": "g"},
    "alias": {"userId": "u", "previousId": "p"},
}
NATIVE_BASE = {"eventName": "Clicked", "userId": "u"}


def lenient(case: Case, field: str, kind: str, value: Any) -> bool:
    """Where the readers accept what the document does not promise, on purpose."""
    if case.single_call and field == "type":
        return True  # /v1/<type> says the call's type; a `type` in its body is not read
    return kind == "date-time" and value == ""  # an empty date-time is read as absent

CASES = [
    Case("native event", "NativeEvent", native_request, NATIVE_BASE),
    Case("native batch", "NativeBatch", native_request, {"batch": [NATIVE_BASE]}),
    Case("native event in a batch", "NativeBatch", native_request, {"batch": [NATIVE_BASE]}, in_batch=True),
    Case("segment batch", "SegmentBatch", segment_request("batch"),
         {"batch": [{"type": "track", **SEGMENT_BASES["track"]}]}),
    *(Case(f"/v1/{kind}", model.__name__, segment_request(kind), SEGMENT_BASES[kind], single_call=True)
      for kind, model in SEGMENT_CALLS.items()),
    *(Case(f"{kind} in a batch", "SegmentBatch", segment_request("batch"),
           {"batch": [{"type": kind, **SEGMENT_BASES[kind]}]}, in_batch=True)
      for kind in SEGMENT_CALLS),
]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document()


def _info() -> RequestInfo:
    return RequestInfo(received_at=int(time.time() * 1000), header_agent=None, agents=AgentParser(16),
                       max_future_ms=600_000, has_nul=False)


def api_verdict(case: Case, body: dict[str, Any]) -> tuple[bool, set[str]]:
    """Whether the readers accept the body's (first) event, and the fields they name if not."""
    try:
        parsed = case.shape(body)
    except ValidationFailed as exc:
        return False, set(exc.fields)
    if not parsed.events:
        return True, set()
    outcome = parsed.normalise(parsed.events[0], _info())
    return (False, set(outcome)) if isinstance(outcome, Problems) else (True, set())


def schema_of(document: dict[str, Any], case: Case) -> Draft202012Validator:
    root = {"$ref": f"#/components/schemas/{case.component}", "components": document["components"]}
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


def properties_of(document: dict[str, Any], case: Case) -> dict[str, Any]:
    """The probed object's properties, as the document lists them."""
    schemas = document["components"]["schemas"]
    if not case.in_batch:
        return dict(schemas[case.component]["properties"])
    kind = case.base["batch"][0].get("type")
    name = SEGMENT_CALLS[kind].__name__ if kind else "NativeEvent"
    return dict(schemas[name]["properties"])


def _members(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return schema.get("anyOf", [schema])


def probes(schema: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(kind, value): values at and across the limits of each alternative the schema allows, and values of
    every JSON type."""
    for value in (MISSING, None, True, 7, 1.5, "text", [], {"a": 1}):
        yield "any", value
    for member in _members(schema):
        kind = member.get("type")
        if "const" in member:
            yield "const", member["const"]
            yield "const", "teleport"
        if kind == "string" and member.get("format") == "date-time":
            for value in (DATE_TIME, "2026-01-05T10:00:00+02:00", "not a date", "", "x" * (member["maxLength"] + 1)):
                yield "date-time", value
        elif kind == "string":
            longest = member.get("maxLength", 20)
            for value in ("", " ", "x", "x" * longest, "x" * (longest + 1)):
                yield "string", value
        elif kind == "number" and "minimum" in member:
            low, high = member["minimum"], member["exclusiveMaximum"]
            for value in (low - 1, low, low + 0.5, high - 1, high):
                yield "number", value
        elif kind == "number":
            for value in (0, -12, 42, 3.25):
                yield "number", value
        elif kind == "object":
            yield "object", {"nested": {"list": [1, {"b": None}]}}
        elif kind == "array":
            yield "array", [copy.deepcopy(NATIVE_BASE)]


def test_the_readers_accept_exactly_what_the_document_describes(document: dict[str, Any]) -> None:
    disagreements: list[str] = []
    for case in CASES:
        validator = schema_of(document, case)
        assert validator.is_valid(case.base), f"{case.label}: the base body does not match its schema"
        assert api_verdict(case, case.base)[0], f"{case.label}: the base body is refused"
        for field, schema in properties_of(document, case).items():
            if field in KEY_FIELDS:
                continue
            for kind, value in probes(schema):
                body = case.body(field, value)
                documented = validator.is_valid(body)
                accepted, named = api_verdict(case, body)
                if documented == accepted:
                    # a refused `batch` names its events' fields (a native body without one is an event)
                    if not accepted and field not in named and field != "batch":
                        disagreements.append(f"{case.label}: {field}={value!r:.40} refused naming {named}")
                    continue
                if accepted and lenient(case, field, kind, value):
                    continue
                disagreements.append(f"{case.label}: {field}={value!r:.40} is {'' if documented else 'not '}valid "
                                     f"in the document, {'accepted' if accepted else f'refused ({named})'}")
    assert not disagreements, "\n".join(disagreements)


class ReadLog(dict[str, Any]):
    """An event that notes which of its fields a reader asks for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)


def fields_read(normalise: Callable[[Any, RequestInfo], Any], event: dict[str, Any]) -> set[str]:
    logged = ReadLog(event)
    normalise(logged, _info())
    return logged.read


def test_the_readers_read_exactly_the_documented_fields(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    native = native_request({"eventName": "x"}).normalise
    assert fields_read(native, {}) == set(schemas["NativeEvent"]["properties"]) - KEY_FIELDS
    for kind, model in SEGMENT_CALLS.items():
        documented = set(schemas[model.__name__]["properties"]) - KEY_FIELDS
        single = segment_request(kind)({}).normalise
        assert fields_read(single, {}) == documented - {"type"}, kind  # the path names the type
        in_batch = segment_request("batch")({"batch": []}).normalise
        assert fields_read(in_batch, {"type": kind}) == documented, kind


def test_answers_are_what_the_answer_models_describe(client: httpx.Client, project: Project) -> None:
    partial = client.post("/api/track", json={"apiKey": project.write_key, "batch": [event(), {"eventName": 7}]})
    assert partial.status_code == 200, partial.text
    body = partial.json()
    assert IngestResult.model_validate(body).model_dump(mode="json") == body
    assert body["accepted"] == 1 and body["rejected"][0]["index"] == 1

    none_valid = client.post("/v1/batch", auth=(project.write_key, ""),
                             json={"batch": [{"type": "track", "userId": "u"}, {"type": "teleport"}]})
    assert none_valid.status_code == 422, none_valid.text
    body = none_valid.json()
    assert IngestError.model_validate(body).model_dump(mode="json", exclude_unset=True) == body
    assert [r["index"] for r in body["rejected"]] == [0, 1]
    assert body["error"]["fields"] == {"batch[0].event": "is required",
                                       "batch[1].type": "must be one of track, page, screen, identify, group, alias"}

    single = client.post("/v1/track", auth=(project.write_key, ""), json={"userId": "u"})
    assert single.status_code == 422, single.text
    body = single.json()
    assert IngestError.model_validate(body).model_dump(mode="json", exclude_unset=True) == body
    assert "rejected" not in body and body["error"]["fields"] == {"event": "is required"}
