"""Rollups answer like raw events: a seeded random data set (sessions with and without an SDK
sessionId, sessions crossing midnight and a DST change, bots, identify calls) is rolled up by
the job, then a second tracking instance that answers from rollups at any size is compared with
the main one (raw at this size) on summaries, timeseries and breakdowns in several time zones.
Everything is equal, except unique visitors over several hours: a HyperLogLog estimate whose
error at these sizes stays within one or two visitors. Questions rollups cannot answer (filters,
time zones not a whole number of hours from UTC, ranges off the hour) fall back to raw events."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import re
import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from conftest import Database
from prometheus_client import REGISTRY
from schema_check import schema_hooks

from services.tracking.rollups import hourly, job
from services.tracking.rollups.hll import estimate
from services.tracking.rollups.job import (
    FRESH_PARTITION_ROWS,
    analyze_fresh_partitions,
    pause_after,
    rollup_loop,
    run_once,
)
from services.tracking.settings import TrackingSettings

from .conftest import Events, Project, ask, at, insert_statement, register, roll_up

PAGES = ["/", "/pricing", "/blog", "/blog/rollups", "/docs", "/signup"]
REFERRERS = [None, "example.com", "www.google.com", "news.ycombinator.com", "t.co"]  # example.com: the site itself
BROWSERS = ["Firefox", "Chrome", "Safari"]
START = dt.datetime(2026, 3, 26, 18, 0, tzinfo=dt.UTC)  # around the spring-forward night in Europe


def _seed(project: Project, seed: int = 4) -> None:
    rnd = random.Random(seed)
    ev = project.events
    rows = []
    for n in range(60):
        visitor = f"visitor-{rnd.randrange(25)}"
        user = f"user-{visitor}" if rnd.random() < 0.2 else None
        sdk_session = f"sdk-{n}" if rnd.random() < 0.5 else None
        moment = START + dt.timedelta(minutes=rnd.randrange(0, 4 * 24 * 60))
        common = {"visitor": visitor, "user": user, "session_id": sdk_session,
                  "browser": rnd.choice(BROWSERS), "os": rnd.choice(["Linux", "macOS", "iOS"]),
                  "device_type": rnd.choice(["desktop", "mobile"])}
        referrer = rnd.choice(REFERRERS)
        utm = rnd.choice([None, "newsletter"])
        for _ in range(rnd.randrange(1, 7)):
            kind = rnd.random()
            if kind < 0.65:
                rows.append(ev.row(moment, path=rnd.choice(PAGES), referrer_host=referrer, utm_source=utm,
                                   utm_medium="email" if utm else None, **common))
            elif kind < 0.9:
                rows.append(ev.row(moment, rnd.choice(["Signup", "Purchase"]), properties={"n": n}, **common))
            else:
                rows.append(ev.row(moment, "IDENTIFY", **common))
            # gaps of up to 50 minutes: visitors without a sessionId get new sessions
            moment += dt.timedelta(minutes=rnd.choice([0, 1, 5, 20, 29, 31, 50]), seconds=rnd.randrange(60))
    rows.append(ev.row(START + dt.timedelta(hours=30), path="/", visitor="crawler", is_bot=True, device_type="bot"))
    # one session across local midnight of the DST day, one SDK session across UTC midnight
    rows += [ev.row("2026-03-28 22:50", path="/", visitor="night"), ev.row("2026-03-28 23:10", path="/docs",
                                                                          visitor="night")]
    rows += [ev.row("2026-03-28 23:40", path="/", visitor="owl", session_id="long"),
             ev.row("2026-03-29 00:55", path="/blog", visitor="owl", session_id="long")]
    ev.insert(rows)


def _close(rollup: int, raw: int) -> bool:
    return abs(rollup - raw) <= max(1, round(raw * 0.05))


def _rollup_answers(base: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return sum(float(v) for v in re.findall(r'tme_analytics_rollup_answers_total\{[^}]*source="rollup"[^}]*\} (\S+)',
                                             text))


RANGES = [
    {"from_": "2026-03-26", "to": "2026-03-31"},
    {"from_": "2026-03-27", "to": "2026-03-30", "tz": "Europe/Berlin"},  # the spring-forward day inside
    {"from_": "2026-03-29", "to": "2026-03-29", "tz": "Europe/Berlin"},  # a 23-hour day
    {"from_": "2026-03-28T13:00:00Z", "to": "2026-03-29T07:00:00Z"},  # hours cutting through sessions
    {"from_": "2026-03-27", "to": "2026-03-29", "tz": "America/New_York"},
]


@pytest.fixture(scope="module")
def seeded(gateway_url: str, db: Database, database_url: str) -> Iterator[Project]:
    with httpx.Client(base_url=gateway_url, timeout=30, event_hooks=schema_hooks()) as client:
        project_id, token = register(client)
        project = Project(project_id, token, client, Events(db, project_id))
        _seed(project)
        roll_up(database_url)
        yield project


@pytest.mark.parametrize("rng", RANGES)
def test_summary_from_rollups_equals_raw(seeded: Project, rollup_url: str, tracking_url: str, rng: dict) -> None:
    before = _rollup_answers(rollup_url)
    fast, raw = ask(rollup_url, seeded, "stats/summary", **rng), ask(tracking_url, seeded, "stats/summary", **rng)
    assert _rollup_answers(rollup_url) == before + 2  # this period and the previous one
    assert raw["events"]["value"] > 0
    for metric in ("events", "pageviews", "sessions", "bounceRate", "avgSessionDuration", "viewsPerSession"):
        assert fast[metric] == raw[metric], metric
    for period in ("value", "previous"):
        assert _close(fast["visitors"][period], raw["visitors"][period])


@pytest.mark.parametrize("rng", RANGES)
@pytest.mark.parametrize("interval", ["hour", "day", "week"])
def test_timeseries_from_rollups_equals_raw(seeded: Project, rollup_url: str, tracking_url: str, rng: dict,
                                            interval: str) -> None:
    for metric in ("events", "pageviews", "sessions", "visitors"):
        params = {**rng, "metric": metric, "interval": interval}
        fast = ask(rollup_url, seeded, "stats/timeseries", **params)
        raw = ask(tracking_url, seeded, "stats/timeseries", **params)
        assert [p["bucket"] for p in fast["points"]] == [p["bucket"] for p in raw["points"]]
        for a, b in zip(fast["points"], raw["points"], strict=True):
            if metric == "visitors" and interval != "hour":
                assert _close(a["value"], b["value"]), (metric, a, b)
            else:
                assert a["value"] == b["value"], (metric, a, b)


def _walk(base: str, project: Project, by: str, rng: dict, limit: int) -> list[dict]:
    rows: list[dict] = []
    cursor = None
    while True:
        page = {"cursor": cursor} if cursor else {}
        body = ask(base, project, "stats/breakdown", by=by, limit=limit, **rng, **page)
        rows += body["rows"]
        cursor = body["nextCursor"]
        if cursor is None:
            return rows


@pytest.mark.parametrize("by", ["event", "page", "referrer", "source", "utmSource", "utmMedium", "browser", "os",
                                "device"])
def test_breakdowns_from_rollups_equal_raw(seeded: Project, rollup_url: str, tracking_url: str, by: str) -> None:
    for rng in RANGES[:4]:
        fast = _walk(rollup_url, seeded, by, rng, limit=2)
        raw = _walk(tracking_url, seeded, by, rng, limit=100)
        assert len({r["value"] for r in fast}) == len(fast), "a page repeated a row"
        assert {r["value"]: r["events"] for r in fast} == {r["value"]: r["events"] for r in raw}
        raw_visitors = {r["value"]: r["visitors"] for r in raw}
        for row in fast:
            assert _close(row["visitors"], raw_visitors[row["value"]]), (by, row)
        assert [r["visitors"] for r in fast] == sorted((r["visitors"] for r in fast), reverse=True)


def test_questions_rollups_cannot_answer_fall_back_to_raw(seeded: Project, rollup_url: str,
                                                          tracking_url: str) -> None:
    before = _rollup_answers(rollup_url)
    questions = [
        ("stats/summary", {"from_": "2026-03-27", "to": "2026-03-29", "tz": "Asia/Kolkata"}),
        ("stats/timeseries", {"from_": "2026-03-27", "to": "2026-03-29", "tz": "Asia/Kolkata", "interval": "hour"}),
        ("stats/timeseries", {"from_": "2026-03-28", "to": "2026-03-28", "interval": "minute"}),
        ("stats/summary", {"from_": "2026-03-28T13:30:00Z", "to": "2026-03-29T07:00:00Z"}),
        ("stats/summary", {"from_": "2026-03-26", "to": "2026-03-31",
                           "filters": '[{"field": "prop:n", "op": "set"}]'}),
        ("stats/breakdown", {"from_": "2026-03-26", "to": "2026-03-31", "by": "browser",
                             "filters": '[{"field": "browser", "op": "eq", "value": "Chrome"}]'}),
        ("stats/breakdown", {"from_": "2026-03-26", "to": "2026-03-31", "by": "entryPage"}),
    ]
    for section, params in questions:
        assert ask(rollup_url, seeded, section, **params) == ask(tracking_url, seeded, section, **params)
    assert _rollup_answers(rollup_url) == before


def test_late_rows_are_rolled_up_and_runs_are_idempotent(project: Project, rollup_url: str, tracking_url: str,
                                                         db: Database, database_url: str) -> None:
    ev = project.events
    ev.insert([ev.row("2026-02-02 10:00", visitor="a"), ev.row("2026-02-02 10:10", visitor="a", path="/x")])
    roll_up(database_url)
    # a row committed late: stored with a created_at from before the last run (a long transaction)
    db.execute("INSERT INTO events (project_id, event_time, message_id, type, event_name, anonymous_id, path, "
               "received_at, created_at) VALUES ($1, '2026-02-02 10:20+00', 'late-1', 'page', 'PAGE_VIEW', 'a', '/y', "
               "now(), now() - interval '10 seconds')", project.id)
    roll_up(database_url)
    roll_up(database_url)
    week = {"from_": "2026-02-02", "to": "2026-02-02"}
    fast, raw = ask(rollup_url, project, "stats/summary", **week), ask(tracking_url, project, "stats/summary", **week)
    assert fast == raw
    assert fast["pageviews"]["value"] == 3 and fast["sessions"]["value"] == 1
    assert fast["avgSessionDuration"]["value"] == 1200.0
    assert db.fetchval("SELECT count(*) FROM rollup_hours WHERE project_id = $1", project.id) == 1
    assert db.fetchval("SELECT count(*) FROM rollup_sessions WHERE project_id = $1", project.id) == 1

    # a later run touching two days with an untouched day between them leaves that day alone
    ev.insert([ev.row("2026-02-03 09:00", visitor="b", path="/x"), ev.row("2026-02-05 09:00", visitor="c")])
    roll_up(database_url)
    ev.insert([ev.row("2026-02-02 23:00", visitor="d", path="/x"), ev.row("2026-02-05 23:00", visitor="e")])
    roll_up(database_url)
    span = {"from_": "2026-02-01", "to": "2026-02-06", "by": "page"}
    fast, raw = ask(rollup_url, project, "stats/breakdown", **span), ask(tracking_url, project, "stats/breakdown",
                                                                           **span)
    assert fast["rows"] == raw["rows"] == [{"value": "/", "visitors": 3, "events": 3},
                                           {"value": "/x", "visitors": 3, "events": 3},
                                           {"value": "/y", "visitors": 1, "events": 1}]


def test_rows_of_a_transaction_open_across_a_run_are_added_once(project: Project, rollup_url: str,
                                                                  tracking_url: str, db: Database,
                                                                  database_url: str) -> None:
    """A writer's transaction that began before a run and commits after it stores rows with a
    created_at (its start) older than that run: the next run adds them, once, even with no
    margin at all, and a returning visitor is not counted twice in its hour."""
    ev = project.events
    ev.insert([ev.row("2026-02-16 10:00", visitor="a")])
    roll_up(database_url)
    no_margin = TrackingSettings(database_url=database_url, rollup_margin_seconds=0)

    async def scenario() -> None:
        writer = await asyncpg.connect(database_url)
        try:
            async with writer.transaction():
                await writer.execute(*insert_statement([ev.row("2026-02-16 10:05", visitor="a", path="/x"),
                                                        ev.row("2026-02-16 10:30", visitor="b", path="/x")]))
                await run_once(no_margin, wait=True)  # does not see them yet
            await run_once(no_margin, wait=True)
            await run_once(no_margin, wait=True)
        finally:
            await writer.close()

    asyncio.run(scenario())
    hour = {"from_": "2026-02-16T10:00:00Z", "to": "2026-02-16T11:00:00Z"}
    fast, raw = ask(rollup_url, project, "stats/summary", **hour), ask(tracking_url, project, "stats/summary", **hour)
    assert fast == raw
    assert fast["pageviews"]["value"] == 3
    row = db.fetchrow("SELECT events, visitors FROM rollup_hours WHERE project_id = $1", project.id)
    assert (row["events"], row["visitors"]) == (3, 2)
    by_page = {**hour, "by": "page"}
    assert ask(rollup_url, project, "stats/breakdown", **by_page)["rows"] == [
        {"value": "/x", "visitors": 2, "events": 2}, {"value": "/", "visitors": 1, "events": 1}]


def test_an_sdk_session_takes_in_the_events_of_later_runs(project: Project, rollup_url: str, tracking_url: str,
                                                           db: Database, database_url: str) -> None:
    """Later runs merge new events into their SDK session: an event from before its start (sent
    late) moves the session to an earlier hour and it is no longer a bounce; a later event
    extends it; one in between changes only its counts."""
    ev = project.events
    ev.insert([ev.row("2026-02-18 10:30", visitor="a", session_id="sdk-1")])
    roll_up(database_url)
    ev.insert([ev.row("2026-02-18 09:50", visitor="a", session_id="sdk-1", path="/x")])
    roll_up(database_url)
    ev.insert([ev.row("2026-02-18 10:40", "Signup", visitor="a", session_id="sdk-1")])
    roll_up(database_url)
    ev.insert([ev.row("2026-02-18 10:00", visitor="a", session_id="sdk-1", path="/y")])
    roll_up(database_url)
    for rng in ({"from_": "2026-02-18", "to": "2026-02-18"},
                {"from_": "2026-02-18T09:00:00Z", "to": "2026-02-18T10:00:00Z"},
                {"from_": "2026-02-18T10:00:00Z", "to": "2026-02-18T11:00:00Z"}):
        assert ask(rollup_url, project, "stats/summary", **rng) == ask(tracking_url, project, "stats/summary", **rng)
    session = db.fetchrow("SELECT started_at, ended_at, events, pageviews FROM rollup_sessions WHERE project_id = $1",
                          project.id)
    assert tuple(session.values()) == (at("2026-02-18 09:50"), at("2026-02-18 10:40"), 4, 3)
    hours = db.fetch("SELECT hour, sessions, bounces, duration FROM rollup_session_hours WHERE project_id = $1",
                     project.id)
    assert [tuple(h.values()) for h in hours] == [(at("2026-02-18 09:00"), 1, 0, 3000)]


def test_sessions_longer_than_four_hours_that_cross_the_range_count_their_part_inside(
        project: Project, rollup_url: str, tracking_url: str, database_url: str) -> None:
    """Sessions containing a range boundary are found by their start when short and by their
    span when long (read.LONG_SESSION): a 6-hour SDK session around both ends of a range, a
    visitor's 5-hour chain of page views 20 minutes apart, and a short session at the start."""
    ev = project.events
    ev.insert([ev.row(f"2026-02-19 {h:02d}:10", visitor="a", session_id="kiosk") for h in range(8, 15)])
    ev.insert([ev.row(dt.datetime(2026, 2, 19, 7, 40, tzinfo=dt.UTC) + dt.timedelta(minutes=20 * i), visitor="b")
               for i in range(16)])
    ev.insert([ev.row("2026-02-19 09:50", visitor="c"), ev.row("2026-02-19 10:05", visitor="c", path="/x")])
    roll_up(database_url)
    for rng in ({"from_": "2026-02-19T10:00:00Z", "to": "2026-02-19T12:00:00Z"},
                {"from_": "2026-02-19T09:00:00Z", "to": "2026-02-19T13:00:00Z"},
                {"from_": "2026-02-19T12:00:00Z", "to": "2026-02-19T16:00:00Z"}):
        fast, raw = ask(rollup_url, project, "stats/summary", **rng), ask(tracking_url, project, "stats/summary", **rng)
        assert fast == raw, rng
    inside = ask(rollup_url, project, "stats/summary", from_="2026-02-19T10:00:00Z", to="2026-02-19T12:00:00Z")
    assert inside["sessions"]["value"] == 3


def test_a_run_that_fails_midway_adds_nothing_and_the_next_adds_everything_once(
        project: Project, rollup_url: str, tracking_url: str, db: Database, database_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    ev = project.events
    ev.insert([ev.row("2026-02-17 09:00", visitor="a", referrer_host="t.co")])
    roll_up(database_url)
    ev.insert([ev.row("2026-02-17 09:10", visitor="a"), ev.row("2026-02-17 09:20", visitor="b")])
    real_add = hourly.add_recent

    async def add_then_fail(conn: asyncpg.Connection, fresh_pairs: str) -> int:
        await real_add(conn, fresh_pairs)
        raise RuntimeError("the database went away")

    monkeypatch.setattr(hourly, "add_recent", add_then_fail)
    with pytest.raises(RuntimeError):
        roll_up(database_url)
    assert db.fetchval("SELECT events FROM rollup_hours WHERE project_id = $1", project.id) == 1
    monkeypatch.undo()
    roll_up(database_url)
    roll_up(database_url)
    hour = {"from_": "2026-02-17T09:00:00Z", "to": "2026-02-17T10:00:00Z"}
    for question in ("stats/summary", "stats/breakdown"):
        params = {**hour, "by": "referrer"} if question == "stats/breakdown" else hour
        assert ask(rollup_url, project, question, **params) == ask(tracking_url, project, question, **params)
    assert db.fetchval("SELECT events FROM rollup_hours WHERE project_id = $1", project.id) == 3
    # the absent referrer is one row per hour and day, however many runs added to it
    assert db.fetchval("SELECT count(*) FROM rollup_dim_days WHERE project_id = $1 AND dim = 'referrer' "
                       "AND value IS NULL", project.id) == 1


def test_a_run_touching_very_many_sessions_recomputes_all_of_the_projects_sessions(
        project: Project, rollup_url: str, tracking_url: str, database_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    ev = project.events
    ev.insert([ev.row("2026-02-09 10:00", visitor="a"), ev.row("2026-02-09 10:10", visitor="a", path="/x"),
               ev.row("2026-02-09 11:00", visitor="b", session_id="s-1"),
               ev.row("2026-02-09 12:30", visitor="b", session_id="s-1", path="/x")])
    monkeypatch.setattr(job, "FULL_SESSIONS_ABOVE", 1)  # (a real run: more than 200k session groups)
    stats = roll_up(database_url)
    assert stats is not None and project.id in stats.full_projects
    day = {"from_": "2026-02-09", "to": "2026-02-09"}
    fast, raw = ask(rollup_url, project, "stats/summary", **day), ask(tracking_url, project, "stats/summary", **day)
    assert fast == raw
    assert fast["sessions"]["value"] == 2 and fast["avgSessionDuration"]["value"] == (600 + 5400) / 2


def test_a_new_months_partition_is_analyzed_before_the_run_plans_over_it(project: Project, db: Database,
                                                                          database_url: str) -> None:
    """A new month's partition is empty to the planner until analyzed (or was analyzed while
    empty); autovacuum is off on this one, so only the job can analyze it."""
    today = dt.datetime.now(dt.UTC)
    month = (today.replace(day=1) + dt.timedelta(days=40)).replace(day=1, hour=0, minute=0, second=0,
                                                                    microsecond=0)
    partition = f"events_{month:%Y_%m}"
    db.execute(f"ALTER TABLE {partition} SET (autovacuum_enabled = false)")

    def analyzed_rows() -> float:
        return float(db.fetchval("SELECT reltuples FROM pg_class WHERE relname = $1", partition))

    try:
        db.execute(f"ANALYZE {partition}")  # as an `ANALYZE events` would: statistics of an empty table
        assert analyzed_rows() <= 0
        db.execute("INSERT INTO events (project_id, event_time, message_id, type, event_name, anonymous_id, "
                   "received_at) SELECT $1, $2::timestamptz + g * interval '1 second', 'fresh-' || g, 'track', "
                   "'Tick', 'v' || (g % 50), now() FROM generate_series(1, $3::int) g", project.id, month,
                   FRESH_PARTITION_ROWS)

        async def analyze_if_fresh() -> list[str]:
            conn = await asyncpg.connect(database_url)
            try:
                return await analyze_fresh_partitions(conn)
            finally:
                await conn.close()

        # the inserting backend's statistics reach pg_stat soon after it ends; the main tracking
        # service's own job may analyze the partition first, which is as good
        deadline = time.monotonic() + 20
        while analyzed_rows() < FRESH_PARTITION_ROWS:
            assert time.monotonic() < deadline, f"{partition} was not analyzed"
            asyncio.run(analyze_if_fresh())
            time.sleep(0.2)
        assert analyzed_rows() == FRESH_PARTITION_ROWS
        assert partition not in asyncio.run(analyze_if_fresh())  # until it doubles, autovacuum's business
    finally:
        db.execute(f"ALTER TABLE {partition} RESET (autovacuum_enabled)")


def test_visitor_sketches_estimate_within_the_documented_error(db: Database) -> None:
    def sketch(low: int, high: int) -> Any:
        return db.fetchval("SELECT tme_hll_sketch(array_agg(tme_hll_pos('visitor-' || g))) "
                           "FROM generate_series($1::int, $2::int) g", low, high)

    for n in (1, 7, 100, 3_000, 60_000):
        assert abs(estimate(sketch(1, n).bytes) - n) <= max(0.5, 3 * 0.033 * n), n
    merged = db.fetchval("SELECT bit_or(s) FROM (SELECT tme_hll_sketch(array_agg(tme_hll_pos('visitor-' || g))) AS s "
                         "FROM generate_series(1, 40000) g GROUP BY g % 7) x")
    assert abs(estimate(merged.bytes) - 40_000) <= 3 * 0.033 * 40_000
    empty = db.fetchval("SELECT tme_hll_sketch(ARRAY[]::int[])")
    assert estimate(empty.bytes) == 0
    # the documented layout: bit `register * 16 + rank - 1` from the left, repeats and NULLs ignored
    bits = db.fetchval("SELECT tme_hll_sketch(ARRAY[5, 0, 5, NULL, 16383])::text")
    assert len(bits) == 16384 and [i for i, b in enumerate(bits) if b == "1"] == [0, 5, 16383]


def test_under_heavy_ingest_the_job_pauses_longer_than_its_runs() -> None:
    """When runs get long (a burst of rows since the last one) the job waits three times as
    long as the last one took, so it never takes more than a quarter of a database core."""
    assert pause_after(0.2, 5.0) == 5.0
    assert pause_after(4.0, 5.0) == 12.0


def test_a_woken_job_runs_at_once_instead_of_after_its_pause(database_url: str) -> None:
    """A question that registers a retention matrix wakes the job (answers.py), so the matrix is
    ready within seconds even when the job is in a long pause."""
    def runs() -> float:
        return sum(REGISTRY.get_sample_value("tme_rollup_runs_total", {"outcome": o}) or 0.0
                   for o in ("ok", "skipped", "error"))

    async def scenario() -> None:
        settings = TrackingSettings(database_url=database_url, rollup_interval_seconds=3600)
        before = runs()

        async def until(count: float) -> None:
            async with asyncio.timeout(60):
                while runs() < count:  # noqa: ASYNC110 -- polling a metric the job moves
                    await asyncio.sleep(0.05)

        async with rollup_loop(settings) as rollups:
            await until(before + 1)  # the first run, then an hour's pause
            rollups.wake()
            await until(before + 2)
        assert runs() == before + 2

    asyncio.run(scenario())


def test_bounce_rate_and_views_per_visit_from_rollups_equal_the_definition(client: httpx.Client, db: Database,
                                                                            database_url: str, rollup_url: str,
                                                                            tracking_url: str) -> None:
    """A hand-built day: a bounce, a view with a custom event, two views, a server-side event
    alone, a single screen view, and a visit that crosses the range's end (one view inside: a
    bounce inside the range, not in the whole day after it)."""
    project_id, token = register(client)
    project = Project(project_id, token, client, Events(db, project_id))
    ev = project.events
    ev.insert([
        ev.row("2026-02-02 09:00", path="/", visitor="one-view"),
        ev.row("2026-02-02 09:00", path="/", visitor="engaged"),
        ev.row("2026-02-02 09:02", "Signed Up", visitor="engaged"),
        ev.row("2026-02-02 09:00", path="/", visitor="reader"),
        ev.row("2026-02-02 09:03", path="/pricing", visitor="reader"),
        ev.row("2026-02-02 09:00", "Invoice Paid", visitor="server"),
        ev.row("2026-02-02 09:00", "SCREEN_VIEW", path="/home", visitor="app"),
        ev.row("2026-02-02 11:50", path="/", visitor="crosser"),
        ev.row("2026-02-02 12:10", path="/docs", visitor="crosser"),
    ])
    roll_up(database_url)
    morning = {"from_": "2026-02-02T00:00:00Z", "to": "2026-02-02T12:00:00Z"}
    day = {"from_": "2026-02-02", "to": "2026-02-02"}
    for rng, bounce, views, sessions in ((morning, 0.6, 1.2, 6), (day, 0.4, 1.4, 6)):
        fast = ask(rollup_url, project, "stats/summary", **rng)
        raw = ask(tracking_url, project, "stats/summary", **rng)
        assert fast["sessions"]["value"] == raw["sessions"]["value"] == sessions
        assert fast["bounceRate"]["value"] == raw["bounceRate"]["value"] == bounce
        assert fast["viewsPerSession"]["value"] == raw["viewsPerSession"]["value"] == views
    assert _rollup_answers(rollup_url) > 0
    hours = db.fetch("SELECT sessions, bounces, viewed FROM rollup_session_hours WHERE project_id = $1 ORDER BY hour",
                     project_id)
    assert [tuple(h) for h in hours] == [(5, 2, 4), (1, 0, 1)]
