"""realtime: visitors right now, the latest events, and a live Server-Sent Events stream."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import httpx

from .conftest import Project


def _now(minutes_ago: float = 0) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)


def test_visitors_in_the_last_five_minutes_and_latest_events(project: Project) -> None:
    ev = project.events
    ev.insert([
        ev.row(_now(1), visitor="a"), ev.row(_now(2), "Click", visitor="a"), ev.row(_now(4), visitor="b"),
        ev.row(_now(1), visitor="robot", is_bot=True),
        ev.row(_now(10), visitor="earlier"),
    ])
    body = project.ok("realtime")
    assert body["visitors"] == 2 and body["windowSeconds"] == 300
    assert len(body["events"]) == 5
    assert project.ok("realtime", limit=2)["events"].__len__() == 2
    clicks = project.ok("realtime", filters=[{"field": "event", "op": "eq", "value": "Click"}])
    assert clicks["visitors"] == 1 and [e["event"] for e in clicks["events"]] == ["Click"]


def test_the_stream_delivers_a_newly_stored_event(project: Project) -> None:
    ev = project.events
    ev.add(_now(1), "Before")  # stored before the stream opened: not replayed
    received: list[dict] = []
    lines: list[str] = []
    inserted: dict[str, str] = {}

    def insert_soon() -> None:
        time.sleep(1.5)
        inserted["id"] = ev.add(_now(), "Live", visitor="live-visitor")["message_id"]

    with project.http.stream("GET", project.url("realtime/stream"), headers={**project.auth,
                                                                             "accept": "text/event-stream"},
                             timeout=httpx.Timeout(20)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        writer = threading.Thread(target=insert_soon)
        writer.start()
        deadline = time.monotonic() + 15
        for line in response.iter_lines():
            lines.append(line)
            if line.startswith("data: "):
                received.append(json.loads(line[len("data: "):]))
                break
            assert time.monotonic() < deadline, lines
        writer.join()
    assert ": connected" in lines
    assert "event: event" in lines
    assert [e["event"] for e in received] == ["Live"]
    assert received[0]["messageId"] == inserted["id"] and received[0]["visitorId"] == "live-visitor"
