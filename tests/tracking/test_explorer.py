"""The event explorer (newest first, cursor pages), exports, and the person view."""

from __future__ import annotations

import csv
import io
import json

from conftest import Database

from .conftest import Project, assert_error

RANGE = {"from_": "2026-01-05", "to": "2026-01-06"}


def test_the_cursor_never_skips_or_repeats_while_events_arrive(project: Project) -> None:
    ev = project.events
    original = [ev.row(f"2026-01-05 10:{m:02d}", visitor=f"v{m}") for m in range(20)]
    original += [ev.row("2026-01-05 12:00", "Tie", visitor=f"t{i}") for i in range(10)]  # same instant
    ev.insert(original)
    walked: list[str] = []
    late: list[str] = []
    cursor = None
    for page in range(50):
        body = project.ok("events", **RANGE, limit=7, cursor=cursor)
        walked.extend(e["messageId"] for e in body["events"])
        times = [(e["timestamp"], e["messageId"]) for e in body["events"]]
        assert times == sorted(times, reverse=True)
        cursor = body["nextCursor"]
        if cursor is None:
            break
        # meanwhile: live events (newer than everything) and late ones (older than anything seen so far)
        ev.add("2026-01-06 23:00", "Live", visitor=f"live{page}")
        late.append(ev.add(f"2026-01-05 09:{59 - page:02d}", "Late", visitor=f"late{page}")["message_id"])
    assert len(walked) == len(set(walked)), "an event was repeated"
    assert {r["message_id"] for r in original} <= set(walked), "an event that was there was skipped"
    assert set(late) <= set(walked), "late events older than the cursor show up further down"
    assert not any(e.startswith("live") for e in walked)


def test_events_carry_every_field_and_filters_apply(project: Project) -> None:
    ev = project.events
    row = ev.add("2026-01-05 10:00", "Signup", visitor="anon", user="u1", session_id="s1",
                 properties={"plan": "pro"}, context={"locale": "de"}, utm_source="ads", referrer_host="x.com")
    ev.add("2026-01-05 11:00", "IDENTIFY", visitor="anon", user="u1", traits={"email": "u1@example.com"})
    ev.add("2026-01-05 12:00", visitor="bot", is_bot=True)
    body = project.ok("events", **RANGE)
    assert [e["event"] for e in body["events"]] == ["PAGE_VIEW", "IDENTIFY", "Signup"]  # everything, newest first
    signup = body["events"][2]
    assert signup["messageId"] == row["message_id"]
    assert signup["timestamp"] == "2026-01-05T10:00:00Z"
    assert (signup["visitorId"], signup["userId"], signup["anonymousId"], signup["sessionId"]) == \
        ("u1", "u1", "anon", "s1")
    assert signup["properties"] == {"plan": "pro"} and signup["context"] == {"locale": "de"}
    assert (signup["utmSource"], signup["referrerHost"], signup["type"]) == ("ads", "x.com", "track")
    assert body["events"][1]["traits"] == {"email": "u1@example.com"}
    only = project.ok("events", **RANGE, filters=[{"field": "prop:plan", "op": "eq", "value": "pro"}])
    assert [e["messageId"] for e in only["events"]] == [row["message_id"]]
    assert_error(project.get("events", filters="[{"), 400, "filters")
    assert_error(project.get("events", filters='{"field": "event"}'), 400, "filters")
    assert_error(project.get("events", filters=[{"field": "event", "op": "like", "value": "x"}]), 400, "filters")
    assert_error(project.get("events", filters=[{"field": "event", "op": "eq"}]), 400, "filters")


def test_exports_stream_every_matching_event_oldest_first(project: Project) -> None:
    ev = project.events
    rows = [ev.row(f"2026-01-05 {h:02d}:{m:02d}", "Tick" if m % 2 else "PAGE_VIEW", visitor=f"v{m}",
                   properties={"n": h * 60 + m, "text": 'with "quotes", commas\nand newlines'})
            for h in range(20) for m in range(60)]
    ev.insert(rows)
    ev.add("2026-01-07 10:00", "Outside")
    expected = sorted((r["event_time"], r["message_id"]) for r in rows)

    with project.http.stream("GET", project.url("events/export"), headers=project.auth,
                             params={"format": "csv", "from": "2026-01-05", "to": "2026-01-06"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        text = "".join(response.iter_text())
    records = list(csv.DictReader(io.StringIO(text)))
    assert len(records) == 1200
    assert [r["messageId"] for r in records] == [m for _, m in expected]
    assert json.loads(records[5]["properties"]) == {"n": 5, "text": 'with "quotes", commas\nand newlines'}
    assert records[0]["timestamp"] == "2026-01-05T00:00:00Z" and records[0]["isBot"] == "false"

    response = project.get("events/export", format="ndjson", from_="2026-01-05", to="2026-01-06",
                           filters=[{"field": "event", "op": "eq", "value": "Tick"}])
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert len(lines) == 600 and all(e["event"] == "Tick" for e in lines)
    assert lines[0]["properties"]["n"] == 1

    empty = project.get("events/export", format="csv", from_="2025-01-01", to="2025-01-02")
    assert empty.status_code == 200 and empty.text.count("\n") == 1  # the header only
    assert_error(project.get("events/export", format="xlsx"), 400, "format")


def test_the_person_view_resolves_aliases(project: Project, db: Database) -> None:
    ev = project.events
    ev.insert([
        ev.row("2026-01-05 09:00", visitor="anon-1"),
        ev.row("2026-01-05 09:05", "IDENTIFY", visitor="anon-1", user="user-1", traits={"plan": "pro"}),
        ev.row("2026-01-05 09:10", "Signup", visitor="anon-1", user="user-1"),
        ev.row("2026-01-06 09:00", visitor="someone-else"),
    ])
    db.execute("INSERT INTO person_aliases (project_id, alias_id, visitor_id) VALUES ($1, 'anon-1', 'user-1')",
               project.id)
    db.execute("""INSERT INTO persons (project_id, visitor_id, traits, first_seen, last_seen)
                  VALUES ($1, 'user-1', '{"plan": "pro", "name": "Ada"}', '2026-01-05 09:05Z', '2026-01-05 09:10Z')""",
               project.id)
    for who in ("user-1", "anon-1"):
        body = project.ok(f"persons/{who}")
        assert body["visitorId"] == "user-1" and body["ids"] == ["user-1", "anon-1"]
        assert body["traits"] == {"plan": "pro", "name": "Ada"}
        assert body["firstSeen"] == "2026-01-05T09:00:00Z" and body["lastSeen"] == "2026-01-05T09:10:00Z"
        assert [e["event"] for e in body["events"]] == ["Signup", "IDENTIFY", "PAGE_VIEW"]
    paged = project.ok("persons/anon-1", limit=2)
    rest = project.ok("persons/anon-1", limit=2, cursor=paged["nextCursor"])
    assert [e["event"] for e in paged["events"] + rest["events"]] == ["Signup", "IDENTIFY", "PAGE_VIEW"]
    assert rest["nextCursor"] is None
    assert_error(project.get("persons/nobody"), 404)
