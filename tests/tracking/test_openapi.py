"""The analytics part of the API reference is generated from the tracking endpoints: every route is
in it (and nothing else under Analytics), behind the bearer token, and the examples it shows are
valid against their schemas and answered by the service as shown."""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.routing import Route

from services.gateway.openapi import openapi_document
from services.tracking.routes import tracking_routes

from .conftest import Project

TAG = "Analytics"
METHODS = ("get", "post", "put", "patch", "delete")


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def _analytics(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(method, path): operation for path, item in document["paths"].items()
            for method, operation in item.items() if method in METHODS and TAG in operation["tags"]}


def _valid(document: dict[str, Any], schema: dict[str, Any], instance: Any) -> list[str]:
    """What is wrong with `instance` by `schema` (whose `$ref`s point into `document`)."""
    registry: Registry[Any] = Registry().with_resource("urn:doc", Resource(contents=document,
                                                                           specification=DRAFT202012))
    if "$ref" in schema:
        schema = {"$ref": "urn:doc" + schema["$ref"]}
    return [error.message for error in Draft202012Validator(schema, registry=registry).iter_errors(instance)]


def test_every_analytics_route_is_documented_and_nothing_else() -> None:
    operations = _analytics(openapi_document())
    routed = set()
    for route in tracking_routes():
        assert isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}:
            routed.add((method.lower(), _shape(route.path)))
    assert routed == {(method, _shape(path)) for method, path in operations}
    for (method, path), operation in operations.items():
        assert operation["security"] == [{"bearerAuth": []}], (method, path)
        assert {"200", "401", "404"} <= set(operation["responses"]), (method, path)
        assert re.match(r"/api/projects/\{\w+\}/", path), path


def test_every_example_is_valid_against_its_schema() -> None:
    document = openapi_document()
    checked = 0
    for (method, path), operation in _analytics(document).items():
        media = [*operation.get("requestBody", {}).get("content", {}).values(),
                 *(m for answer in operation["responses"].values() for m in answer.get("content", {}).values())]
        for entry in media:
            if "example" in entry:
                assert _valid(document, entry["schema"], entry["example"]) == [], (method, path)
                checked += 1
        for parameter in operation.get("parameters", []):
            for example in parameter["schema"].get("examples", []):
                assert _valid(document, parameter["schema"], example) == [], (method, path, parameter["name"])
                checked += 1
    assert checked > 20


def test_the_documented_examples_are_answered(project: Project) -> None:
    """Each operation asked with the first example of every parameter, the funnel with its example
    body: the service takes them all."""
    project.events.add("2026-01-05 10:00")
    document = openapi_document()
    for (method, path), operation in _analytics(document).items():
        if operation["operationId"] == "realtimeStream":
            continue  # a stream that does not end; its one parameter is the filters every other route takes
        params = {p["name"]: p["schema"]["examples"][0] for p in operation.get("parameters", [])
                  if p["in"] == "query" and p["schema"].get("examples")}
        url = re.sub(r"\{\w+\}", "v1", re.sub(r"\{\w+\}", str(project.id), path, count=1))
        if method == "post":
            body = operation["requestBody"]["content"]["application/json"]["example"]
            response = project.http.post(url, json=body, headers=project.auth)
        else:
            response = project.http.get(url, params=params, headers=project.auth)
        assert response.status_code == 200, (path, params, response.text)


def test_a_real_answer_has_every_field_the_reference_lists(project: Project) -> None:
    project.events.add("2026-01-05 10:00", "Signup", properties={"plan": "pro"})
    document = openapi_document()
    page = project.ok("events", from_="2026-01-05", to="2026-01-05")
    event_schema = document["components"]["schemas"]["AnalyticsEvent"]
    assert list(page["events"][0]) == list(event_schema["properties"])
    assert set(event_schema["required"]) == set(event_schema["properties"])
    assert _valid(document, {"$ref": "#/components/schemas/AnalyticsEventPage"}, page) == []
