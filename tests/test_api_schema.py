"""The API answers as its OpenAPI document says, for inputs nobody wrote by hand.

schemathesis reads /api/openapi.json from the running gateway and sends every operation a few
generated requests (valid and invalid ones, derandomized, no shrinking, no example database), as a
logged-in user with a project of their own: the bearer token, that project's id as the path's
project id and its write key on the ingest routes. Every answer must not be a server error, must
have a documented status and content type, and must match its schema with objects closed
(tests/schema_check.py). A 4xx the document lists (a rate limit's 429 included) is a fine answer.

Logging out, deleting a project or the account and rotating a key would spoil the account for the
operations after them; those get a fresh account for each request. The operations run inside one
test, each through hypothesis over its schemathesis strategy, and every failure is listed at the end; the
loader schemathesis offers for a schema from a fixture (schemathesis.pytest.from_fixture) renames
pytest items through an attribute pytest 9 no longer has."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import schemathesis
from conftest import Database, unique_email
from hypothesis import HealthCheck, Phase, given, settings
from ingest.helpers import wait_rows
from schema_check import ResponseValidator, SchemaMismatch, check_response, schema_hooks, shape, validator_for
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES_PER_OPERATION = 5
PASSWORD = "a long schema password"
# operations that end the login or the project they are given: each request gets a fresh account
SPOILERS = frozenset({("POST", "/api/auth/logout"), ("DELETE", "/api/projects/{}"),
                      ("POST", "/api/projects/{}/rotate-key"), ("DELETE", "/api/me"), ("DELETE", "/api/teams/{}")})
WRITE_KEY_FIELDS = ("apiKey", "writeKey")
METHODS = ("get", "put", "post", "delete", "patch")
STREAM_SECONDS = 1.0  # an SSE answer is read this long (its first bytes arrive at once)
STREAM_EXAMPLES = 2  # each costs STREAM_SECONDS; its parameters are the realtime snapshot's, tested in full
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass(frozen=True)
class Account:
    token: str
    project_id: int
    write_key: str


def register(gateway_url: str) -> Account:
    with httpx.Client(base_url=gateway_url, timeout=30, event_hooks=schema_hooks()) as client:
        response = client.post("/api/auth/register", json={"name": "Schema", "email": unique_email("schema"),
                                                           "password": PASSWORD})
    assert response.status_code == 201, response.text
    body = response.json()
    return Account(body["accessToken"], int(body["project"]["id"]), body["project"]["writeKey"])


@pytest.fixture(scope="module")
def account(gateway_url: str) -> Account:
    return register(gateway_url)


@pytest.fixture(scope="module")
def validator(gateway_url: str) -> ResponseValidator:
    return validator_for(gateway_url)


@pytest.fixture(scope="module")
def api_schema(gateway_url: str) -> schemathesis.BaseSchema:
    """The document as schemathesis reads it from the gateway (an SSE answer: read up to its first event)."""
    config = schemathesis.Config.from_dict({"max-stream-events": 1})
    return schemathesis.openapi.from_url(f"{gateway_url}/api/openapi.json", config=config)


def _project_parameter(template: str) -> str | None:
    """The name of the path parameter that holds the project's id (`/api/projects/{name}...`)."""
    found = re.match(r"/api/projects/\{([^}]+)\}", template)
    return found.group(1) if found else None


def _authorise(case: schemathesis.Case, operation: dict[str, Any], who: Account) -> None:
    """Send the case as `who`: the credentials its security asks for, `who`'s project in the path."""
    schemes = {name for requirement in operation.get("security", []) for name in requirement}
    headers = dict(case.headers or {})
    if "bearerAuth" in schemes:
        headers["Authorization"] = f"Bearer {who.token}"
    elif "writeKeyBasic" in schemes:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{who.write_key}:".encode()).decode()
        if isinstance(case.body, dict):
            for field in WRITE_KEY_FIELDS:
                if field in case.body:
                    case.body[field] = who.write_key
    case.headers = headers
    name = _project_parameter(case.operation.path)
    if name and case.path_parameters is not None and name in case.path_parameters:
        case.path_parameters[name] = who.project_id


def _operations(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(path, method) for path, item in document["paths"].items() for method in item if method in METHODS]


def _exercise(api_schema: schemathesis.BaseSchema, validator: ResponseValidator, path: str, method: str,
              mode: GenerationMode, who: Callable[[], Account]) -> None:
    """A few generated requests to one operation, each checked; raises on the first bad answer."""
    operation = validator.document["paths"][path][method]
    streams = any(media == "text/event-stream" for answer in operation.get("responses", {}).values()
                  for media in (answer.get("content") or {}))

    def send(case: schemathesis.Case) -> None:
        _authorise(case, operation, who())
        response = case.call_and_validate(checks=CHECKS, **({"timeout": STREAM_SECONDS} if streams else {}))
        # schemathesis leaves objects open; the suite's own check closes them
        validator.check(case.method, urlsplit(response.request.url).path, response.status_code,
                        response.headers.get("content-type", [None])[0], response.content)

    strategy = api_schema[path][method.upper()].as_strategy(generation_mode=mode)
    run = settings(max_examples=STREAM_EXAMPLES if streams else EXAMPLES_PER_OPERATION, derandomize=True,
                   database=None, deadline=None, phases=[Phase.generate],
                   suppress_health_check=list(HealthCheck))(given(strategy)(send))
    run()


def test_every_operation_answers_as_documented(api_schema: schemathesis.BaseSchema, gateway_url: str,
                                               account: Account, validator: ResponseValidator) -> None:
    """Every operation, valid and invalid generated requests: no 5xx, every answer as documented."""
    failures: list[str] = []
    for path, method in _operations(validator.document):
        spoils = (method.upper(), shape(path)) in SPOILERS
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _exercise(api_schema, validator, path, method, mode,
                          (lambda: register(gateway_url)) if spoils else (lambda: account))
            except (Exception, BaseExceptionGroup) as exc:  # all operations run; their failures are listed below
                failures.append(f"{method.upper()} {path} ({mode.value} data):\n{exc}")
    assert not failures, f"{len(failures)} operation(s) failed:\n\n" + "\n\n".join(failures)


def test_a_field_the_schema_lacks_fails_the_check(gateway_url: str, account: Account) -> None:
    """The proof that the check bites: a real project answer passes, the same with one more field fails."""
    with httpx.Client(base_url=gateway_url, timeout=30) as raw:
        real = raw.get(f"/api/projects/{account.project_id}", headers={"Authorization": f"Bearer {account.token}"})
    assert real.status_code == 200, real.text
    check_response(real)  # the hook passes the answer as the gateway gave it

    extra = f"undocumented_{uuid.uuid4().hex[:6]}"
    tampered = httpx.Response(200, headers={"content-type": "application/json"},
                              content=json.dumps({**real.json(), extra: True}).encode(), request=real.request)
    with pytest.raises(SchemaMismatch) as failed:
        check_response(tampered)
    message = str(failed.value)
    assert extra in message, message
    assert "GET /api/projects/{" in message and "-> 200" in message, message

    # inside a nested object too (the project of a registration), with the JSON path to it
    validator = validator_for(gateway_url)
    registration = {"accessToken": "a", "refreshToken": "r", "expiresIn": 60,
                    "user": {"id": 1, "name": "A", "email": "a@example.com", "createdAt": "2025-01-01T00:00:00Z"},
                    "project": {**real.json(), extra: 1}}
    problems = validator.problems("POST", "/api/auth/register", 201, "application/json",
                                  json.dumps(registration).encode())
    assert len(problems) == 1 and extra in problems[0] and "$.project" in problems[0], problems
    del registration["project"][extra]
    assert validator.problems("POST", "/api/auth/register", 201, "application/json",
                              json.dumps(registration).encode()) == []


def test_undocumented_paths_methods_and_statuses_fail_the_check(gateway_url: str, account: Account) -> None:
    validator = validator_for(gateway_url)
    project = f"/api/projects/{account.project_id}"
    body = json.dumps({"error": {"code": "not_found", "message": "Not found.", "fields": {}}}).encode()
    assert "not in the document" in validator.problems("GET", "/api/no-such-thing", 404, "application/json", body)[0]
    assert "method is not in the document" in validator.problems("PUT", project, 405, "application/json", body)[0]
    assert "status 418 is not documented" in validator.problems("GET", project, 418, "application/json", body)[0]
    # the dashboard, the SDK and the probes are not API: not checked
    for path in ("/", "/projects/1/dashboard", "/sdk/tme.js", "/healthz", "/metrics", "/api/openapi.json"):
        validator.check("GET", path, 200, "text/html", b"<html>")


def test_a_huge_number_in_an_event_does_not_break_reading_the_project(client: httpx.Client, gateway_url: str,
                                                                      db: Database) -> None:
    """Found by schemathesis: any JSON number is a valid property value; the event is accepted, so
    it must also be readable."""
    account = register(gateway_url)
    sent = client.post("/v1/track", auth=(account.write_key, ""),
                       json={"event": "Big", "userId": "u1", "properties": {"n": 1e20}})
    assert sent.status_code == 200 and sent.json()["accepted"] == 1, sent.text
    wait_rows(db, account.project_id, 1)
    auth = {"Authorization": f"Bearer {account.token}"}
    for path in ("events", "realtime", "persons/u1"):
        answer = client.get(f"/api/projects/{account.project_id}/{path}", headers=auth)
        assert answer.status_code == 200, (path, answer.text)
    events = client.get(f"/api/projects/{account.project_id}/events", headers=auth).json()["events"]
    assert events[0]["properties"]["n"] == 1e20
