"""Segment HTTP Tracking API compatibility: the official Python SDK works unchanged, retries
are stored once, clock skew is corrected, identify and alias update persons."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import httpx
import redis
from conftest import Database
from segment.analytics import Client

from .helpers import Project, wait_drained, wait_rows


def iso(value: dt.datetime) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_official_segment_python_sdk_works_unchanged(gateway_url: str, db: Database, project: Project) -> None:
    errors: list[Exception] = []
    sdk = Client(project.write_key, host=gateway_url, sync_mode=True, max_retries=0,
                 on_error=lambda exc, batch: errors.append(exc))
    sdk.track(user_id="sdk-user", event="Order Completed", properties={"revenue": 42.5, "currency": "EUR"})
    sdk.page(anonymous_id="anon-1", name="Pricing", properties={"url": "https://ex.com/pricing?utm_source=ad"})
    sdk.identify(user_id="sdk-user", traits={"email": "sdk@example.com"})
    sdk.screen(user_id="sdk-user", name="Home")
    sdk.group(user_id="sdk-user", group_id="acme", traits={"seats": 5})
    sdk.alias(previous_id="anon-1", user_id="sdk-user")
    gz = Client(project.write_key, host=gateway_url, sync_mode=True, gzip=True, max_retries=0,
                on_error=lambda exc, batch: errors.append(exc))
    gz.track(anonymous_id="anon-2", event="Compressed")
    assert errors == []

    rows = {r["event_name"]: r for r in wait_rows(db, project.id, 7)}
    assert set(rows) == {"Order Completed", "PAGE_VIEW", "IDENTIFY", "SCREEN_VIEW", "GROUP", "ALIAS", "Compressed"}
    order = rows["Order Completed"]
    assert order["type"] == "track" and order["user_id"] == "sdk-user"
    assert json.loads(order["properties"]) == {"revenue": 42.5, "currency": "EUR"}
    assert json.loads(order["context"])["library"]["name"] == "analytics-python"
    page = rows["PAGE_VIEW"]
    assert page["anonymous_id"] == "anon-1" and page["visitor_id"] == "anon-1"
    assert page["path"] == "/pricing" and page["utm_source"] == "ad"
    assert json.loads(page["properties"])["name"] == "Pricing"
    assert rows["GROUP"]["group_id"] == "acme" and json.loads(rows["GROUP"]["traits"]) == {"seats": 5}
    assert rows["ALIAS"]["previous_id"] == "anon-1"
    assert rows["IDENTIFY"]["sent_at"] is not None


def test_single_call_endpoints_with_write_key_in_body(client: httpx.Client, db: Database, project: Project) -> None:
    response = client.post("/v1/track", json={"writeKey": project.write_key, "anonymousId": "a", "event": "Body Key"})
    assert response.status_code == 200, response.text
    assert response.json()["success"] is True
    [row] = wait_rows(db, project.id, 1)
    assert row["event_name"] == "Body Key"


def test_clock_skew_is_corrected_from_sent_at(client: httpx.Client, db: Database, project: Project) -> None:
    """A device whose clock is two hours fast: timestamp = receivedAt - (sentAt - timestamp)."""
    device_now = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    happened = device_now - dt.timedelta(seconds=30)
    response = client.post("/v1/batch", auth=(project.write_key, ""), json={
        "batch": [{"type": "track", "userId": "u", "event": "Skewed", "timestamp": iso(happened)}],
        "sentAt": iso(device_now)})
    assert response.status_code == 200, response.text
    [row] = wait_rows(db, project.id, 1)
    delay = (row["received_at"] - row["event_time"]).total_seconds()
    assert 29.9 <= delay <= 30.1


def test_same_message_id_three_times_is_one_row(
    client: httpx.Client, db: Database, rds: redis.Redis, project: Project
) -> None:
    """Retries carry the same messageId and timestamp but a new sentAt; one arrives an hour later.
    Their corrected times differ (another partition key), yet only one row is stored."""
    message_id = f"retry-{uuid.uuid4()}"
    happened = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    for sent in (happened + dt.timedelta(seconds=1), happened + dt.timedelta(seconds=2),
                 happened + dt.timedelta(hours=1)):
        response = client.post("/v1/batch", auth=(project.write_key, ""), json={
            "batch": [{"type": "track", "userId": "u", "event": "Retried", "messageId": message_id,
                       "timestamp": iso(happened)}], "sentAt": iso(sent)})
        assert response.status_code == 200, response.text
        wait_drained(rds)  # each copy is consumed before the next is sent
    same_request = client.post("/v1/batch", auth=(project.write_key, ""), json={"batch": [
        {"type": "track", "userId": "u", "event": "Twin", "messageId": "twin"},
        {"type": "track", "userId": "u", "event": "Twin", "messageId": "twin"}]})
    assert same_request.json()["accepted"] == 2
    wait_drained(rds)
    rows = db.fetch("SELECT message_id, event_time FROM events WHERE project_id = $1 ORDER BY message_id", project.id)
    assert [r["message_id"] for r in rows] == [message_id, "twin"]
    assert db.fetchval("SELECT count(*) FROM event_ids WHERE project_id = $1", project.id) == 2


def test_identify_upserts_traits_and_alias_links_ids(
    client: httpx.Client, db: Database, rds: redis.Redis, project: Project
) -> None:
    auth = (project.write_key, "")
    now = dt.datetime.now(dt.UTC)
    first = {"userId": "ada", "anonymousId": "anon-ada", "traits": {"email": "ada@example.com", "plan": "free"},
             "timestamp": iso(now - dt.timedelta(minutes=2))}
    assert client.post("/v1/identify", json=first, auth=auth).status_code == 200
    wait_drained(rds)
    second = {"userId": "ada", "traits": {"plan": "pro", "company": "Analytical Engines"},
              "timestamp": iso(now - dt.timedelta(minutes=1))}
    assert client.post("/v1/identify", json=second, auth=auth).status_code == 200
    older = {"userId": "ada", "traits": {"plan": "trial", "age": 36}, "timestamp": iso(now - dt.timedelta(hours=1))}
    assert client.post("/v1/identify", json=older, auth=auth).status_code == 200  # late, older news
    assert client.post("/v1/alias", json={"previousId": "cookie-123", "userId": "ada"}, auth=auth).status_code == 200
    wait_drained(rds)

    [person] = db.fetch("SELECT * FROM persons WHERE project_id = $1", project.id)
    assert person["visitor_id"] == "ada"
    assert json.loads(person["traits"]) == {"email": "ada@example.com", "plan": "pro",
                                            "company": "Analytical Engines", "age": 36}
    links = {r["alias_id"]: r["visitor_id"] for r in
             db.fetch("SELECT alias_id, visitor_id FROM person_aliases WHERE project_id = $1", project.id)}
    assert links == {"anon-ada": "ada", "cookie-123": "ada"}


def test_segment_validation_errors(client: httpx.Client, db: Database, project: Project) -> None:
    auth = (project.write_key, "")
    response = client.post("/v1/batch", auth=auth, json={"batch": [
        {"type": "track", "userId": "u", "event": "Valid"},
        {"type": "track", "userId": "u"},
        {"type": "teleport", "userId": "u"},
        {"type": "identify", "traits": {"a": 1}},
        {"type": "group", "userId": "u"},
        {"type": "track", "userId": "u", "event": "E", "timestamp": "not a date"},
    ]})
    assert response.status_code == 200, response.text
    rejected = {r["index"]: r["error"]["fields"] for r in response.json()["rejected"]}
    assert rejected == {
        1: {"event": "is required"},
        2: {"type": "must be one of track, page, screen, identify, group, alias"},
        3: {"userId": "userId or anonymousId is required"},
        4: {"groupId": "is required"},
        5: {"timestamp": rejected[5]["timestamp"]},
    }
    assert "ISO-8601" in rejected[5]["timestamp"]
    [row] = wait_rows(db, project.id, 1)
    assert row["event_name"] == "Valid"
    missing = client.post("/v1/alias", json={"userId": "u"}, auth=auth)
    assert missing.status_code == 422 and missing.json()["error"]["fields"] == {"previousId": "is required"}
