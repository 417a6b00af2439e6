"""Bad input gets a precise 4xx in the shared error shape (never a 500), while the valid events
of the same batch are still stored."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest
from conftest import Database

from .helpers import Project, event, post_batch, wait_rows


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    assert response.headers["access-control-allow-origin"] == "*"  # browsers can read the reason
    return body


def test_invalid_events_are_named_and_valid_siblings_land(
    client: httpx.Client, db: Database, project: Project
) -> None:
    good_a, good_b = event("ok-a"), event("ok-b")
    batch = [good_a, {"eventName": 42}, "not an object", {"eventName": "t", "eventTime": "yesterday"},
             {"eventName": "c", "context": ["not", "an", "object"]}, good_b, {"sessionId": "s"},
             {"eventName": "ms", "eventTime": 1_700_000_000}]
    response = post_batch(client, project.write_key, batch)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True and body["accepted"] == 2
    rejected = {r["index"]: r["error"] for r in body["rejected"]}
    assert set(rejected) == {1, 2, 3, 4, 6, 7}
    assert rejected[1]["fields"] == {"eventName": "must be a string, not a number"}
    assert "must be an object" in rejected[2]["message"]
    assert "eventTime" in rejected[3]["fields"]
    assert rejected[4]["fields"] == {"context": "must be an object, not an array"}
    assert rejected[6]["fields"] == {"eventName": "is required"}
    assert "not seconds" in rejected[7]["fields"]["eventTime"]
    rows = wait_rows(db, project.id, 2)
    assert {r["message_id"] for r in rows} == {good_a["messageId"], good_b["messageId"]}


def test_a_single_invalid_event_is_a_422_naming_the_field(client: httpx.Client, project: Project) -> None:
    body = assert_error(client.post("/api/track", json={"apiKey": project.write_key, "eventName": ["x"]}),
                        422, "validation_error")
    assert body["error"]["fields"] == {"eventName": "must be a string, not an array"}
    body = assert_error(client.post("/api/track", json={"apiKey": project.write_key, "batch": [{}, {"eventName": 1}]}),
                        422, "validation_error")
    assert body["error"]["fields"] == {"batch[0].eventName": "is required",
                                       "batch[1].eventName": "must be a string, not a number"}


def test_malformed_json(client: httpx.Client, project: Project) -> None:
    headers = {"X-Write-Key": project.write_key}
    assert_error(client.post("/api/track", content=b'{"eventName": "x",', headers=headers), 400, "invalid_json")
    assert_error(client.post("/api/track", content=b"", headers=headers), 400, "invalid_json")
    assert_error(client.post("/api/track", content=b'["a list"]', headers=headers), 400, "invalid_json")
    assert_error(client.post("/v1/track", content=b"{nope", auth=(project.write_key, "")), 400, "invalid_json")


def test_size_limits(client: httpx.Client, db: Database, project: Project) -> None:
    auth = (project.write_key, "")
    big = "x" * (33 * 1024)
    body = assert_error(client.post("/v1/track", json={"userId": "u", "event": "big", "properties": {"b": big}},
                                    auth=auth), 413, "event_too_large")
    assert "32 KB" in body["error"]["message"]
    body = assert_error(client.post("/v1/batch", json={"batch": [{"type": "track", "userId": "u", "event": "e"}]
                                                        * 2501}, auth=auth), 413, "payload_too_large")
    assert "2500" in body["error"]["message"]
    huge = [{"type": "track", "userId": "u", "event": "e", "properties": {"p": "y" * 1000}}] * 600
    body = assert_error(client.post("/v1/batch", json={"batch": huge}, auth=auth), 413, "payload_too_large")
    assert "500 KB" in body["error"]["message"]
    zipped = gzip.compress(json.dumps({"batch": huge}).encode())  # small on the wire, too big inflated
    assert_error(client.post("/v1/batch", content=zipped, auth=auth, headers={"Content-Encoding": "gzip"}),
                 413, "payload_too_large")

    # one oversized event inside a batch is refused alone
    ok = {"type": "track", "userId": "u", "event": "fits", "messageId": "fits-1"}
    response = client.post("/v1/batch", json={"batch": [ok, {"type": "track", "userId": "u", "event": "big",
                                                               "properties": {"b": big}}]}, auth=auth)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    assert response.json()["rejected"][0]["error"]["code"] == "event_too_large"
    [row] = wait_rows(db, project.id, 1)
    assert row["message_id"] == "fits-1"


def test_write_key_problems_are_401(client: httpx.Client) -> None:
    assert_error(client.post("/api/track", json={"eventName": "x"}), 401, "missing_write_key")
    assert_error(client.post("/api/track", json={"apiKey": "wk_doesnotexist", "eventName": "x"}),
                 401, "invalid_write_key")
    assert_error(client.post("/v1/track", json={"userId": "u", "event": "e"}, auth=("wk_unknown", "")),
                 401, "invalid_write_key")
    assert_error(client.post("/v1/track", json={"userId": "u", "event": "e", "writeKey": "bad key!"}),
                 401, "invalid_write_key")


@pytest.mark.unchecked_responses("GET on an ingest route: a method the document does not list")
def test_unsupported_encoding_and_wrong_method(client: httpx.Client, project: Project) -> None:
    assert_error(client.post("/api/track", content=b'{"eventName":"x"}',
                             headers={"X-Write-Key": project.write_key, "Content-Encoding": "br"}),
                 415, "unsupported_encoding")
    response = client.get("/api/track")
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"


FUZZ = [
    b"null", b"0", b'"text"', b"true", b"{}", b'{"batch": null}', b'{"batch": {}}', b'{"batch": [null, 1, []]}',
    b'{"batch": [{"type": null}]}', b'{"eventName": null}', b'{"eventName": {"a": 1}}', b'{"eventTime": -1}',
    b'{"eventName": "x", "eventTime": 1e308}', b'{"eventName": "x", "eventTime": "2026-13-45T99:00:00Z"}',
    b'{"eventName": "x", "userId": true}', b'{"eventName": "x", "userId": 1.5}', b'{"eventName": "x", "page": 7}',
    b'{"eventName": "x", "properties": "p"}', b'{"eventName": "' + b"n" * 300 + b'"}', b"[" * 5000,
    b'{"eventName": "x", "sentAt": "garbage"}', b'{"batch": [{"type": "alias"}], "sentAt": 5}',
    b'{"type": "identify", "traits": [1]}', b'{"batch": [], "context": "c"}', b"\xff\xfe\x00",
    b'{"eventName": "x\\u0000", "context": {"k\\u0000": ["\\u0000"]}}', b'{"eventName": "\\ud800"}',
]


@pytest.mark.parametrize("path", ["/api/track", "/v1/track", "/v1/identify", "/v1/alias", "/v1/batch"])
def test_fuzzed_bodies_never_cause_a_server_error(client: httpx.Client, project: Project, path: str) -> None:
    for body in FUZZ:
        response = client.post(path, content=body, auth=(project.write_key, ""))
        assert response.status_code < 500, (body[:80], response.text)
        if response.status_code >= 400:
            assert "error" in response.json()
