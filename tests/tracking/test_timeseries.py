"""stats/timeseries: zero-filled buckets in the caller's time zone, DST days included."""

from __future__ import annotations

from .conftest import Project, assert_error


def _points(body: dict) -> list[tuple[str, int]]:
    return [(p["bucket"], p["value"]) for p in body["points"]]


def test_days_are_zero_filled_and_follow_the_time_zone(project: Project) -> None:
    ev = project.events
    ev.insert([
        ev.row("2026-01-05 08:00", visitor="a"),
        ev.row("2026-01-05 09:00", visitor="a"),
        ev.row("2026-01-05 23:30", visitor="b"),  # already Jan 6 in Berlin
        ev.row("2026-01-07 12:00", visitor="c"),
    ])
    utc = project.ok("stats/timeseries", metric="events", interval="day", from_="2026-01-05", to="2026-01-08")
    assert _points(utc) == [("2026-01-05T00:00:00+00:00", 3), ("2026-01-06T00:00:00+00:00", 0),
                            ("2026-01-07T00:00:00+00:00", 1), ("2026-01-08T00:00:00+00:00", 0)]
    berlin = project.ok("stats/timeseries", metric="events", interval="day", from_="2026-01-05", to="2026-01-08",
                        tz="Europe/Berlin")
    assert _points(berlin) == [("2026-01-05T00:00:00+01:00", 2), ("2026-01-06T00:00:00+01:00", 1),
                               ("2026-01-07T00:00:00+01:00", 1), ("2026-01-08T00:00:00+01:00", 0)]
    visitors = project.ok("stats/timeseries", metric="visitors", interval="day", from_="2026-01-05", to="2026-01-06")
    assert [p["value"] for p in visitors["points"]] == [2, 0]


def test_spring_forward_day_has_23_hourly_buckets(project: Project) -> None:
    ev = project.events
    ev.insert([
        ev.row("2026-03-29 00:59"),  # 01:59 CET
        ev.row("2026-03-29 01:30"),  # 03:30 CEST: 02:00 never happened
        ev.row("2026-03-29 21:59"),  # 23:59 CEST
    ])
    body = project.ok("stats/timeseries", interval="hour", from_="2026-03-29", to="2026-03-29", tz="Europe/Berlin")
    points = _points(body)
    assert len(points) == 23
    assert points[0] == ("2026-03-29T00:00:00+01:00", 0)
    assert points[1] == ("2026-03-29T01:00:00+01:00", 1)
    assert points[2] == ("2026-03-29T03:00:00+02:00", 1)
    assert points[-1] == ("2026-03-29T23:00:00+02:00", 1)
    assert sum(v for _, v in points) == 3


def test_fall_back_day_has_25_hourly_buckets_with_02h_twice(project: Project) -> None:
    ev = project.events
    ev.insert([
        ev.row("2026-10-25 00:30"),  # 02:30 CEST
        ev.row("2026-10-25 00:45"),  # 02:45 CEST
        ev.row("2026-10-25 01:30"),  # 02:30 CET, the second time round
    ])
    body = project.ok("stats/timeseries", interval="hour", from_="2026-10-25", to="2026-10-25", tz="Europe/Berlin")
    points = _points(body)
    assert len(points) == 25
    assert points[2] == ("2026-10-25T02:00:00+02:00", 2)
    assert points[3] == ("2026-10-25T02:00:00+01:00", 1)
    assert points[-1] == ("2026-10-25T23:00:00+01:00", 0)


def test_day_buckets_across_a_dst_change_are_calendar_days(project: Project) -> None:
    ev = project.events
    ev.insert([ev.row("2026-03-28 23:30"), ev.row("2026-03-29 21:30"), ev.row("2026-03-29 22:30")])
    body = project.ok("stats/timeseries", interval="day", from_="2026-03-28", to="2026-03-30", tz="Europe/Berlin")
    assert _points(body) == [("2026-03-28T00:00:00+01:00", 0), ("2026-03-29T00:00:00+01:00", 2),
                             ("2026-03-30T00:00:00+02:00", 1)]


def test_half_hour_offsets_minutes_weeks_and_months(project: Project) -> None:
    ev = project.events
    ev.insert([
        ev.row("2026-01-05 10:45"),  # 16:15 in Kolkata
        ev.row("2026-01-05 10:02:30"),
        ev.row("2026-02-10 12:00"),
        ev.row("2026-03-31 12:00"),
    ])
    kolkata = project.ok("stats/timeseries", interval="hour", from_="2026-01-05T15:00:00", to="2026-01-05T17:00:00",
                         tz="Asia/Kolkata")
    assert _points(kolkata) == [("2026-01-05T15:00:00+05:30", 1), ("2026-01-05T16:00:00+05:30", 1)]
    minutes = project.ok("stats/timeseries", interval="minute", from_="2026-01-05T10:00:00Z",
                         to="2026-01-05T10:05:00Z")
    assert [v for _, v in _points(minutes)] == [0, 0, 1, 0, 0]
    weeks = project.ok("stats/timeseries", interval="week", from_="2026-01-05", to="2026-01-18")
    assert _points(weeks) == [("2026-01-05T00:00:00+00:00", 2), ("2026-01-12T00:00:00+00:00", 0)]
    months = project.ok("stats/timeseries", interval="month", from_="2026-01-01", to="2026-04-30")
    assert [v for _, v in _points(months)] == [2, 1, 1, 0]


def test_sessions_and_pageviews_per_bucket(project: Project) -> None:
    ev = project.events
    ev.insert([
        ev.row("2026-01-05 23:50", visitor="a"),
        ev.row("2026-01-06 00:10", "Click", visitor="a"),  # same session, started on the 5th
        ev.row("2026-01-06 09:00", visitor="a"),  # new session
        ev.row("2026-01-06 09:00", visitor="b"),
    ])
    sessions = project.ok("stats/timeseries", metric="sessions", from_="2026-01-05", to="2026-01-06")
    assert [p["value"] for p in sessions["points"]] == [1, 2]
    views = project.ok("stats/timeseries", metric="pageviews", from_="2026-01-05", to="2026-01-06")
    assert [p["value"] for p in views["points"]] == [1, 2]


def test_an_empty_range_is_all_zeros_and_too_many_buckets_is_refused(project: Project) -> None:
    empty = project.ok("stats/timeseries", interval="day", from_="2025-06-01", to="2025-06-03")
    assert [p["value"] for p in empty["points"]] == [0, 0, 0]
    too_many = project.get("stats/timeseries", interval="minute", from_="2026-01-01", to="2026-01-30")
    assert_error(too_many, 400, "interval")
    assert_error(project.get("stats/timeseries", interval="fortnight"), 400, "interval")
    assert_error(project.get("stats/timeseries", metric="revenue"), 400, "metric")
