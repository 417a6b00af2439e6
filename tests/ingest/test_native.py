"""The native endpoint (`/api/track`) and the seed's path: what a website's snippet sends lands
as rows, enriched, with no IP address stored."""

from __future__ import annotations

import json
import time

import httpx
from conftest import Database

from .helpers import Project, event, metric, post_batch, wait_rows

IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.1 Mobile/15E148 Safari/604.1")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def test_single_event_lands_enriched(client: httpx.Client, db: Database, project: Project) -> None:
    now = int(time.time() * 1000)
    body = {
        "apiKey": project.write_key, "sessionId": "sess-1", "userId": "user-42", "eventName": "PAGE_VIEW",
        "eventTime": now - 1000, "page": "https://shop.example.com/shoes/red?utm_source=news&utm_medium=email"
                                         "&utm_campaign=spring&utm_term=red+shoes&utm_content=top",
        "referrer": "https://www.google.com/search?q=shoes", "context": {"plan": "pro", "ip": "203.0.113.9"},
    }
    response = client.post("/api/track", json=body, headers={"User-Agent": IPHONE})
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "accepted": 1, "rejected": []}
    assert response.headers["access-control-allow-origin"] == "*"

    [row] = wait_rows(db, project.id, 1)
    assert row["event_name"] == "PAGE_VIEW" and row["type"] == "page"
    assert row["session_id"] == "sess-1" and row["user_id"] == "user-42" and row["visitor_id"] == "user-42"
    assert int(row["event_time"].timestamp() * 1000) == now - 1000
    assert row["path"] == "/shoes/red" and row["referrer_host"] == "www.google.com"
    assert (row["utm_source"], row["utm_medium"], row["utm_campaign"], row["utm_term"], row["utm_content"]) == \
        ("news", "email", "spring", "red shoes", "top")
    assert (row["browser"], row["os"], row["device_type"], row["is_bot"]) == ("Mobile Safari", "iOS", "mobile", False)
    assert row["user_agent"] == IPHONE
    assert json.loads(row["context"]) == {"plan": "pro"}  # the client's IP is not kept
    assert row["received_at"] is not None and row["created_at"] is not None


def test_seed_path_and_text_plain_beacon(client: httpx.Client, db: Database, project: Project) -> None:
    """The seed's snippet posts to /api/tracking-service/v1/public/events/; sendBeacon sends
    text/plain. Both land; a missing userId gets a temporary id like the seed's. On the seed's path
    `context` was the caller's own data (`__trk.trackEvent({eventName, context})`): it is stored as
    the event's properties, as the import of the original's history stores it."""
    seed = {"apiKey": project.write_key, "sessionId": "tab-1", "eventName": "signup_click",
            "eventTime": int(time.time() * 1000), "page": "https://app.example.com/", "referrer": "",
            "context": {"button": "hero"}}
    response = client.post("/api/tracking-service/v1/public/events/", json=seed)
    assert response.status_code == 200, response.text
    beacon = client.post("/api/track", content=json.dumps({**seed, "eventName": "beacon", "userId": "u-7"}),
                         headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert beacon.status_code == 200, beacon.text

    rows = {r["event_name"]: r for r in wait_rows(db, project.id, 2)}
    assert rows["signup_click"]["user_id"].startswith("temp:")
    assert rows["signup_click"]["referrer"] == "" and rows["signup_click"]["path"] == "/"
    assert rows["beacon"]["user_id"] == "u-7"
    assert json.loads(rows["signup_click"]["properties"]) == {"button": "hero"}
    assert "button" not in json.loads(rows["signup_click"]["context"] or "{}")
    assert json.loads(rows["beacon"]["context"]) == {"button": "hero"}  # /api/track: context as sent


def test_batch_with_write_key_header_and_bot_flag(client: httpx.Client, db: Database, project: Project) -> None:
    events = [event(f"e{i}") for i in range(25)]
    response = client.post("/api/track", json={"batch": events},
                           headers={"X-Write-Key": project.write_key, "User-Agent": GOOGLEBOT})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 25
    rows = wait_rows(db, project.id, 25)
    assert {r["message_id"] for r in rows} == {e["messageId"] for e in events}
    assert all(r["is_bot"] and r["device_type"] == "bot" for r in rows)


def test_cors_preflight_is_answered(client: httpx.Client) -> None:
    for path in ("/api/track", "/api/tracking-service/v1/public/events/", "/v1/batch"):
        response = client.options(path, headers={
            "Origin": "https://any-customer-site.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        assert response.status_code == 204
        assert response.headers["access-control-allow-origin"] == "*"
        assert "POST" in response.headers["access-control-allow-methods"]
        assert "content-type" in response.headers["access-control-allow-headers"].lower()


def test_write_key_is_looked_up_once_then_cached(client: httpx.Client, gateway_url: str, project: Project) -> None:
    before = metric(gateway_url, "tme_ingest_write_key_lookups_total", 'source="users"')
    for _ in range(20):
        assert post_batch(client, project.write_key, [event()]).status_code == 200
    after = metric(gateway_url, "tme_ingest_write_key_lookups_total", 'source="users"')
    assert after - before == 1
