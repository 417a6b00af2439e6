"""Retention per project on the real stack: a project's `retentionDays` set through the API, and a
retention run (services/lifecycle/retention.py) that drops a whole old partition when every
project in it has expired, deletes only the expired project's rows (in batches) from a partition
it shares with a project that keeps everything, trims the rollups and people before the cutoff,
leaves today's numbers as they were (from rollups and from raw events alike), keeps the
retention matrices equal to the raw answer, and records what it deleted in data_jobs."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from typing import Any

import asyncpg
import httpx
from conftest import Database
from tracking.conftest import Events, Project, ask, assert_error, register, roll_up

from services.lifecycle.retention import LOCK_KEY, Report, retention_loop, run_once
from services.tracking.settings import TrackingSettings

UTC = dt.UTC
DAY = dt.timedelta(days=1)
TODAY = dt.datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
# the rollup tables and their time column: nothing of a trimmed project is left before its cutoff
ROLLUP_TIMES = {"rollup_hours": "hour", "rollup_dim_hours": "hour", "rollup_dim_days": "day",
                "rollup_bot_hours": "hour", "rollup_session_hours": "hour", "rollup_sessions": "started_at",
                "rollup_visitor_hours": "hour"}


def retention(database_url: str, batch_rows: int = 5000) -> Report:
    """One retention run (after a run in progress, if any) as of TODAY, the day the tests built
    their data for, even when the suite runs past midnight."""
    report = asyncio.run(run_once(database_url, batch_rows=batch_rows, batch_pause=0, wait=True,
                                  now=TODAY + dt.timedelta(hours=12)))
    assert report is not None
    return report


def new_project(client: httpx.Client, db: Database, retention_days: int | None) -> Project:
    project_id, token = register(client)
    project = Project(project_id, token, client, Events(db, project_id))
    if retention_days is not None:
        answer = client.patch(f"/api/projects/{project_id}", json={"retentionDays": retention_days},
                              headers=project.auth)
        assert answer.status_code == 200 and answer.json()["retentionDays"] == retention_days, answer.text
    return project


def private_month(db: Database) -> tuple[str, dt.datetime]:
    """A new monthly partition of `events` more than a year old that no other test uses (none
    exists for that month and the DEFAULT partition holds none of its rows): its name and start."""
    start = (TODAY - dt.timedelta(days=400)).replace(day=1)
    for _ in range(1200):  # other tests' imports may have made partitions for every month since 2000
        end = (start + dt.timedelta(days=32)).replace(day=1)
        name = f"events_{start:%Y_%m}"
        free = db.fetchval("SELECT to_regclass($1) IS NULL AND NOT EXISTS (SELECT 1 FROM events_default "
                           "WHERE event_time >= $2 AND event_time < $3)", name, start, end)
        if free:
            db.execute(f"CREATE TABLE {name} PARTITION OF events FOR VALUES FROM ('{start.isoformat()}') "
                       f"TO ('{end.isoformat()}')")
            return name, start
        start = (start - dt.timedelta(days=1)).replace(day=1)
    raise AssertionError("no free month found")


def events_of(db: Database, project: Project, before: dt.datetime | None = None) -> int:
    return int(db.fetchval("SELECT count(*) FROM events WHERE project_id = $1 AND event_time < $2",
                           project.id, before or TODAY + 30 * DAY))


def record(db: Database, project: Project) -> asyncpg.Record:
    [row] = db.fetch("SELECT * FROM data_jobs WHERE project_id = $1 AND kind = 'retention'", project.id)
    return row


def test_a_partition_holding_only_expired_projects_is_dropped(client: httpx.Client, db: Database,
                                                              database_url: str) -> None:
    a, b = new_project(client, db, 30), new_project(client, db, 30)
    name, month = private_month(db)
    for project in (a, b):
        project.events.insert([project.events.row(month + dt.timedelta(days=d, hours=9)) for d in range(3)])
        project.events.add(TODAY - 2 * DAY + dt.timedelta(hours=10))
    assert db.fetchval("SELECT count(*) FROM " + name) == 6

    report = retention(database_url)

    assert db.fetchval("SELECT to_regclass($1) IS NULL AND to_regclass($2) IS NULL", name, name + "_retired")
    assert report.dropped[name] == 6
    for project in (a, b):
        assert events_of(db, project) == 1  # this week's event stays
        assert report.deleted[project.id]["events"] == 3  # and their rollups, once the rollup job has seen them
        job = record(db, project)
        assert (job["status"], job["client"], job["requested_by"]) == ("done", "retention", None)
        assert json.loads(job["rows_deleted"]) == report.deleted[project.id]
        assert job["owner_id"] == db.fetchval("SELECT created_by FROM projects WHERE id = $1", project.id)
        assert job["finished_at"] is not None
    again = retention(database_url)  # idempotent: nothing more to delete, no new record
    assert a.id not in again.deleted and b.id not in again.deleted


def test_a_partition_shared_with_a_project_keeping_everything_stays(client: httpx.Client, db: Database,
                                                                    database_url: str) -> None:
    expiring, forever = new_project(client, db, 30), new_project(client, db, None)
    name, month = private_month(db)
    expiring.events.insert([expiring.events.row(month + dt.timedelta(hours=h), visitor=f"v{h}") for h in range(20)])
    forever.events.insert([forever.events.row(month + dt.timedelta(hours=h)) for h in range(5)])
    ancient = dt.datetime(1990, 1, 1, tzinfo=UTC)  # no partition that old: in events_default
    expiring.events.add(ancient)
    forever.events.add(ancient)

    report = retention(database_url, batch_rows=7)

    assert db.fetchval("SELECT to_regclass($1) IS NOT NULL", name)
    assert name not in report.dropped
    assert db.fetchval(f"SELECT count(*) FROM {name} WHERE project_id = $1", expiring.id) == 0
    assert db.fetchval(f"SELECT count(*) FROM {name} WHERE project_id = $1", forever.id) == 5
    assert db.fetchval("SELECT count(*) FROM events_default WHERE project_id = $1", expiring.id) == 0
    assert db.fetchval("SELECT count(*) FROM events_default WHERE project_id = $1", forever.id) == 1
    assert report.deleted[expiring.id]["events"] == 21
    assert report.batches[expiring.id] >= 4  # 20 rows 7 at a time, then the one in events_default
    assert forever.id not in report.deleted
    assert not db.fetch("SELECT 1 FROM data_jobs WHERE project_id = $1", forever.id)


def test_a_partition_in_use_stays_and_its_expired_rows_go_in_batches(client: httpx.Client, db: Database,
                                                                     database_url: str) -> None:
    """A long read of `events` (a question, an export download) keeps the detach from getting its
    lock: after a few short waits (each at most the lock timeout) the run deletes the rows instead."""
    project = new_project(client, db, 30)
    name, month = private_month(db)
    project.events.insert([project.events.row(month + dt.timedelta(hours=h)) for h in range(4)])

    async def run_beside_a_reader() -> Report | None:
        reader = await asyncpg.connect(database_url)
        try:
            async with reader.transaction():
                await reader.fetchval("SELECT count(*) FROM events WHERE project_id = $1", project.id)
                return await run_once(database_url, batch_rows=5000, batch_pause=0)
        finally:
            await reader.close()

    report = asyncio.run(run_beside_a_reader())
    assert report is not None and name not in report.dropped
    assert db.fetchval("SELECT to_regclass($1) IS NOT NULL", name)
    assert events_of(db, project) == 0
    assert report.deleted[project.id]["events"] == 4
    db.execute(f"DROP TABLE {name}")  # empty: a later run would leave it


def test_a_table_retired_by_a_run_that_stopped_is_dropped_by_the_next(client: httpx.Client, db: Database,
                                                                      database_url: str) -> None:
    project = new_project(client, db, 30)
    name, month = private_month(db)
    project.events.insert([project.events.row(month + dt.timedelta(hours=h)) for h in range(3)])
    # where a run that stopped right after its detach left the partition
    db.execute(f"ALTER TABLE events DETACH PARTITION {name}")
    db.execute(f"ALTER TABLE {name} RENAME TO {name}_retired")

    report = retention(database_url)

    assert db.fetchval("SELECT to_regclass($1) IS NULL", name + "_retired")
    assert report.dropped[name] == 3 and report.deleted[project.id]["events"] == 3


def _seed(a: Project, b: Project, db: Database) -> None:
    """Two months of traffic for both projects; `a` keeps 30 days. Around a's cutoff: a visitor's
    inactivity session and an SDK session that start before it and end after it."""
    cutoff = TODAY - 30 * DAY
    for project in (a, b):
        ev = project.events
        rows = [ev.row(TODAY - 60 * DAY + dt.timedelta(hours=10), visitor="ret"),  # returns this week
                ev.row(TODAY - 60 * DAY + dt.timedelta(hours=11), "Signup", visitor="gone"),
                ev.row(TODAY - 45 * DAY + dt.timedelta(hours=8), visitor="bot", is_bot=True),
                ev.row(TODAY - 60 * DAY + dt.timedelta(hours=12), "IDENTIFY", visitor="anon-old", user="old-only"),
                ev.row(TODAY - 60 * DAY + dt.timedelta(hours=13), "IDENTIFY", visitor="anon-loyal", user="loyal"),
                ev.row(cutoff - dt.timedelta(minutes=10), visitor="night"),
                ev.row(cutoff + dt.timedelta(minutes=10), visitor="night", path="/pricing"),
                ev.row(cutoff + dt.timedelta(minutes=20), "Signup", visitor="night"),
                ev.row(cutoff - dt.timedelta(hours=2), visitor="sdk", session_id="s-1"),
                ev.row(cutoff + dt.timedelta(hours=1), visitor="sdk", session_id="s-1"),
                ev.row(TODAY - 2 * DAY + dt.timedelta(hours=9), visitor="ret"),
                ev.row(TODAY - 2 * DAY + dt.timedelta(hours=9, minutes=5), visitor="ret", path="/docs"),
                ev.row(TODAY - DAY + dt.timedelta(hours=15), visitor="anon-loyal", user="loyal"),
                ev.row(TODAY - 3 * DAY + dt.timedelta(hours=7), visitor="new", referrer_host="news.example")]
        ev.insert(rows)
        old = TODAY - 60 * DAY + dt.timedelta(hours=12)
        for visitor, alias in (("old-only", "anon-old"), ("loyal", "anon-loyal")):  # as the subscriber stored them
            db.execute("INSERT INTO persons (project_id, visitor_id, traits, first_seen, last_seen) "
                       "VALUES ($1, $2, '{\"plan\": \"pro\"}', $3, $3)", project.id, visitor, old)
            db.execute("INSERT INTO person_aliases (project_id, alias_id, visitor_id, created_at) "
                       "VALUES ($1, $2, $3, $4)", project.id, alias, visitor, old)
            # and the rollup job copied them when they were new
            db.execute("INSERT INTO rollup_visitor_aliases (project_id, alias_id, visitor_id) VALUES ($1, $2, $3)",
                       project.id, alias, visitor)


def _matrix_answers(base: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    pattern = r'tme_analytics_rollup_answers_total\{[^}]*endpoint="retention"[^}]*source="rollup"[^}]*\} (\S+)'
    return sum(float(v) for v in re.findall(pattern, text))


def _numbers(project: Project, base: str, rng: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in ask(base, project, "stats/summary", **rng).items()
            if isinstance(value, dict) and "value" in value}


def test_todays_numbers_stay_while_rollups_and_people_before_the_cutoff_go(
        client: httpx.Client, db: Database, database_url: str, rollup_url: str, tracking_url: str) -> None:
    a, b = new_project(client, db, 30), new_project(client, db, None)
    _seed(a, b, db)
    cutoff = TODAY - 30 * DAY
    week = {"from_": (TODAY - 6 * DAY).isoformat(), "to": (TODAY + DAY).isoformat()}
    since_cutoff = {"from_": cutoff.isoformat(), "to": (TODAY + DAY).isoformat()}
    monday = TODAY - dt.timedelta(days=TODAY.weekday())
    cohorts = {"period": "week", "periods": 12, "from_": (monday - 10 * 7 * DAY).date().isoformat(),
               "to": (TODAY + DAY).date().isoformat()}
    roll_up(database_url)
    for project in (a, b):  # the first question registers the week matrix; the next run computes it
        ask(rollup_url, project, "retention", **cohorts)
    roll_up(database_url)
    before = {(p.id, base, name): _numbers(p, base, rng) for p in (a, b) for base in (rollup_url, tracking_url)
              for name, rng in (("week", week), ("since_cutoff", since_cutoff))}
    assert before[(a.id, tracking_url, "week")]["events"]["value"] == 4
    cohorts_before = ask(tracking_url, a, "retention", **cohorts)["cohorts"]
    assert before[(a.id, rollup_url, "since_cutoff")]["sessions"] == before[(a.id, tracking_url, "since_cutoff")][
        "sessions"]

    report = retention(database_url)
    roll_up(database_url)

    # a lost everything before its cutoff, b nothing; the check docs/operations.md gives finds nothing
    assert events_of(db, a, before=cutoff) == 0
    assert not db.fetch("""SELECT p.id, count(e.*) FROM projects p JOIN events e ON e.project_id = p.id
                           WHERE e.event_time < (date_trunc('day', now() AT TIME ZONE 'UTC')
                                                 - make_interval(days => p.retention_days)) AT TIME ZONE 'UTC'
                             AND p.id = $1
                           GROUP BY p.id""", a.id)
    assert events_of(db, a) == 7
    assert events_of(db, b) == 14
    for table, column in ROLLUP_TIMES.items():
        left = db.fetchval(f"SELECT count(*) FROM {table} WHERE project_id = $1 AND {column} < $2", a.id, cutoff)
        assert left == 0, table
    assert db.fetchval("SELECT count(*) FROM rollup_hours WHERE project_id = $1 AND hour < $2", b.id, cutoff) > 0
    # the session across the cutoff starts at its first event left, as the raw events now say
    assert db.fetchval("SELECT min(started_at) FROM rollup_sessions WHERE project_id = $1 AND grp = 'v:night'",
                       a.id) == cutoff + dt.timedelta(minutes=10)
    # people: the profile and link of a visitor with nothing left go; those of an active one stay
    assert [r["visitor_id"] for r in db.fetch("SELECT visitor_id FROM persons WHERE project_id = $1", a.id)] == [
        "loyal"]
    for table in ("person_aliases", "rollup_visitor_aliases"):
        assert [r["alias_id"] for r in db.fetch(f"SELECT alias_id FROM {table} WHERE project_id = $1", a.id)] == [
            "anon-loyal"], table
    assert db.fetchval("SELECT count(*) FROM persons WHERE project_id = $1", b.id) == 2

    # today's numbers: as before, from rollups and from raw events
    for project in (a, b):
        for base in (rollup_url, tracking_url):
            assert _numbers(project, base, week) == before[(project.id, base, "week")], (project.id, base)
            now = _numbers(project, base, since_cutoff)
            was = before[(project.id, base, "since_cutoff")]
            assert {k: v["value"] for k, v in now.items()} == {k: v["value"] for k, v in was.items()}
        fast, raw = _numbers(project, rollup_url, since_cutoff), _numbers(project, tracking_url, since_cutoff)
        assert {k: v for k, v in fast.items() if k != "visitors"} == {k: v for k, v in raw.items() if k != "visitors"}

    # retention: the returning visitor's first event left is this week's; the rebuilt matrix says so too
    matrices = _matrix_answers(rollup_url)
    for project in (a, b):
        assert ask(rollup_url, project, "retention", **cohorts) == ask(tracking_url, project, "retention", **cohorts)
    assert _matrix_answers(rollup_url) == matrices + 2
    cohorts_after = ask(tracking_url, a, "retention", **cohorts)["cohorts"]
    old_week = (TODAY - 60 * DAY - dt.timedelta(days=(TODAY - 60 * DAY).weekday())).date().isoformat()
    sizes = ({c["cohort"]: c["size"] for c in cohorts_before}, {c["cohort"]: c["size"] for c in cohorts_after})
    assert (sizes[0][old_week], sizes[1][old_week]) == (2, 0)  # "ret" and "gone" were first seen then
    assert (sum(sizes[0].values()), sum(sizes[1].values())) == (6, 5)  # "gone" is gone, "ret" counts later

    deleted = report.deleted[a.id]
    assert deleted["events"] == 7 and deleted["persons"] == 1 and deleted["person_aliases"] == 1
    assert deleted["rollup_hours"] > 0 and deleted["rollup_visitor_hours"] > 0
    assert json.loads(record(db, a)["rows_deleted"]) == deleted
    assert b.id not in report.deleted


def test_the_tracking_services_loop_runs_retention_on_its_interval(client: httpx.Client, db: Database,
                                                                   database_url: str) -> None:
    """What `tme dev` does (TME_RETENTION_INTERVAL_SECONDS): the first run comes one interval
    after start, and the next ones as often."""
    project = new_project(client, db, 30)
    project.events.add(TODAY - 90 * DAY)
    settings = TrackingSettings(database_url=database_url, retention_interval_seconds=0.2,
                                delete_batch_pause_seconds=0)

    async def until_recorded() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            async with retention_loop(settings), asyncio.timeout(60):
                while not await conn.fetchval(  # noqa: ASYNC110 -- polling the record the loop writes
                        "SELECT count(*) FROM data_jobs WHERE project_id = $1 AND kind = 'retention'", project.id):
                    await asyncio.sleep(0.1)
        finally:
            await conn.close()

    asyncio.run(until_recorded())
    assert events_of(db, project) == 0
    assert json.loads(record(db, project)["rows_deleted"])["events"] == 1


def test_two_runs_never_overlap(database_url: str) -> None:
    async def attempt() -> Report | None:
        holder = await asyncpg.connect(database_url)
        try:
            await holder.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)  # a run in progress elsewhere
            return await run_once(database_url, batch_rows=100, batch_pause=0)
        finally:
            await holder.close()

    assert asyncio.run(attempt()) is None


def test_retention_is_set_through_the_api_within_bounds(client: httpx.Client) -> None:
    first, token = register(client)
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/projects/{first}", headers=auth).json()["retentionDays"] is None  # forever by default

    created = client.post("/api/projects", json={"name": "Shop", "retentionDays": 90}, headers=auth)
    assert created.status_code == 201 and created.json()["retentionDays"] == 90, created.text
    url = f"/api/projects/{created.json()['id']}"
    assert client.get(url, headers=auth).json()["retentionDays"] == 90
    assert client.patch(url, json={"retentionDays": 30}, headers=auth).json()["retentionDays"] == 30
    assert client.patch(url, json={"name": "Shop 2"}, headers=auth).json()["retentionDays"] == 30  # absent: unchanged
    assert client.patch(url, json={"retentionDays": 36500}, headers=auth).json()["retentionDays"] == 36500
    assert client.patch(url, json={"retentionDays": None}, headers=auth).json()["retentionDays"] is None

    for bad in (29, 0, -1, 36501, "90", 90.5, True, [30]):
        error = assert_error(client.patch(url, json={"retentionDays": bad}, headers=auth), 422, "retentionDays")
        assert "30 to 36500" in error["fields"]["retentionDays"], bad
        assert_error(client.post("/api/projects", json={"name": "X", "retentionDays": bad}, headers=auth), 422,
                     "retentionDays")
    assert client.get(url, headers=auth).json()["retentionDays"] is None  # refused patches changed nothing

    _, stranger = register(client, "Eve")
    other = {"Authorization": f"Bearer {stranger}"}
    assert_error(client.patch(url, json={"retentionDays": 30}, headers=other), 404)
    assert_error(client.get(url, headers=other), 404)
    assert client.get(url, headers=auth).json()["retentionDays"] is None
