"""Erasure of one person on the real stack: project A holds a hand-built data set of several
people (identify and alias links, sessions with and without an SDK sessionId, one SDK session two
people share, a funnel, a bot action, visits across weeks for retention), and project B the same
data without the two people erased (its twin: the same rows otherwise). The rollups are built, the
retention matrices registered and computed; then P is erased from A by userId (P also had an
anonymousId linked by identify and an older id linked by alias) and V by anonymousId (linked to
V's userId by identify), each through a Segment-shaped deletion request that the tracking
service's data job worker carries out.

Afterwards nothing of P or V is left in any table of the database (each table of the catalogue is
searched for their ids), their requests' records hold the row counts and the ids' SHA-256 digests
but not the ids, and every answer about A -- summaries, timeseries, breakdowns and retention from
the rollups and from raw events, and funnels -- equals B's. The same holds, table by table, when
other people's events and P's own arrive between the rollup job's last run and the erasure, and
when rollup runs and others' events go on while the erasure runs (in a database of the test's own,
where no rollup job runs unless the test runs it)."""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from conftest import Database, database_at, unique_email
from tracking.conftest import PASSWORD, Events, Project, ask, register, roll_up

from lifecycle.dead_letters import add_dead_letter, dead_letters_of
from services.lifecycle.jobs import SubjectType, create_job, get_job
from services.lifecycle.runner import run_next
from services.shared.db import create_pool

SUFFIX = uuid.uuid4().hex[:8]
P = {"user": f"erase-p-user-{SUFFIX}", "anon": f"erase-p-anon-{SUFFIX}", "old": f"erase-p-old-{SUFFIX}",
     "sdk": f"erase-p-sdk-{SUFFIX}"}
V = {"anon": f"erase-v-anon-{SUFFIX}", "user": f"erase-v-user-{SUFFIX}"}
SHARED_SDK = f"shared-sdk-{SUFFIX}"  # an SDK session of S in which P has an event too

RANGES = [{"from_": "2026-02-01", "to": "2026-02-28"}, {"from_": "2026-02-02", "to": "2026-02-02"},
          {"from_": "2026-02-01", "to": "2026-02-21", "tz": "Europe/Berlin"}]
DIMENSIONS = ["page", "referrer", "source", "browser", "event"]
RETENTION = [{"period": "week", "periods": 4, "from_": "2026-02-02", "to": "2026-03-01"},
             {"period": "day", "periods": 10, "from_": "2026-02-01", "to": "2026-02-20"}]
FUNNEL = {"steps": [{"event": "PAGE_VIEW"}, {"event": "Signup"}, {"event": "Purchase"}], "windowSeconds": 3600,
          "from": "2026-02-01", "to": "2026-02-28"}


def _everyone(ev: Events) -> list[dict[str, Any]]:
    """The rows of the people both projects have."""
    return [
        # Q: anonymous, identifies, converts; comes back in weeks 2 and 3
        ev.row("2026-02-02 10:00", visitor="q-anon", path="/", referrer_host="www.google.com"),
        ev.row("2026-02-02 10:05", visitor="q-anon", path="/pricing"),
        ev.row("2026-02-02 10:06", "IDENTIFY", visitor="q-anon", user="q-user", traits={"plan": "pro"}),
        ev.row("2026-02-02 10:07", "Signup", visitor="q-anon", user="q-user"),
        ev.row("2026-02-02 10:20", "Purchase", visitor="q-anon", user="q-user"),
        ev.row("2026-02-10 11:00", visitor="q-anon", user="q-user", path="/"),
        ev.row("2026-02-10 11:10", "Purchase", visitor="q-anon", user="q-user"),
        ev.row("2026-02-18 09:00", visitor="q-anon", user="q-user", path="/docs", browser="Chrome"),
        # R: anonymous only, one SDK session
        ev.row("2026-02-02 10:02", visitor="r-anon", path="/"),
        ev.row("2026-02-03 14:00", visitor="r-anon", path="/blog", session_id="r-sdk"),
        ev.row("2026-02-03 14:20", visitor="r-anon", path="/docs", session_id="r-sdk"),
        ev.row("2026-02-11 10:00", visitor="r-anon", path="/docs"),
        # S: signed in, an SDK session P shares
        ev.row("2026-02-02 10:30", visitor=None, user="s-user", path="/pricing", session_id=SHARED_SDK),
        ev.row("2026-02-02 10:40", "Signup", visitor=None, user="s-user", session_id=SHARED_SDK),
        ev.row("2026-02-17 10:00", visitor=None, user="s-user", path="/"),
        # T: anonymous, from a search engine, weeks 1 and 2
        ev.row("2026-02-04 09:00", visitor="t-anon", path="/", referrer_host="duckduckgo.com", browser="Safari"),
        ev.row("2026-02-12 09:00", visitor="t-anon", path="/pricing", browser="Safari"),
        # a crawler
        ev.row("2026-02-02 10:15", visitor="crawler", path="/", is_bot=True, device_type="bot"),
    ]


def _p_and_v(ev: Events) -> list[dict[str, Any]]:
    """P's and V's rows, in A only: in the same hours and sessions as the others' where they can be."""
    p = {"visitor": P["anon"], "user": P["user"]}
    return [
        ev.row("2026-02-02 09:50", visitor=P["old"], path="/pricing"),  # before P's alias joined this id
        ev.row("2026-02-02 10:01", visitor=P["anon"], path="/", referrer_host="www.google.com"),
        ev.row("2026-02-02 10:03", visitor=P["anon"], path="/pricing"),
        ev.row("2026-02-02 10:04", "IDENTIFY", **p, traits={"email": f"{P['user']}@example.com"}),
        ev.row("2026-02-02 10:08", "Signup", **p),
        ev.row("2026-02-02 10:09", "Purchase", **p),
        ev.row("2026-02-02 10:35", **p, path="/blog", session_id=SHARED_SDK),
        ev.row("2026-02-03 14:30", **p, path="/", is_bot=True, device_type="bot"),
        ev.row("2026-02-10 12:00", **p, path="/", session_id=P["sdk"], browser="Chrome"),
        ev.row("2026-02-10 12:05", **p, path="/docs", session_id=P["sdk"], browser="Chrome"),
        ev.row("2026-02-17 10:10", **p, path="/"),
        ev.row("2026-02-03 15:00", visitor=V["anon"], path="/", referrer_host="news.ycombinator.com"),
        ev.row("2026-02-03 15:01", "IDENTIFY", visitor=V["anon"], user=V["user"]),
        ev.row("2026-02-11 15:00", visitor=V["anon"], user=V["user"], path="/pricing"),
    ]


def _people(db: Database, project_id: int, erased_too: bool) -> None:
    """The profiles and id links the subscriber would have written from those identify calls (and
    P's alias call)."""
    links = [("q-anon", "q-user")]
    persons = [("q-user", '{"plan": "pro"}')]
    if erased_too:
        links += [(P["anon"], P["user"]), (P["old"], P["user"]), (V["anon"], V["user"])]
        persons += [(P["user"], f'{{"email": "{P["user"]}@example.com"}}'), (V["user"], "{}")]
    for alias, visitor in links:
        db.execute("INSERT INTO person_aliases (project_id, alias_id, visitor_id) VALUES ($1, $2, $3)",
                   project_id, alias, visitor)
    for visitor, traits in persons:
        db.execute("INSERT INTO persons (project_id, visitor_id, traits, first_seen, last_seen) "
                   "VALUES ($1, $2, $3::jsonb, '2026-02-02', '2026-02-02')", project_id, visitor, traits)


def _rollup_answers(base: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return sum(float(v) for v in re.findall(r'tme_analytics_rollup_answers_total\{[^}]*source="rollup"[^}]*\} (\S+)',
                                             text))


def _answers(project: Project, base: str) -> dict[str, Any]:
    """Everything asked of one tracking instance about the project."""
    out: dict[str, Any] = {}
    for n, rng in enumerate(RANGES):
        out[f"summary {n}"] = ask(base, project, "stats/summary", **rng)
        for metric in ("events", "pageviews", "sessions", "visitors"):
            for interval in ("hour", "day", "week"):
                out[f"{metric} by {interval} {n}"] = ask(base, project, "stats/timeseries", metric=metric,
                                                         interval=interval, **rng)
        for by in DIMENSIONS:
            out[f"by {by} {n}"] = ask(base, project, "stats/breakdown", by=by, limit=100, **rng)
    for question in RETENTION:
        out[f"retention by {question['period']}"] = ask(base, project, "retention", **question)
    return out


def _funnel(project: Project) -> Any:
    answer = project.post("funnels", FUNNEL)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _wait_done(client: httpx.Client, project: Project, regulate_ids: list[str]) -> list[dict[str, Any]]:
    """The requests' records once their jobs have ended (the data job worker looks every 2 s)."""
    deadline = time.monotonic() + 120
    while True:
        answer = client.get(f"/api/projects/{project.id}/regulations", headers=project.auth)
        assert answer.status_code == 200, answer.text
        records = {r["id"]: r for r in answer.json()["data"]["regulations"]}
        if all(records[i]["status"] in ("done", "failed") for i in regulate_ids):
            return [records[i] for i in regulate_ids]
        assert time.monotonic() < deadline, f"erasure jobs still not done: {records}"
        time.sleep(0.5)


def _tables_holding(db: Database, needles: list[str]) -> dict[str, int]:
    """Every table of the database (from the catalogue, partitions through their parent) whose rows,
    written out as text, contain one of `needles`, with the number of such rows."""
    tables = [r["name"] for r in db.fetch(
        """SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
             AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'""")]
    assert "public.events" in tables and "public.rollup_sessions" in tables
    patterns = [f"%{needle}%" for needle in needles]
    found = {}
    for table in tables:
        n = db.fetchval(f"SELECT count(*) FROM {table} t WHERE t::text LIKE ANY($1::text[])", patterns)
        if n:
            found[table] = n
    return found


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture(scope="module")
def twins(gateway_url: str, db: Database, database_url: str) -> tuple[Project, Project, int]:
    """Projects A (everyone) and B (everyone but P and V) of one owner, rolled up, their retention
    matrices registered and computed; and the owner's user id."""
    client = httpx.Client(base_url=gateway_url, timeout=30)
    a_id, token = register(client)
    b_answer = client.post("/api/projects", json={"name": "Twin"}, headers={"Authorization": f"Bearer {token}"})
    assert b_answer.status_code == 201, b_answer.text
    a = Project(a_id, token, client, Events(db, a_id))
    b = Project(int(b_answer.json()["id"]), token, client, Events(db, int(b_answer.json()["id"])))
    a.events.insert(_everyone(a.events) + _p_and_v(a.events))
    b.events.insert(_everyone(b.events))
    _people(db, a.id, erased_too=True)
    _people(db, b.id, erased_too=False)
    user_id = int(client.get("/api/me", headers=a.auth).json()["id"])
    return a, b, user_id


def test_erasure_leaves_nothing_of_the_person_and_everyone_elses_answers_unchanged(
        twins: tuple[Project, Project, int], client: httpx.Client, db: Database, database_url: str,
        rollup_url: str, tracking_url: str, rds: redis.Redis) -> None:
    a, b, user_id = twins
    kept_letter = add_dead_letter(rds, a.id, "wk_test", user_id="someone-else")
    erased_letter = add_dead_letter(rds, a.id, "wk_test", user_id=P["user"])
    roll_up(database_url)
    for project in (a, b):  # registers the matrices (answered from raw events this once)
        for question in RETENTION:
            ask(rollup_url, project, "retention", **question)
    roll_up(database_url)
    assert db.fetchval("SELECT count(*) FROM rollup_retention_zones WHERE project_id = $1 AND ready", a.id) == 2
    assert _answers(a, rollup_url)["summary 0"] != _answers(b, rollup_url)["summary 0"]  # P and V count in A
    assert _tables_holding(db, [P["user"], P["anon"], P["old"], V["anon"]])

    requests = [{"regulationType": "DELETE_ONLY", "subjectType": "USER_ID", "subjectIds": [P["user"]]},
                {"regulationType": "DELETE_INTERNAL", "subjectType": "ANONYMOUS_ID", "subjectIds": [V["anon"]]}]
    regulate_ids = []
    for body in requests:
        answer = client.post(f"/api/projects/{a.id}/regulations", json=body, headers=a.auth)
        assert answer.status_code == 202, answer.text
        regulate_id = answer.json()["data"]["regulateId"]
        assert answer.headers["location"] == f"/api/data-jobs/{regulate_id}"
        regulate_ids.append(regulate_id)
    p_record, v_record = _wait_done(client, a, regulate_ids)
    roll_up(database_url)  # computes A's matrices again, from the visitor state without P and V

    # nothing of either person is left anywhere, whatever the table
    assert _tables_holding(db, [*P.values(), *V.values()]) == {}

    # the audit records: who asked, what went, and the ids only as digests
    p_events, v_events = 11, 3
    assert p_record["status"] == "done" and p_record["overallStatus"] == "FINISHED", p_record
    assert p_record["subjectType"] == "USER_ID" and p_record["requestedBy"] == user_id
    assert p_record["client"] == "api" and p_record["finishedAt"] is not None and p_record["error"] is None
    assert p_record["subjectDigests"][0] == _sha256(P["user"])
    assert sorted(p_record["subjectDigests"]) == sorted(_sha256(i) for i in (P["user"], P["anon"], P["old"]))
    assert p_record["rowsDeleted"]["events"] == p_events
    assert p_record["rowsDeleted"]["persons"] == 1 and p_record["rowsDeleted"]["person_aliases"] == 2
    assert p_record["rowsDeleted"]["rollup_visitor_hours"] > 0 and p_record["rowsDeleted"]["rollup_sessions"] > 0
    # a dead letter carrying P's events goes; one of someone else's stays
    assert p_record["rowsDeleted"]["redis:dead_letters"] == 1
    assert erased_letter not in dead_letters_of(rds, a.id) and kept_letter in dead_letters_of(rds, a.id)
    assert v_record["status"] == "done" and v_record["subjectType"] == "ANONYMOUS_ID"
    assert sorted(v_record["subjectDigests"]) == sorted(_sha256(i) for i in (V["anon"], V["user"]))
    assert v_record["rowsDeleted"]["events"] == v_events and v_record["rowsDeleted"]["person_aliases"] == 1
    assert db.fetchval("SELECT count(*) FROM data_jobs WHERE id = ANY($1::bigint[]) AND subject_ids IS NULL",
                       [int(i) for i in regulate_ids]) == 2

    # every answer about the others is what it would be had P and V never been seen
    before = _rollup_answers(rollup_url)
    fast = _answers(a, rollup_url)
    assert _rollup_answers(rollup_url) - before >= len(RANGES) * (2 + 12 + len(DIMENSIONS)) + len(RETENTION)
    assert fast == _answers(b, rollup_url)
    assert _answers(a, tracking_url) == _answers(b, tracking_url)
    assert fast["summary 0"]["events"]["value"] > 0
    assert _funnel(a) == _funnel(b)
    assert _funnel(a)["steps"][-1]["users"] > 0


def test_requests_name_a_project_of_the_caller_and_a_valid_body(client: httpx.Client,
                                                                twins: tuple[Project, Project, int]) -> None:
    a = twins[0]
    path = f"/api/projects/{a.id}/regulations"
    good = {"regulationType": "DELETE_ONLY", "subjectType": "USER_ID", "subjectIds": ["someone"]}
    stranger = client.post("/api/auth/register", json={"name": "Eve", "email": unique_email("eve"),
                                                       "password": PASSWORD}).json()
    eve = {"Authorization": f"Bearer {stranger['accessToken']}"}
    for answer in (client.post(path, json=good, headers=eve), client.get(path, headers=eve),
                   client.post("/api/projects/999999999/regulations", json=good, headers=a.auth),
                   client.get("/api/projects/0/regulations", headers=a.auth)):
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["code"] == "not_found"
    assert client.post(path, json=good).status_code == 401

    def refused(body: Any, field: str) -> None:
        answer = client.post(path, json=body, headers=a.auth)
        assert answer.status_code == 422, answer.text
        assert field in answer.json()["error"]["fields"], answer.text

    refused({**good, "regulationType": "SUPPRESS_WITH_DELETE"}, "regulationType")
    suppress = client.post(path, json={**good, "regulationType": "SUPPRESS_ONLY"}, headers=a.auth).json()
    assert "not supported" in suppress["error"]["message"]
    refused({**good, "regulationType": "ERASE"}, "regulationType")
    refused({**good, "subjectType": "EMAIL"}, "subjectType")
    refused({**good, "subjectIds": []}, "subjectIds")
    refused({**good, "subjectIds": [f"id-{n}" for n in range(101)]}, "subjectIds")
    refused({**good, "subjectIds": [""]}, "subjectIds.0")
    refused({**good, "subjectIds": ["x" * 256]}, "subjectIds.0")
    refused({"regulationType": "DELETE_ONLY", "subjectType": "USER_ID"}, "subjectIds")
    not_json = client.post(path, content=b"{", headers={**a.auth, "content-type": "application/json"})
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == "invalid_json"
    for params in ({"limit": "0"}, {"limit": "many"}, {"cursor": "-1"}, {"cursor": "abc"}):
        answer = client.get(path, params=params, headers=a.auth)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_parameter", answer.text
    # nothing of those was queued
    assert all(r["subjectDigests"] != [hashlib.sha256(b"someone").hexdigest()]
               for r in client.get(path, headers=a.auth).json()["data"]["regulations"])


def test_the_records_page_newest_first(client: httpx.Client, gateway_url: str, db: Database) -> None:
    project_id, token = register(client)
    auth = {"Authorization": f"Bearer {token}"}
    path = f"/api/projects/{project_id}/regulations"
    ids = []
    for n in range(3):
        body = {"regulationType": "DELETE_ONLY", "subjectType": "ANONYMOUS_ID", "subjectIds": [f"nobody-{n}-{SUFFIX}"]}
        answer = client.post(path, json=body, headers=auth, params={"client": "cli"})
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["data"]["regulateId"])
    first = client.get(path, params={"limit": 2}, headers=auth).json()["data"]
    assert [r["id"] for r in first["regulations"]] == [ids[2], ids[1]]
    assert all(r["client"] == "cli" and r["subjectType"] == "ANONYMOUS_ID" for r in first["regulations"])
    rest = client.get(path, params={"limit": 2, "cursor": first["nextCursor"]}, headers=auth).json()["data"]
    assert [r["id"] for r in rest["regulations"]] == [ids[0]] and rest["nextCursor"] is None
    assert rest["regulations"][0]["subjectDigests"] == [_sha256(f"nobody-0-{SUFFIX}")]


ROLLUP_TABLES = ("rollup_hours", "rollup_dim_hours", "rollup_dim_days", "rollup_bot_hours", "rollup_sessions",
                 "rollup_session_hours", "rollup_visitor_hours", "rollup_visitor_aliases", "rollup_retention")


def _rollups(db: Database, project_id: int) -> dict[str, list[str]]:
    """The project's rows of every rollup table, as JSON without the project id (zero cells of the
    retention matrices left out: they count nobody)."""
    return {table: sorted(r["row"] for r in db.fetch(
        f"SELECT (to_jsonb(t) - 'project_id')::text AS row FROM {table} t WHERE project_id = $1 "
        f"{'AND visitors <> 0' if table == 'rollup_retention' else ''}", project_id)) for table in ROLLUP_TABLES}


async def _erase_in_process(url: str, project_id: int, subject_type: SubjectType, subject: str,
                            batch_pause: float = 0) -> dict[str, int]:
    """Queue an erasure and run it with the data job worker's own code, 2 rows a batch."""
    pool = await create_pool(url)
    try:
        async with pool.acquire() as conn:
            job_id = await create_job(conn, "erase_person", project_id, owner_id=None, requested_by=None,
                                      client="test", subject_type=subject_type, subject_ids=[subject])
        job = await run_next(pool, batch_rows=2, batch_pause=batch_pause)
        assert job is not None and job.id == job_id
        async with pool.acquire() as conn:
            done = await get_job(conn, job_id)
        assert done is not None and done.status == "done", done
        return done.rows_deleted
    finally:
        await pool.close()


@pytest.fixture
def own_database(db: Database, database_url: str) -> Iterator[Database]:
    """A database of the test's own (no service uses it), migrated to head."""
    own = database_at(db, database_url, "head", prefix="erasure")
    # projects 1 and 2 exist (an erasure of a project deleted meanwhile does nothing)
    owner = own.fetchval("INSERT INTO users (name, email, password_hash) VALUES ('o', 'o@example.com', 'x') "
                         "RETURNING id")
    team = own.fetchval("INSERT INTO teams (name, created_by) VALUES ('o', $1) RETURNING id", owner)
    own.execute("INSERT INTO projects (id, team_id, created_by, name, write_key) OVERRIDING SYSTEM VALUE "
                "VALUES (1, $2, $1, 'A', 'wk_a'), (2, $2, $1, 'B', 'wk_b')", owner, team)
    try:
        yield own
    finally:
        db.execute(f"DROP DATABASE IF EXISTS {own.url.rsplit('/', 1)[1]} WITH (FORCE)")


def _rolled_up_twins(db: Database) -> tuple[Events, Events]:
    """Projects 1 (everyone) and 2 (everyone but P and V) of the test's database, rolled up, with
    retention matrices to keep."""
    events_a, events_b = Events(db, 1), Events(db, 2)
    events_a.insert(_everyone(events_a) + _p_and_v(events_a))
    events_b.insert(_everyone(events_b))
    _people(db, 1, erased_too=True)
    _people(db, 2, erased_too=False)
    for project_id in (1, 2):
        db.execute("INSERT INTO rollup_retention_zones (project_id, tz, period) VALUES ($1, 'UTC', 'week'), "
                   "($1, 'Europe/Berlin', 'day')", project_id)
    roll_up(db.url)
    assert _rollups(db, 1) != _rollups(db, 2)
    return events_a, events_b


def _p_goes_on(events: Events) -> None:
    """P's rows after the job's last run: in an hour of theirs the job has added (in the SDK session
    P shares) and in a new one."""
    events.insert([events.row("2026-02-02 10:52", visitor=P["anon"], user=P["user"], path="/docs",
                              session_id=SHARED_SDK),
                   events.row("2026-02-20 08:00", visitor=P["anon"], user=P["user"], path="/")])


def test_events_the_rollup_job_has_not_added_yet_are_counted_once(own_database: Database) -> None:
    db, a, b = own_database, 1, 2
    events_a, events_b = _rolled_up_twins(db)
    # P goes on too, in an hour of theirs the job has added and in a new one, in the SDK session P shares
    _p_goes_on(events_a)
    for events in (events_a, events_b):  # the others go on, in P's hours and in the SDK session P shares
        events.insert([events.row("2026-02-02 10:50", visitor=None, user="s-user", path="/blog",
                                  session_id=SHARED_SDK),
                       events.row("2026-02-02 10:55", visitor="newcomer", path="/pricing"),
                       events.row("2026-02-17 10:30", visitor="r-anon", path="/"),
                       events.row("2026-02-02 10:57", visitor="crawler", path="/", is_bot=True)])

    deleted = asyncio.run(_erase_in_process(db.url, a, "USER_ID", P["user"]))
    assert deleted["events"] == 13 and deleted["persons"] == 1 and deleted["person_aliases"] == 2
    assert asyncio.run(_erase_in_process(db.url, a, "ANONYMOUS_ID", V["anon"]))["events"] == 3
    roll_up(db.url)
    assert _rollups(db, a) == _rollups(db, b)
    assert db.fetchval("SELECT count(*) FROM events WHERE project_id = $1 AND visitor_id = ANY($2::text[])",
                       a, [*P.values(), *V.values()]) == 0
    assert db.fetchval("SELECT count(*) FROM rollup_retention_zones WHERE ready") == 4


def test_rollup_runs_and_ingest_while_the_erasure_runs_leave_the_rollups_exact(own_database: Database) -> None:
    """The erasure takes the rollup job's lock one hour at a time: runs of the job between its
    hours add the others' new rows, in P's hours and in the SDK session P shares, exactly once."""
    db, a, b = own_database, 1, 2
    events_a, events_b = _rolled_up_twins(db)
    _p_goes_on(events_a)  # which the job's runs may add before or after the erasure gets to their hours
    erasing = threading.Event()
    erasing.set()

    def others_go_on() -> None:
        hours = ["2026-02-02 09:5", "2026-02-02 10:5", "2026-02-03 14:4", "2026-02-10 12:3", "2026-02-17 10:4"]
        n = 0
        while erasing.is_set():
            for events in (events_a, events_b):
                events.insert([events.row(f"{hours[n % len(hours)]}{n % 10}", visitor=f"newcomer-{n % 3}",
                                          path=f"/page-{n % 4}"),
                               events.row(f"2026-02-02 10:4{n % 10}", visitor=None, user="s-user", path="/",
                                          session_id=SHARED_SDK)])
            roll_up(db.url)
            n += 1

    meanwhile = threading.Thread(target=others_go_on)
    meanwhile.start()
    try:
        deleted = asyncio.run(_erase_in_process(db.url, a, "USER_ID", P["user"], batch_pause=0.05))
    finally:
        erasing.clear()
        meanwhile.join()
    assert deleted["events"] == 13
    roll_up(db.url)
    assert db.fetchval("SELECT count(*) FROM events WHERE project_id = $1", a) > 30  # the others went on
    assert db.fetchval("SELECT count(*) FROM events WHERE project_id = $1 AND visitor_id = ANY($2::text[])",
                       a, list(P.values())) == 0
    p_free = _rollups(db, a)
    assert asyncio.run(_erase_in_process(db.url, a, "ANONYMOUS_ID", V["anon"]))["events"] == 3
    roll_up(db.url)
    assert _rollups(db, a) == _rollups(db, b)
    assert p_free != _rollups(db, a)  # V was still in them
