"""stats/breakdown: visitors and events per dimension value, sorted and paginated."""

from __future__ import annotations

from .conftest import Project, assert_error

RANGE = {"from_": "2026-01-05", "to": "2026-01-11"}


def _seed(project: Project) -> None:
    ev = project.events
    ev.insert([
        ev.row("2026-01-05 10:00", path="/", visitor="a", referrer_host="news.example", utm_source="newsletter"),
        ev.row("2026-01-05 10:01", path="/pricing", visitor="a"),
        ev.row("2026-01-05 10:02", path="/", visitor="a"),
        ev.row("2026-01-05 10:03", "Signup", visitor="a", properties={"plan": "pro"}),
        ev.row("2026-01-06 10:00", path="/", visitor="b", referrer_host="google.com", browser="Chrome"),
        ev.row("2026-01-06 10:01", path="/pricing", visitor="b", referrer_host="google.com", browser="Chrome"),
        ev.row("2026-01-06 10:02", "Signup", visitor="b", properties={"plan": "free"}, browser="Chrome"),
        ev.row("2026-01-07 10:00", path="/blog", visitor="c", referrer_host="google.com"),
        ev.row("2026-01-07 10:01", path="/", visitor="c", referrer_host="google.com"),
        ev.row("2026-01-08 10:00", path="/about", visitor="d", device_type="mobile"),
        ev.row("2026-01-08 10:05", path="/docs", visitor="d", device_type="mobile"),
        ev.row("2026-01-08 10:06", "Signup", visitor="d", properties={"plan": "pro"}, device_type="mobile"),
    ])


def _rows(body: dict) -> list[tuple]:
    return [(r["value"], r["visitors"], r["events"]) for r in body["rows"]]


def test_pages_sources_and_properties(project: Project) -> None:
    _seed(project)
    pages = project.ok("stats/breakdown", by="page", **RANGE)
    assert _rows(pages) == [("/", 3, 4), ("/pricing", 2, 2), ("/about", 1, 1), ("/blog", 1, 1), ("/docs", 1, 1)]
    assert pages["nextCursor"] is None
    referrers = project.ok("stats/breakdown", by="referrer", **RANGE)
    assert _rows(referrers) == [(None, 3, 7), ("google.com", 2, 4), ("news.example", 1, 1)]
    sources = project.ok("stats/breakdown", by="source", **RANGE)
    assert _rows(sources) == [(None, 3, 7), ("Google", 2, 4), ("newsletter", 1, 1)]
    plans = project.ok("stats/breakdown", by="prop:plan", **RANGE)
    assert _rows(plans) == [("pro", 2, 2), ("free", 1, 1)]
    events = project.ok("stats/breakdown", by="event", **RANGE)
    assert _rows(events) == [("PAGE_VIEW", 4, 9), ("Signup", 3, 3)]
    browsers = project.ok("stats/breakdown", by="browser", **RANGE,
                          filters=[{"field": "event", "op": "eq", "value": "Signup"}])
    assert _rows(browsers) == [("Firefox", 2, 2), ("Chrome", 1, 1)]
    devices = project.ok("stats/breakdown", by="device", **RANGE)
    assert _rows(devices) == [("desktop", 3, 9), ("mobile", 1, 3)]


def test_entry_and_exit_pages_count_sessions(project: Project) -> None:
    _seed(project)
    entries = project.ok("stats/breakdown", by="entryPage", **RANGE)
    assert _rows(entries) == [("/", 2, 2), ("/about", 1, 1), ("/blog", 1, 1)]
    exits = project.ok("stats/breakdown", by="exitPage", **RANGE)
    assert _rows(exits) == [("/", 2, 2), ("/docs", 1, 1), ("/pricing", 1, 1)]


def test_pages_walk_every_row_once(project: Project) -> None:
    ev = project.events
    rows = []
    # 25 paths; path i is seen by (i % 4) + 1 visitors: many ties on the visitor count
    for i in range(25):
        for v in range(i % 4 + 1):
            rows.append(ev.row("2026-01-05 10:00", path=f"/p{i:02d}", visitor=f"v{v}"))
    ev.insert(rows)
    full = project.ok("stats/breakdown", by="page", **RANGE, limit=1000)["rows"]
    assert len(full) == 25
    seen: list[dict] = []
    cursor = None
    for _ in range(20):
        body = project.ok("stats/breakdown", by="page", **RANGE, limit=4, cursor=cursor)
        assert len(body["rows"]) <= 4
        seen.extend(body["rows"])
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert seen == full
    assert [r["visitors"] for r in seen] == sorted((r["visitors"] for r in seen), reverse=True)


def test_null_values_paginate_too(project: Project) -> None:
    _seed(project)
    first = project.ok("stats/breakdown", by="referrer", **RANGE, limit=1)
    assert _rows(first) == [(None, 3, 7)]
    second = project.ok("stats/breakdown", by="referrer", **RANGE, limit=1, cursor=first["nextCursor"])
    assert _rows(second) == [("google.com", 2, 4)]
    third = project.ok("stats/breakdown", by="referrer", **RANGE, limit=1, cursor=second["nextCursor"])
    assert _rows(third) == [("news.example", 1, 1)] and third["nextCursor"] is None


def test_bad_breakdown_parameters(project: Project) -> None:
    assert_error(project.get("stats/breakdown", by="country"), 400, "by")
    assert_error(project.get("stats/breakdown"), 400, "by")
    assert_error(project.get("stats/breakdown", by="prop:"), 400, "by")
    assert_error(project.get("stats/breakdown", by="page", limit=1001), 400, "limit")
    assert_error(project.get("stats/breakdown", by="page", limit=0), 400, "limit")
    assert_error(project.get("stats/breakdown", by="page", cursor="not-a-cursor"), 400, "cursor")
