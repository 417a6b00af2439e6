"""retention: cohorts by first-seen period and a triangle of returning visitors."""

from __future__ import annotations

from .conftest import Project, assert_error

WEEKS = {"period": "week", "periods": 4, "from_": "2026-01-05", "to": "2026-01-25"}


def _seed(project: Project) -> None:
    ev = project.events
    ev.insert([
        ev.row("2026-01-05 10:00", visitor="a"), ev.row("2026-01-13 10:00", "Purchase", visitor="a"),
        ev.row("2026-01-20 10:00", visitor="a"),
        ev.row("2026-01-06 10:00", visitor="b"), ev.row("2026-01-21 10:00", "Purchase", visitor="b"),
        ev.row("2026-01-07 10:00", visitor="c"),
        ev.row("2026-01-13 10:00", visitor="d"), ev.row("2026-01-22 10:00", visitor="d"),
        ev.row("2026-01-14 10:00", visitor="e"),
        ev.row("2025-12-30 10:00", visitor="f"), ev.row("2026-01-06 10:00", visitor="f"),  # an older visitor
        ev.row("2026-01-20 10:00", visitor="g"),
        ev.row("2026-01-12 10:00", visitor="h"), ev.row("2026-01-26 10:00", visitor="h"),  # after the range
        ev.row("2026-01-07 10:00", visitor="bot", is_bot=True),
    ])


def test_weekly_triangle(project: Project) -> None:
    _seed(project)
    body = project.ok("retention", **WEEKS)
    assert body["cohorts"] == [
        {"cohort": "2026-01-05", "size": 3, "returning": [3, 1, 2]},
        {"cohort": "2026-01-12", "size": 3, "returning": [3, 1]},
        {"cohort": "2026-01-19", "size": 1, "returning": [1]},
    ]


def test_returning_on_a_chosen_event_and_fewer_periods(project: Project) -> None:
    _seed(project)
    purchases = project.ok("retention", **WEEKS, event="Purchase")
    assert [c["returning"] for c in purchases["cohorts"]] == [[3, 1, 1], [3, 0], [1]]
    two = project.ok("retention", **{**WEEKS, "periods": 2})
    assert [c["returning"] for c in two["cohorts"]] == [[3, 1], [3, 1], [1]]


def test_cohorts_start_with_the_chosen_event(project: Project) -> None:
    ev = project.events
    ev.insert([
        ev.row("2026-01-05 10:00", visitor="x"),  # seen before signing up
        ev.row("2026-01-12 10:00", "Signup", visitor="x"),
        ev.row("2026-01-19 10:00", visitor="x"),
        ev.row("2026-01-06 10:00", "Signup", visitor="y"),
    ])
    body = project.ok("retention", **WEEKS, startEvent="Signup")
    assert body["cohorts"] == [
        {"cohort": "2026-01-05", "size": 1, "returning": [1, 0, 0]},
        {"cohort": "2026-01-12", "size": 1, "returning": [1, 1]},
        {"cohort": "2026-01-19", "size": 0, "returning": [0]},
    ]


def test_daily_cohorts_follow_the_time_zone(project: Project) -> None:
    ev = project.events
    ev.insert([
        ev.row("2026-01-05 23:30", visitor="late-night"),  # Jan 6 in Berlin
        ev.row("2026-01-06 12:00", visitor="late-night"),  # same Berlin day: not a return
        ev.row("2026-01-07 12:00", visitor="late-night"),
    ])
    utc = project.ok("retention", period="day", periods=3, from_="2026-01-05", to="2026-01-07")
    assert [c["returning"] for c in utc["cohorts"]] == [[1, 1, 1], [0, 0], [0]]
    berlin = project.ok("retention", period="day", periods=3, from_="2026-01-05", to="2026-01-07",
                        tz="Europe/Berlin")
    assert [c["returning"] for c in berlin["cohorts"]] == [[0, 0, 0], [1, 1], [0]]


def test_monthly_cohorts_and_bad_parameters(project: Project) -> None:
    _seed(project)
    months = project.ok("retention", period="month", periods=3, from_="2026-01-01", to="2026-01-31")
    assert months["cohorts"] == [{"cohort": "2026-01-01", "size": 7, "returning": [7]}]
    assert_error(project.get("retention", period="year"), 400, "period")
    assert_error(project.get("retention", periods=0), 400, "periods")
    assert_error(project.get("retention", periods=101), 400, "periods")
    assert_error(project.get("retention", event="x" * 201), 400, "event")
