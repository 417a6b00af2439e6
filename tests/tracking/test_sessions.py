"""sessions: from the SDK's sessionId, else 30 minutes of inactivity per visitor; newest first."""

from __future__ import annotations

from .conftest import Project, assert_error

DAY = {"from_": "2026-01-05", "to": "2026-01-05"}


def _seed(project: Project) -> None:
    ev = project.events
    ev.insert([
        # v1 without session ids: 10:00-10:29 is one session (gaps under 30 min), 11:00 starts another
        ev.row("2026-01-05 10:00", path="/", visitor="v1", referrer_host="google.com"),
        ev.row("2026-01-05 10:20", "Click", visitor="v1"),
        ev.row("2026-01-05 10:29", path="/pricing", visitor="v1"),
        ev.row("2026-01-05 11:00", path="/docs", visitor="v1"),
        # exactly 30 minutes is not more than 30 minutes: same session
        ev.row("2026-01-05 11:30", path="/docs/api", visitor="v1"),
        # v2 with a session id: one session across a long pause; a second id is a second session
        ev.row("2026-01-05 12:00", path="/a", visitor="v2", session_id="s1", browser="Safari", os="iOS",
               device_type="mobile"),
        ev.row("2026-01-05 14:00", path="/b", visitor="v2", session_id="s1"),
        ev.row("2026-01-05 14:05", path="/c", visitor="v2", session_id="s2"),
    ])


def test_sessions_by_id_and_by_inactivity(project: Project) -> None:
    _seed(project)
    body = project.ok("sessions", **DAY)
    sessions = body["sessions"]
    assert [(s["visitorId"], s["start"], s["durationSeconds"], s["events"], s["pageviews"], s["entryPage"],
             s["exitPage"]) for s in sessions] == [
        ("v2", "2026-01-05T14:05:00Z", 0.0, 1, 1, "/c", "/c"),
        ("v2", "2026-01-05T12:00:00Z", 7200.0, 2, 2, "/a", "/b"),
        ("v1", "2026-01-05T11:00:00Z", 1800.0, 2, 2, "/docs", "/docs/api"),
        ("v1", "2026-01-05T10:00:00Z", 1740.0, 3, 2, "/", "/pricing"),
    ]
    assert sessions[1]["device"] == "mobile" and sessions[1]["browser"] == "Safari"
    assert sessions[3]["referrer"] == "google.com" and sessions[3]["end"] == "2026-01-05T10:29:00Z"
    assert len({s["id"] for s in sessions}) == 4
    assert body["nextCursor"] is None
    summary = project.ok("stats/summary", **DAY)
    assert summary["sessions"]["value"] == 4 and summary["bounceRate"]["value"] == 0.25


def test_session_pages_walk_every_session_once(project: Project) -> None:
    _seed(project)
    full = project.ok("sessions", **DAY)["sessions"]
    walked, cursor = [], None
    while True:
        body = project.ok("sessions", **DAY, limit=1, cursor=cursor)
        walked.extend(body["sessions"])
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert walked == full
    assert_error(project.get("sessions", cursor="eyJ4IjoxfQ"), 400, "cursor")


def test_a_filter_picks_whole_sessions_in_every_session_answer(project: Project) -> None:
    """A page filter asks "the visits that saw /pricing": the list, the sessions series, the entry
    pages and the summary all answer with the whole 10:00 session of v1 (its three events and two
    page views, entry page /), not with the one matching page view."""
    _seed(project)
    pricing = [{"field": "page", "op": "eq", "value": "/pricing"}]
    sessions = project.ok("sessions", **DAY, filters=pricing)["sessions"]
    assert [(s["visitorId"], s["start"], s["events"], s["pageviews"], s["entryPage"], s["exitPage"],
             s["durationSeconds"]) for s in sessions] == [("v1", "2026-01-05T10:00:00Z", 3, 2, "/", "/pricing", 1740.0)]
    series = project.ok("stats/timeseries", metric="sessions", interval="hour", **DAY, filters=pricing)
    assert [(p["bucket"], p["value"]) for p in series["points"] if p["value"]] == [("2026-01-05T10:00:00+00:00", 1)]
    entries = project.ok("stats/breakdown", by="entryPage", **DAY, filters=pricing)["rows"]
    assert [(r["value"], r["events"]) for r in entries] == [("/", 1)]
    summary = project.ok("stats/summary", **DAY, filters=pricing)
    assert (summary["sessions"]["value"], summary["bounceRate"]["value"], summary["viewsPerSession"]["value"]) == \
        (1, 0.0, 2.0)

    # a filter on a session's later page: v2's first session entered on /a, not on /b
    later = [{"field": "page", "op": "eq", "value": "/b"}]
    assert [r["value"] for r in project.ok("stats/breakdown", by="entryPage", **DAY, filters=later)["rows"]] == ["/a"]
    assert [s["events"] for s in project.ok("sessions", **DAY, filters=later)["sessions"]] == [2]
