"""stats/summary on a hand-built week: every figure, the previous period, bots, empty ranges and
filters on properties."""

from __future__ import annotations

from .conftest import Project

WEEK = {"from_": "2026-01-05", "to": "2026-01-11"}


def _seed_week(project: Project) -> None:
    ev = project.events
    ev.insert([
        # v1: three events within 30 minutes (one session, 600 s), then one 50 minutes later (a bounce)
        ev.row("2026-01-05 10:00", path="/", visitor="v1"),
        ev.row("2026-01-05 10:01", "IDENTIFY", visitor="v1"),  # not an action: not counted
        ev.row("2026-01-05 10:05", path="/pricing", visitor="v1"),
        ev.row("2026-01-05 10:10", "Signup", visitor="v1", properties={"plan": "pro"}),
        ev.row("2026-01-05 11:00", path="/", visitor="v1"),
        # v2: one SDK session despite a 45-minute pause (2700 s)
        ev.row("2026-01-06 09:00", path="/blog", visitor="v2", session_id="s-a"),
        ev.row("2026-01-06 09:45", path="/blog/post", visitor="v2", session_id="s-a"),
        # an identified user: a bounce
        ev.row("2026-01-07 12:00", path="/", visitor="anon-3", user="u3"),
        # a bot: left out by default
        ev.row("2026-01-07 13:00", path="/", visitor="crawler", is_bot=True, device_type="bot"),
        # the previous week: one session of two events, 60 s
        ev.row("2026-01-02 08:00", path="/", visitor="v4"),
        ev.row("2026-01-02 08:01", "Signup", visitor="v4", properties={"plan": "free"}),
        # outside both weeks
        ev.row("2026-01-12 00:00", path="/", visitor="late"),
        ev.row("2025-12-28 23:59", path="/", visitor="early"),
    ])


def test_every_metric_with_the_previous_period(project: Project) -> None:
    _seed_week(project)
    body = project.ok("stats/summary", **WEEK)
    assert body["from"] == "2026-01-05T00:00:00+00:00" and body["to"] == "2026-01-12T00:00:00+00:00"
    assert body["previousFrom"] == "2025-12-29T00:00:00+00:00" and body["previousTo"] == body["from"]
    assert body["events"] == {"value": 7, "previous": 2}
    assert body["pageviews"] == {"value": 6, "previous": 1}
    assert body["visitors"] == {"value": 3, "previous": 1}
    assert body["sessions"] == {"value": 4, "previous": 1}
    assert body["bounceRate"] == {"value": 0.5, "previous": 0.0}
    assert body["avgSessionDuration"] == {"value": 825.0, "previous": 60.0}
    assert body["viewsPerSession"] == {"value": 1.5, "previous": 1.0}


def test_an_empty_range_is_all_zeros_and_undefined_ratios(project: Project) -> None:
    _seed_week(project)
    body = project.ok("stats/summary", from_="2025-06-01", to="2025-06-07")
    for metric in ("events", "pageviews", "visitors", "sessions"):
        assert body[metric] == {"value": 0, "previous": 0}
    for ratio in ("bounceRate", "avgSessionDuration", "viewsPerSession"):
        assert body[ratio] == {"value": None, "previous": None}


def test_bots_count_only_when_a_filter_asks_for_them(project: Project) -> None:
    _seed_week(project)
    bots = project.ok("stats/summary", **WEEK, filters=[{"field": "bot", "op": "eq", "value": True}])
    assert bots["events"]["value"] == 1 and bots["visitors"]["value"] == 1
    everyone = project.ok("stats/summary", **WEEK, filters=[{"field": "bot", "op": "set"}])
    assert everyone["events"]["value"] == 8 and everyone["visitors"]["value"] == 4


def test_filters_on_properties_and_dimensions(project: Project) -> None:
    _seed_week(project)

    def events(*conditions: dict) -> int:
        return project.ok("stats/summary", **WEEK, filters=list(conditions))["events"]["value"]

    assert events({"field": "prop:plan", "op": "eq", "value": "pro"}) == 1
    assert events({"field": "prop:plan", "op": "set"}) == 1
    assert events({"field": "prop:plan", "op": "notset"}) == 6
    assert events({"field": "prop:plan", "op": "neq", "value": "pro"}) == 6
    assert events({"field": "page", "op": "contains", "value": "BLOG"}) == 2
    assert events({"field": "page", "op": "eq", "value": ["/", "/pricing"]}) == 4
    assert events({"field": "page", "op": "neq", "value": ["/", "/pricing"]}) == 3
    assert events({"field": "event", "op": "eq", "value": "Signup"}, {"field": "browser", "op": "eq",
                                                                        "value": "Firefox"}) == 1
    assert events({"field": "event", "op": "eq", "value": "Signup"}, {"field": "browser", "op": "eq",
                                                                        "value": "Chrome"}) == 0
    pro = project.ok("stats/summary", **WEEK, filters=[{"field": "prop:plan", "op": "eq", "value": "pro"}])
    assert pro["visitors"] == {"value": 1, "previous": 0}


def test_nested_json_keys_and_non_string_values(project: Project) -> None:
    ev = project.events
    ev.insert([
        ev.row("2026-01-05 10:00", "Purchase", properties={"amount": 30, "vip": True},
               context={"app": {"version": "1.2"}}),
        ev.row("2026-01-05 11:00", "Purchase", visitor="v2", properties={"amount": 12.5, "vip": False},
               context={"app": {"version": "1.3"}}),
    ])

    def events(condition: dict) -> int:
        return project.ok("stats/summary", **WEEK, filters=[condition])["events"]["value"]

    assert events({"field": "prop:amount", "op": "eq", "value": 30}) == 1
    assert events({"field": "prop:amount", "op": "eq", "value": 12.5}) == 1
    assert events({"field": "prop:vip", "op": "eq", "value": True}) == 1
    assert events({"field": "context:app.version", "op": "eq", "value": "1.3"}) == 1
    assert events({"field": "context:app.version", "op": "contains", "value": "1."}) == 2


def _seed_visits(project: Project) -> None:
    """Six sessions on one day, one of each kind the definitions tell apart."""
    ev = project.events
    ev.insert([
        ev.row("2026-01-05 09:00", path="/", visitor="one-view"),  # a bounce
        ev.row("2026-01-05 09:00", path="/", visitor="engaged"),  # one view and a custom event: not a bounce
        ev.row("2026-01-05 09:02", "Signed Up", visitor="engaged"),
        ev.row("2026-01-05 09:00", path="/", visitor="reader"),  # two views: not a bounce
        ev.row("2026-01-05 09:03", path="/pricing", visitor="reader"),
        ev.row("2026-01-05 09:00", "Invoice Paid", visitor="server"),  # no page view: in neither ratio
        ev.row("2026-01-05 09:00", "SCREEN_VIEW", path="/home", visitor="app"),  # one screen view: a bounce
        ev.row("2026-01-05 09:00", "Opened Menu", visitor="late-view"),  # a custom event, then a view
        ev.row("2026-01-05 09:01", path="/pricing", visitor="late-view"),
    ])


def test_bounce_rate_and_views_per_visit_count_sessions_with_page_views(project: Project) -> None:
    _seed_visits(project)
    body = project.ok("stats/summary", from_="2026-01-05", to="2026-01-05")
    assert body["sessions"]["value"] == 6
    # bounces: one-view and app, of the 5 sessions with a page view (server has none)
    assert body["bounceRate"]["value"] == 0.4
    # page views of those 5 sessions: 1 + 1 + 2 + 1 + 1
    assert body["pageviews"]["value"] == 6 and body["viewsPerSession"]["value"] == 1.2


def test_a_server_side_event_alone_is_no_bounce_and_no_visit(project: Project) -> None:
    project.events.insert([project.events.row("2026-01-05 09:00", "Invoice Paid", visitor="server")])
    body = project.ok("stats/summary", from_="2026-01-05", to="2026-01-05")
    assert body["events"]["value"] == 1 and body["sessions"]["value"] == 1
    assert body["bounceRate"]["value"] is None and body["viewsPerSession"]["value"] is None


def test_filters_pick_whole_sessions_and_keep_the_definitions(project: Project) -> None:
    """A filter picks the sessions that contain a matching event; their figures are those of the
    whole session, so a page filter does not make every visit a one-page visit (or none a bounce)."""
    _seed_visits(project)

    def summary(*conditions: dict) -> dict:
        return project.ok("stats/summary", from_="2026-01-05", to="2026-01-05", filters=list(conditions))

    pricing = summary({"field": "page", "op": "eq", "value": "/pricing"})
    # reader (/, /pricing) and late-view (Opened Menu, /pricing): neither is a bounce
    assert pricing["sessions"]["value"] == 2 and pricing["pageviews"]["value"] == 2
    assert pricing["bounceRate"]["value"] == 0.0
    assert pricing["viewsPerSession"]["value"] == 1.5  # (2 + 1) / 2: every page view of those sessions
    home = summary({"field": "page", "op": "eq", "value": "/"})
    # one-view (a bounce), engaged, reader
    assert home["sessions"]["value"] == 3 and home["bounceRate"]["value"] == 0.3333
    assert home["viewsPerSession"]["value"] == round(4 / 3, 2)
    server = summary({"field": "event", "op": "eq", "value": "Invoice Paid"})
    assert server["sessions"]["value"] == 1 and server["events"]["value"] == 1
    assert server["bounceRate"]["value"] is None and server["viewsPerSession"]["value"] is None
    # the same figures as the unfiltered ones when the filter matches everything
    everything = summary({"field": "type", "op": "neq", "value": "identify"})
    plain = project.ok("stats/summary", from_="2026-01-05", to="2026-01-05")
    for metric in ("sessions", "bounceRate", "viewsPerSession", "avgSessionDuration", "events", "pageviews"):
        assert everything[metric] == plain[metric], metric


def test_a_previous_period_without_data_has_zero_counts_and_no_ratios(project: Project) -> None:
    """The comparison rule the dashboard reads: when the previous period has no session, its
    ratios are null (no comparison: "new") and its counts 0, never a made-up figure."""
    _seed_visits(project)
    body = project.ok("stats/summary", from_="2026-01-05", to="2026-01-05")
    assert body["previousFrom"] == "2026-01-04T00:00:00+00:00"
    for metric in ("events", "pageviews", "visitors", "sessions"):
        assert body[metric]["previous"] == 0 and body[metric]["value"] > 0
    for ratio in ("bounceRate", "avgSessionDuration", "viewsPerSession"):
        assert body[ratio]["previous"] is None and body[ratio]["value"] is not None
