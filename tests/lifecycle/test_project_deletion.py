"""Deleting a project deletes its data, and deleting an account deletes its projects.

A project is filled through the real stack (events of every type in three monthly partitions,
people and aliases, rollups and a retention matrix built by the rollup job, a dead letter, the
imports' positions), deleted through the gateway, and once its data job says done no table that
has a `project_id` column -- listed from the database catalogue, so a table added later is
covered without changing this test -- holds a row of it, nor Redis a dead letter or shared key;
another project's rows and answers are unchanged. The key is refused right after the DELETE, and
an event accepted just before it is never stored."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import signal
import uuid
from typing import Any

import asyncpg
import httpx
import redis
from conftest import INTERNAL, Database
from gateway.conftest import PASSWORD, Account, register
from ingest.helpers import metric, wait_drained, wait_until

from lifecycle.dead_letters import add_dead_letter, dead_letters_of
from services.devstack import DevStack
from services.lifecycle.deletion import INDEX_ONLY, KEPT, delete_project, leaf_tables
from services.lifecycle.jobs import finish_job, get_job
from services.lifecycle.runner import JobContext
from services.shared.db import create_pool
from services.shared.redis import create_redis, project_write_keys
from services.tracking.rollups.job import run_once
from services.tracking.settings import TrackingSettings

BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
# three monthly partitions
MOMENTS = (NOW - dt.timedelta(hours=2), NOW - dt.timedelta(days=40), NOW - dt.timedelta(days=150))
# the catalogue's tables with a project_id column (partitioned tables, not their partitions)
PROJECT_TABLES = """
SELECT c.relname FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'project_id' AND NOT a.attisdropped
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
ORDER BY 1
"""


def new_project(client: httpx.Client, account: Account, name: str) -> tuple[int, str]:
    response = client.post("/api/projects", json={"name": name}, headers=account.auth)
    assert response.status_code == 201, response.text
    return int(response.json()["id"]), response.json()["writeKey"]


def iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def track(client: httpx.Client, write_key: str, name: str = "Clicked") -> httpx.Response:
    return client.post("/api/track", json={"apiKey": write_key, "eventName": name, "userId": "u-1"})


def send_everything(client: httpx.Client, write_key: str) -> int:
    """Every kind of call, in three monthly partitions, plus a bot's page view; how many events."""
    calls: list[dict[str, Any]] = []
    for n, moment in enumerate(MOMENTS):
        anon, user = f"anon-{n}", f"user-{n}"
        at = {"timestamp": iso(moment)}
        calls += [
            {"type": "page", "anonymousId": anon, "name": "Home", "properties": {"url": "https://shop.example/"},
             "context": {"page": {"url": "https://shop.example/?utm_source=news", "referrer": "https://search.example/"}},
             **at},
            {"type": "track", "anonymousId": anon, "event": "Added to cart", "properties": {"sku": "A1"},
             "context": {"sessionId": f"s-{n}"}, **at},
            {"type": "identify", "userId": user, "anonymousId": anon, "traits": {"plan": "pro"}, **at},
            {"type": "alias", "userId": user, "previousId": f"old-{n}", **at},
            {"type": "track", "userId": user, "event": "Ordered", **at},
            {"type": "screen", "userId": user, "name": "Basket", **at},
            {"type": "group", "userId": user, "groupId": "acme", "traits": {"seats": 3}, **at},
        ]
    response = client.post("/v1/batch", auth=(write_key, ""), json={"batch": calls})
    assert response.status_code == 200, response.text
    bot = client.post("/v1/page", auth=(write_key, ""), json={
        "anonymousId": "crawler", "name": "Home", "timestamp": iso(MOMENTS[0]), "context": {"userAgent": BOT},
        "properties": {"url": "https://shop.example/"}})
    assert bot.status_code == 200, bot.text
    return len(calls) + 1


def project_tables(db: Database) -> list[str]:
    return [r["relname"] for r in db.fetch(PROJECT_TABLES)]


def rows_of(db: Database, project_id: int) -> dict[str, int]:
    """Rows of the project in every table that has a project_id column."""
    return {table: int(db.fetchval(f'SELECT count(*) FROM "{table}" WHERE project_id = $1', project_id))
            for table in project_tables(db)}


def cascaded_tables(db: Database) -> set[str]:
    """Tables whose rows go with the project's row (ON DELETE CASCADE), not by the job."""
    return {r["t"] for r in db.fetch("""SELECT conrelid::regclass::text AS t FROM pg_constraint
                                         WHERE contype = 'f' AND confrelid = 'projects'::regclass
                                           AND confdeltype = 'c'""")}


def roll_up(database_url: str) -> None:
    """One run of the rollup job, after the one in progress (as tests/tracking do)."""
    asyncio.run(run_once(TrackingSettings(database_url=database_url), wait=True))


def wait_job(client: httpx.Client, account: Account, job_id: int) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        response = client.get(f"/api/data-jobs/{job_id}", headers=account.auth)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        return job if job["status"] in ("done", "failed") else None

    job: dict[str, Any] = wait_until(finished, 120, f"data job {job_id} to finish")
    assert job["status"] == "done", job
    return job


def wait_job_in_db(db: Database, job_id: int) -> dict[str, Any]:
    """A job whose owner is gone (account deletion): its record, read from the database."""
    wait_until(lambda: db.fetchval("SELECT status IN ('done', 'failed') FROM data_jobs WHERE id = $1", job_id),
               120, f"data job {job_id} to finish")
    record = db.fetchrow("SELECT * FROM data_jobs WHERE id = $1", job_id)
    assert record is not None and record["status"] == "done", record
    return dict(record)


def summary(client: httpx.Client, account: Account, project_id: int) -> Any:
    response = client.get(f"/api/projects/{project_id}/stats/summary", headers=account.auth,
                          params={"from": (NOW - dt.timedelta(days=200)).date().isoformat(),
                                  "to": NOW.date().isoformat()})
    assert response.status_code == 200, response.text
    return response.json()


def fill(client: httpx.Client, db: Database, rds: redis.Redis, database_url: str, rollup_url: str,
         project_id: int, write_key: str) -> int:
    """Data of the project in every table and in Redis; how many events were stored."""
    sent = send_everything(client, write_key)
    wait_until(lambda: db.fetchval("SELECT count(*) FROM events WHERE project_id = $1", project_id) == sent, 30,
               "the events to be stored")
    roll_up(database_url)
    # a retention question asked of a tracking instance that keeps matrices at any size (the
    # stack's own needs 10,000 events first) registers one; the next run computes it
    asked = httpx.get(f"{rollup_url}/api/projects/{project_id}/retention", timeout=30,
                      headers={"X-TME-Project-Id": str(project_id), **INTERNAL},
                      params={"period": "day", "periods": "5", "tz": "UTC",
                              "from": (NOW - dt.timedelta(days=10)).date().isoformat(), "to": NOW.date().isoformat()})
    assert asked.status_code == 200, asked.text
    roll_up(database_url)
    # the positions of `tme import-legacy` and `tme import --file` (services/lifecycle)
    db.execute("INSERT INTO legacy_imports (legacy_user_id, project_id, last_event_id) VALUES ($1, $2, 7)",
               uuid.uuid4(), project_id)
    db.execute("INSERT INTO file_imports (project_id, file_digest, lines_done) VALUES ($1, $2, 7)",
               project_id, uuid.uuid4().hex)
    add_dead_letter(rds, project_id, write_key)
    # what the team's admins set up around the project: a guest, an invitation and a share link (they
    # go with the project's row), and the team's log (which stays)
    guest = db.fetchval("INSERT INTO users (name, email, password_hash) VALUES ('g', $1, 'x') RETURNING id",
                        f"guest-{uuid.uuid4().hex[:8]}@example.com")
    db.execute("INSERT INTO project_guests (project_id, user_id) VALUES ($1, $2)", project_id, guest)
    team_id = db.fetchval("SELECT team_id FROM projects WHERE id = $1", project_id)
    db.execute("INSERT INTO invitations (team_id, project_id, email, role, token_hash, expires_at) "
               "VALUES ($1, $2, 'x@example.com', 'viewer', $3, now() + interval '1 day')",
               team_id, project_id, uuid.uuid4().bytes)
    db.execute("INSERT INTO share_links (project_id, token_hash) VALUES ($1, $2)", project_id, uuid.uuid4().bytes)
    db.execute("INSERT INTO audit_events (team_id, action, project_id) VALUES ($1, 'project.created', $2)",
               team_id, project_id)
    return sent


def test_a_deleted_project_leaves_no_row_in_any_table_and_others_are_untouched(
    client: httpx.Client, db: Database, rds: redis.Redis, database_url: str, rollup_url: str,
) -> None:
    owner, other = register(client, "Owner"), register(client, "Other")
    doomed, doomed_key = new_project(client, owner, "Doomed")
    stored = fill(client, db, rds, database_url, rollup_url, doomed, doomed_key)
    fill(client, db, rds, database_url, rollup_url, other.project_id, other.write_key)

    before = rows_of(db, doomed)
    empty = [t for t, n in before.items() if n == 0 and t not in KEPT]
    assert not empty, f"fill these tables in this test, so that their deletion is proven: {empty}"
    assert db.fetchval("SELECT count(DISTINCT tableoid) FROM events WHERE project_id = $1", doomed) == 3
    assert rds.exists(project_write_keys(doomed))  # the gateway shared the key it confirmed
    other_rows, other_answer = rows_of(db, other.project_id), summary(client, other, other.project_id)

    deleted = client.delete(f"/api/projects/{doomed}", headers=owner.auth, params={"client": "dashboard"})
    assert deleted.status_code == 202, deleted.text
    assert track(client, doomed_key).status_code == 401  # at once
    assert client.get(f"/api/projects/{doomed}", headers=owner.auth).status_code == 404
    accepted = deleted.json()
    assert (accepted["kind"], accepted["projectId"]) == ("delete_project", doomed)
    assert accepted["status"] in ("queued", "running", "done")

    job = wait_job(client, owner, accepted["id"])
    left = rows_of(db, doomed)
    assert left["data_jobs"] == 1
    assert {t: n for t, n in left.items() if t not in KEPT} == {t: 0 for t in left if t not in KEPT}
    assert job["rowsDeleted"]["events"] == stored
    by_job = [t for t in before if t not in KEPT and t not in cascaded_tables(db)]
    assert {t: job["rowsDeleted"].get(t) for t in by_job} == {t: before[t] for t in by_job}
    assert job["rowsDeleted"]["redis:dead_letters"] == 1
    assert not dead_letters_of(rds, doomed)
    assert not rds.exists(project_write_keys(doomed))
    record = db.fetchrow("SELECT requested_by, client FROM data_jobs WHERE id = $1", accepted["id"])
    assert record is not None and record["client"] == "dashboard"

    assert rows_of(db, other.project_id) == other_rows
    assert summary(client, other, other.project_id) == other_answer
    assert dead_letters_of(rds, other.project_id)
    assert track(client, other.write_key).status_code == 200

    listed = client.get("/api/data-jobs", headers=owner.auth)
    assert listed.status_code == 200, listed.text
    assert [j["id"] for j in listed.json()["jobs"]] == [accepted["id"]]
    assert client.get("/api/data-jobs", headers=other.auth).json() == {"jobs": []}


def test_an_event_accepted_just_before_the_delete_is_never_stored(
    client: httpx.Client, db: Database, rds: redis.Redis, stack: DevStack,
) -> None:
    """The subscriber is paused, so the event waits in the stream while the project is deleted:
    it reaches PostgreSQL after the delete committed, and is dropped, not dead-lettered."""
    owner = register(client)
    subscriber = stack.services["subscriber"]
    wait_drained(rds)  # the subscriber holds no write transaction (the delete would wait for it)
    dropped = metric(subscriber.url, "tme_subscriber_deleted_project_events_total")
    subscriber.signal(signal.SIGSTOP)
    try:
        assert track(client, owner.write_key, "just before").status_code == 200
        deleted = client.delete(f"/api/projects/{owner.project_id}", headers=owner.auth)
        assert deleted.status_code == 202, deleted.text
    finally:
        subscriber.signal(signal.SIGCONT)
    wait_drained(rds)
    wait_job(client, owner, deleted.json()["id"])
    assert metric(subscriber.url, "tme_subscriber_deleted_project_events_total") - dropped == 1
    assert not any(rows_of(db, owner.project_id)[t] for t in ("events", "event_ids", "persons"))
    assert not dead_letters_of(rds, owner.project_id)


def test_a_job_whose_worker_died_is_taken_over_and_finished(
    client: httpx.Client, db: Database, rds: redis.Redis,
) -> None:
    """A worker claimed the deletion, deleted some rows and died (its heartbeat is an hour old):
    the running worker takes the job over, deletes the rest, and the counts add up."""
    owner = register(client)
    sent = send_everything(client, owner.write_key)
    wait_until(lambda: db.fetchval("SELECT count(*) FROM events WHERE project_id = $1", owner.project_id) == sent,
               30, "the events to be stored")
    wait_drained(rds)
    # what the users service and a first worker did, in one transaction so that no live worker
    # sees the job before it looks abandoned
    job_id = db.fetchval(
        """WITH lock AS (SELECT pg_advisory_xact_lock(tme_ledger_lock())),
                gone AS (DELETE FROM projects WHERE id = $1 AND (SELECT true FROM lock)
                         RETURNING id, created_by, team_id),
                first AS (DELETE FROM events WHERE project_id = $1 AND event_time < now() - interval '100 days'
                          RETURNING 1)
           INSERT INTO data_jobs (kind, project_id, owner_id, team_id, requested_by, client, status, attempts,
                                  started_at, heartbeat_at, rows_deleted)
           SELECT 'delete_project', id, created_by, team_id, created_by, 'api', 'running', 1, now() - interval '1 hour',
                  now() - interval '1 hour', jsonb_build_object('events', (SELECT count(*) FROM first))
           FROM gone RETURNING id""", owner.project_id)
    partial = db.fetchval("SELECT (rows_deleted->>'events')::int FROM data_jobs WHERE id = $1", job_id)
    assert 0 < partial < sent

    job = wait_job(client, owner, job_id)
    assert job["rowsDeleted"]["events"] == sent
    assert db.fetchval("SELECT attempts FROM data_jobs WHERE id = $1", job_id) == 2
    assert not any(n for t, n in rows_of(db, owner.project_id).items() if t not in KEPT)


def test_account_deletion_needs_the_password_then_deletes_every_project(
    client: httpx.Client, db: Database, rds: redis.Redis,
) -> None:
    owner, bystander = register(client, "Leaving"), register(client, "Staying")
    second, second_key = new_project(client, owner, "Second")
    for key in (owner.write_key, second_key, bystander.write_key):
        assert track(client, key).status_code == 200
    wait_until(lambda: all(db.fetchval("SELECT count(*) FROM events WHERE project_id = $1", p) == 1
                           for p in (owner.project_id, second, bystander.project_id)), 30, "events stored")

    analytics = f"/api/projects/{owner.project_id}/stats/summary"
    assert client.get(analytics, headers=owner.auth).status_code == 200  # the gateway caches the login now

    wrong = client.request("DELETE", "/api/me", headers=owner.auth, json={"password": PASSWORD + "?"})
    assert wrong.status_code == 422, wrong.text
    assert wrong.json()["error"]["code"] == "invalid_password"
    assert client.get("/api/me", headers=owner.auth).status_code == 200
    assert track(client, owner.write_key).status_code == 200

    deleted = client.request("DELETE", "/api/me", headers=owner.auth, json={"password": PASSWORD})
    assert deleted.status_code == 202, deleted.text
    jobs = deleted.json()["jobs"]
    assert sorted(j["projectId"] for j in jobs) == sorted([owner.project_id, second])
    assert client.get("/api/me", headers=owner.auth).status_code == 401  # the login ends at once
    assert client.get(analytics, headers=owner.auth).status_code == 401  # also where the gateway cached it
    assert track(client, owner.write_key).status_code == 401
    assert track(client, second_key).status_code == 401
    login = client.post("/api/auth/login", json={"email": owner.email, "password": PASSWORD})
    assert login.status_code == 401, login.text

    for job in jobs:
        wait_job_in_db(db, job["id"])
    for project_id in (owner.project_id, second):
        assert not any(n for t, n in rows_of(db, project_id).items() if t not in KEPT)
    assert db.fetchval("SELECT count(*) FROM users WHERE lower(email) = lower($1)", owner.email) == 0
    assert rows_of(db, bystander.project_id)["events"] >= 1
    assert client.get("/api/me", headers=bystander.auth).status_code == 200


def test_data_jobs_belong_to_their_owner_and_bad_input_is_refused(client: httpx.Client) -> None:
    owner, intruder = register(client, "Owner"), register(client, "Intruder")
    assert client.delete(f"/api/projects/{owner.project_id}", headers=intruder.auth).status_code == 404
    deleted = client.delete(f"/api/projects/{owner.project_id}", headers=owner.auth)
    assert deleted.status_code == 202, deleted.text
    job_id = deleted.json()["id"]
    assert deleted.headers["location"] == f"/api/data-jobs/{job_id}"

    mine = client.get(f"/api/data-jobs/{job_id}", headers=owner.auth)
    assert mine.status_code == 200 and mine.json()["projectId"] == owner.project_id
    theirs = client.get(f"/api/data-jobs/{job_id}", headers=intruder.auth)
    missing = client.get("/api/data-jobs/999999999999", headers=intruder.auth)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()  # another user's job looks like no job at all
    assert client.get(f"/api/data-jobs/{job_id}").status_code == 401
    assert client.delete(f"/api/projects/{owner.project_id}", headers=owner.auth).status_code == 404  # gone

    for path in ("/api/data-jobs/abc", "/api/data-jobs/0", "/api/data-jobs/99999999999999999999"):
        assert client.get(path, headers=owner.auth).status_code == 404, path
    for limit in ("0", "201", "many"):
        refused = client.get("/api/data-jobs", headers=owner.auth, params={"limit": limit})
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == "invalid_parameter"
    assert len(client.get("/api/data-jobs", headers=owner.auth, params={"limit": "1"}).json()["jobs"]) == 1

    project, _ = new_project(client, intruder, "Kept")
    refused = client.delete(f"/api/projects/{project}", headers=intruder.auth, params={"client": "<script>"})
    assert refused.status_code == 400 and refused.json()["error"]["fields"].keys() == {"client"}
    assert client.get(f"/api/projects/{project}", headers=intruder.auth).status_code == 200  # not deleted
    for body in ({}, {"password": ""}):
        answer = client.request("DELETE", "/api/me", headers=intruder.auth, json=body)
        assert answer.status_code == 422, answer.text
    assert client.request("DELETE", "/api/me", headers=intruder.auth, content=b"nope").status_code == 400
    assert client.get("/api/me", headers=intruder.auth).status_code == 200


def test_a_large_project_goes_batch_by_batch_each_starting_where_the_last_stopped(
    client: httpx.Client, db: Database, rds: redis.Redis, database_url: str, redis_url: str,
) -> None:
    """Batches of 3 rows: every table is emptied in several batches that follow its index from
    where the last one stopped, across runs of equal keys (7 events share each moment); every row
    goes, each counted once."""
    owner = register(client)
    sent = send_everything(client, owner.write_key)
    wait_until(lambda: db.fetchval("SELECT count(*) FROM events WHERE project_id = $1", owner.project_id) == sent,
               30, "the events to be stored")
    wait_drained(rds)
    before = {t: n for t, n in rows_of(db, owner.project_id).items() if n}
    assert before["events"] == sent > 3 * 3
    # the users service's part, with the job already running here (a fresh heartbeat: no other
    # worker takes it), so that this test's worker, with its small batches, is the one that does it
    job_id = db.fetchval(
        """WITH lock AS (SELECT pg_advisory_xact_lock(tme_ledger_lock())),
                gone AS (DELETE FROM projects WHERE id = $1 AND (SELECT true FROM lock)
                         RETURNING id, created_by, team_id)
           INSERT INTO data_jobs (kind, project_id, owner_id, team_id, requested_by, client, status, attempts,
                                  started_at, heartbeat_at)
           SELECT 'delete_project', id, created_by, team_id, created_by, 'api', 'running', 1, now(), now() FROM gone
           RETURNING id""", owner.project_id)

    async def work() -> None:
        pool = await create_pool(database_url)
        client = create_redis(redis_url)
        try:
            async with pool.acquire() as conn:
                job = await get_job(conn, job_id)
            assert job is not None
            await delete_project(JobContext(pool=pool, job=job, batch_rows=3, batch_pause=0, redis=client))
            async with pool.acquire() as conn:
                await finish_job(conn, job_id)
        finally:
            await client.aclose()
            await pool.close()

    asyncio.run(work())
    assert not any(n for t, n in rows_of(db, owner.project_id).items() if t not in KEPT)
    deleted = db.fetchval("SELECT rows_deleted FROM data_jobs WHERE id = $1", job_id)
    counted = {t: n for t, n in json.loads(deleted).items() if not t.startswith("redis:")}
    # the stack's rollup job may add rollup rows of these events between the count above and the
    # deletion: those are deleted and counted too; every other table holds exactly what was counted
    assert {t: n for t, n in counted.items() if not t.startswith("rollup_")} == {
        t: n for t, n in before.items() if not t.startswith("rollup_")}
    assert all(counted.get(t, 0) >= n for t, n in before.items() if t.startswith("rollup_"))


def test_every_table_with_a_project_id_has_an_index_the_deletion_batches_use(database_url: str) -> None:
    """A batch finds its rows through an index on project_id, in the index's order (a plain or
    bitmap scan would read the whole table, or all the project's rows, once per batch); a table
    added without such an index fails here."""
    async def plans() -> dict[str, tuple[str | None, str]]:
        conn = await asyncpg.connect(database_url)
        try:
            found = {}
            for table in await leaf_tables(conn):
                async with conn.transaction():
                    for setting in INDEX_ONLY:
                        await conn.execute(setting)
                    rows = await conn.fetch(f"EXPLAIN {table.batch(resume=False)}", 1, 5000)
                found[table.leaf] = (table.index, "\n".join(r[0] for r in rows))
            return found
        finally:
            await conn.close()

    found = asyncio.run(plans())
    assert {"events_default", "persons", "rollup_hours"} <= set(found)  # partitions on their own
    assert any(leaf.startswith("event_ids_") for leaf in found)  # the ledger's generation (rotated by other tests)
    for leaf, (index, plan) in found.items():
        assert index is not None and f"Index Scan using {index} on {leaf}" in plan, (leaf, plan)
        assert "Seq Scan" not in plan and "Bitmap" not in plan, (leaf, plan)
