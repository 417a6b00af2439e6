"""Retention from cohort matrices answers exactly like retention from raw events: a seeded set of
visitors active over three months (DST changes in Europe and the US inside, bots, anonymous
visitors who identify later) is compared, in three time zones and the three periods, between a
tracking instance that answers from the matrices and the main one (raw at this size). Then
late events (one before a visitor's first, which moves their cohort), new visitors and new
aliases (one joining two histories, one whose target is itself an alias) arrive, the job runs,
and the answers are still equal. Questions a matrix cannot answer are answered from raw events."""

from __future__ import annotations

import asyncio
import random
import re

import asyncpg
import httpx
import pytest
from conftest import Database

from services.tracking.db import Db
from services.tracking.rollups import read

from .conftest import Project, ask, roll_up

ZONES = ["UTC", "Europe/Berlin", "America/New_York"]
QUESTIONS = {
    "day": {"period": "day", "periods": 10, "from_": "2026-03-01", "to": "2026-03-31"},
    "week": {"period": "week", "periods": 8, "from_": "2026-01-05", "to": "2026-04-05"},
    "month": {"period": "month", "periods": 4, "from_": "2026-01-01", "to": "2026-04-30"},
}


def _retention_answers(base: str, source: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    pattern = rf'tme_analytics_rollup_answers_total\{{[^}}]*endpoint="retention"[^}}]*source="{source}"[^}}]*\}} (\S+)'
    return sum(float(v) for v in re.findall(pattern, text))


def _seed(project: Project, db: Database) -> None:
    rnd = random.Random(11)
    ev = project.events
    rows = []
    for n in range(40):
        visitor = f"anon-{n}"
        for visit in range(rnd.randrange(1, 6)):
            day = rnd.randrange(1, 29)
            month = rnd.choice([1, 2, 3, 3, 4])
            moment = f"2026-{month:02d}-{day:02d} {rnd.choice([0, 1, 5, 12, 22, 23]):02d}:{rnd.randrange(60):02d}"
            user = f"user-{n}" if n % 5 == 0 and visit > 0 else None
            rows.append(ev.row(moment, visitor=visitor, user=user))
            if rnd.random() < 0.4:
                rows.append(ev.row(moment, "Signup", visitor=visitor, user=user))
    rows += [ev.row("2026-02-10 10:00", visitor="crawler", is_bot=True),
             ev.row("2026-03-29 00:30", visitor="dst-night"),  # Berlin's spring-forward night
             ev.row("2026-03-29 01:30", visitor="dst-night"),
             ev.row("2026-03-08 06:30", visitor="us-dst"), ev.row("2026-03-09 05:30", visitor="us-dst")]
    ev.insert(rows)
    for n in range(0, 40, 5):  # identified visitors: their anonymous history joins the user's
        db.execute("INSERT INTO person_aliases (project_id, alias_id, visitor_id) VALUES ($1, $2, $3)",
                   project.id, f"anon-{n}", f"user-{n}")


def _compare(project: Project, rollup_url: str, tracking_url: str) -> None:
    for tz in ZONES:
        for question in QUESTIONS.values():
            fast = ask(rollup_url, project, "retention", **question, tz=tz)
            raw = ask(tracking_url, project, "retention", **question, tz=tz)
            assert fast == raw, (tz, question["period"])


@pytest.fixture
def matrices(project: Project, db: Database, database_url: str, rollup_url: str, tracking_url: str) -> Project:
    """A seeded project whose matrices (three zones, three periods) are registered and computed."""
    _seed(project, db)
    roll_up(database_url)
    _compare(project, rollup_url, tracking_url)  # registers the nine matrices, answered from raw
    roll_up(database_url)
    return project


def test_matrices_answer_like_raw_events_and_stay_equal_as_events_and_aliases_arrive(
        matrices: Project, db: Database, database_url: str, rollup_url: str, tracking_url: str) -> None:
    project, ev = matrices, matrices.events
    before = _retention_answers(rollup_url, "rollup")
    _compare(project, rollup_url, tracking_url)
    assert _retention_answers(rollup_url, "rollup") - before == len(ZONES) * len(QUESTIONS)
    assert db.fetchval("SELECT count(*) FROM rollup_retention_zones WHERE project_id = $1 AND ready",
                       project.id) == len(ZONES) * len(QUESTIONS)

    ev.insert([
        ev.row("2025-12-30 09:00", visitor="anon-3"),  # before anon-3's first event: its cohort moves
        ev.row("2026-03-30 10:00", visitor="newcomer"), ev.row("2026-04-02 10:00", visitor="newcomer"),
        ev.row("2026-03-15 10:00", visitor="anon-7"),
        ev.row("2026-03-16 10:00", visitor="other-device"),
        ev.row("2026-03-17 10:00", visitor="crawler-2", is_bot=True),
        ev.row("2026-03-18 10:00", "IDENTIFY", visitor="anon-8"),  # not an analytics action
    ])
    db.execute("INSERT INTO person_aliases (project_id, alias_id, visitor_id) VALUES "
               "($1, 'anon-9', 'anon-11'), "  # two anonymous histories become one
               "($1, 'anon-11', 'user-11'), "  # ... whose target is itself an alias: resolved one level only
               "($1, 'other-device', 'anon-7')", project.id)
    roll_up(database_url)
    roll_up(database_url)  # a second run over the same rows changes nothing
    _compare(project, rollup_url, tracking_url)

    # after an upgrade the visitor state is rebuilt from every event once
    db.execute("UPDATE rollup_state SET visitors_ready = false")
    roll_up(database_url)
    _compare(project, rollup_url, tracking_url)


def test_questions_a_matrix_cannot_answer_come_from_raw_events(
        matrices: Project, rollup_url: str, tracking_url: str) -> None:
    week = QUESTIONS["week"]
    cannot = [
        {**week, "tz": "Asia/Kolkata"},  # half an hour from UTC
        {**week, "startEvent": "Signup"},
        {**week, "event": "Signup"},
        {**week, "filters": '[{"field": "browser", "op": "eq", "value": "Firefox"}]'},
        {**week, "from_": "2026-01-07"},  # not the start of a week
        {**week, "to": "2026-03-04"},  # ends inside a week, in the past
    ]
    for question in cannot:
        before = _retention_answers(rollup_url, "raw")
        assert ask(rollup_url, matrices, "retention", **question) == ask(tracking_url, matrices, "retention",
                                                                       **question)
        assert _retention_answers(rollup_url, "raw") == before + 1, question


def test_a_project_keeps_a_bounded_number_of_matrices_and_loses_unused_ones(project: Project, db: Database,
                                                                           database_url: str) -> None:
    """Any client can name a time zone, and every matrix costs the job work on each run: a
    project gets at most TME_RETENTION_MATRICES of them, and one nobody asked for in
    TME_RETENTION_MATRIX_DAYS is dropped."""
    async def register(zones: list[str], limit: int) -> list[bool]:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
        try:
            return [await read.register_cohort_matrix(Db(pool, 30), project.id, tz, "week", limit) for tz in zones]
        finally:
            await pool.close()

    assert asyncio.run(register(["UTC", "Europe/Berlin", "Asia/Tokyo"], 2)) == [True, True, False]
    roll_up(database_url)
    db.execute("UPDATE rollup_retention_zones SET requested_at = now() - interval '31 days' "
               "WHERE project_id = $1 AND tz = 'UTC'", project.id)
    roll_up(database_url)
    assert [r["tz"] for r in db.fetch("SELECT tz FROM rollup_retention_zones WHERE project_id = $1",
                                      project.id)] == ["Europe/Berlin"]
    assert db.fetchval("SELECT count(*) FROM rollup_retention WHERE project_id = $1 AND tz = 'UTC'", project.id) == 0
