"""`tme import --file FILE --project ID`: Segment/RudderStack NDJSON, plain or gzip, through live
ingest's validation onto the event stream, stored by the subscriber: bad lines are reported with
their line numbers while the good ones are stored, historical times are kept, and running the same
file twice (or handing its lines over twice) stores each event once."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from conftest import Database, unique_email
from ingest.helpers import wait_drained, wait_rows

PASSWORD = "correct horse battery staple"


def new_project(client: httpx.Client) -> int:
    response = client.post("/api/auth/register",
                           json={"name": "Importer", "email": unique_email("import"), "password": PASSWORD})
    assert response.status_code == 201, response.text
    return int(response.json()["project"]["id"])


def tme_import(path: Path, project_id: int, database_url: str, redis_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli", "import", "--file", str(path),
                           "--project", str(project_id)],
                          env={**os.environ, "TME_DATABASE_URL": database_url, "TME_REDIS_URL": redis_url},
                          capture_output=True, text=True, timeout=120)


def imported(path: Path, project_id: int, database_url: str, redis_url: str) -> str:
    done = tme_import(path, project_id, database_url, redis_url)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def rds(redis_url: str) -> Any:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def export_lines(tag: str) -> list[str]:
    """A Segment export (one call per line) with some lines any ingest would refuse."""
    lines: list[Any] = [
        {"type": "track", "event": "Order Completed", "messageId": f"{tag}-1", "userId": "u-1",
         "timestamp": "2024-02-10T12:00:00.000Z", "sentAt": "2024-02-10T12:00:05.000Z",
         "receivedAt": "2024-02-10T12:00:06.000Z", "properties": {"total": 42},
         "context": {"library": {"name": "analytics.js", "version": "4.1.0"}}},
        {"type": "page", "messageId": f"{tag}-2", "anonymousId": "a-1", "name": "Pricing",
         "originalTimestamp": "2024-02-11T08:30:00.000Z",
         "properties": {"url": "https://shop.example/pricing?utm_source=mail", "path": "/pricing"}},
        "this line is not JSON",
        {"type": "track", "messageId": f"{tag}-4", "userId": "u-1", "timestamp": "2024-02-11T09:00:00Z"},
        "",
        {"type": "identify", "messageId": f"{tag}-6", "userId": "u-1", "anonymousId": "a-1",
         "traits": {"plan": "pro"}, "timestamp": "2024-02-11T09:05:00Z"},
        {"type": "track", "event": "No Id", "userId": "u-2", "receivedAt": "2024-02-12T10:00:00.000Z"},
        {"type": "track", "event": "Nobody", "messageId": f"{tag}-8", "timestamp": "2024-02-12T11:00:00Z"},
        {"type": "track", "event": "Nobody Either", "messageId": f"{tag}-9"},
        {"type": "alias", "messageId": f"{tag}-10", "previousId": "a-2", "userId": "u-2",
         "timestamp": "2024-02-12T12:00:00Z"},
    ]
    return [line if isinstance(line, str) else json.dumps(line) for line in lines]


def test_a_plain_export_is_imported_bad_lines_reported_and_twice_stores_once(
        client: httpx.Client, db: Database, database_url: str, redis_url: str, rds: Any, tmp_path: Path) -> None:
    project_id = new_project(client)
    tag = uuid.uuid4().hex[:8]
    path = tmp_path / "segment.ndjson"
    path.write_text("\n".join(export_lines(tag)) + "\n")

    summary = imported(path, project_id, database_url, redis_url)
    assert summary.splitlines()[0] == "5 events accepted, 4 lines rejected"
    assert "1 x invalid_json: the line is not JSON (line 3)" in summary
    assert "1 x validation_error: event: is required (line 4)" in summary
    assert "2 x validation_error: userId: userId or anonymousId is required (lines 8, 9)" in summary

    rows = {r["message_id"]: r for r in wait_rows(db, project_id, 5)}
    content_id = next(m for m in rows if m.startswith("import-"))
    assert set(rows) == {f"{tag}-1", f"{tag}-2", f"{tag}-6", f"{tag}-10", content_id}
    utc = dt.UTC
    # historical times kept: the export's timestamp as it is (its sentAt left out), else
    # originalTimestamp, else receivedAt
    assert rows[f"{tag}-1"]["event_time"] == dt.datetime(2024, 2, 10, 12, tzinfo=utc)
    assert rows[f"{tag}-2"]["event_time"] == dt.datetime(2024, 2, 11, 8, 30, tzinfo=utc)
    assert rows[content_id]["event_time"] == dt.datetime(2024, 2, 12, 10, tzinfo=utc)
    # enriched as live ingest does
    order = rows[f"{tag}-1"]
    assert (order["event_name"], order["user_id"], order["library"]) == ("Order Completed", "u-1", "analytics.js")
    assert json.loads(order["properties"]) == {"total": 42}
    page = rows[f"{tag}-2"]
    assert (page["type"], page["event_name"], page["path"], page["utm_source"]) == ("page", "PAGE_VIEW", "/pricing",
                                                                                   "mail")
    # identify and alias reach the person tables, as through the gateway
    wait_drained(rds)
    assert db.fetchval("SELECT traits->>'plan' FROM persons WHERE project_id = $1 AND visitor_id = 'u-1'",
                       project_id) == "pro"
    assert db.fetchval("SELECT visitor_id FROM person_aliases WHERE project_id = $1 AND alias_id = 'a-2'",
                       project_id) == "u-2"

    again = imported(path, project_id, database_url, redis_url)
    assert again.startswith("already imported: 5 events accepted, 4 lines rejected")
    # with its record gone, the same lines handed over again are stored once (messageIds)
    db.execute("DELETE FROM file_imports WHERE project_id = $1", project_id)
    assert imported(path, project_id, database_url, redis_url).startswith("5 events accepted")
    wait_drained(rds)
    assert db.fetchval("SELECT count(*) FROM events WHERE project_id = $1", project_id) == 5


def test_a_gzip_export_is_imported_and_an_interrupted_run_resumes(
        client: httpx.Client, db: Database, database_url: str, redis_url: str, rds: Any, tmp_path: Path) -> None:
    project_id = new_project(client)
    tag = uuid.uuid4().hex[:8]
    path = tmp_path / "rudderstack.json.gz"  # told apart by its first bytes, not its name
    payload = ("\n".join(export_lines(tag)) + "\n").encode()
    path.write_bytes(gzip.compress(payload))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    # an earlier run handed the first two lines over, then stopped
    db.execute("INSERT INTO file_imports (project_id, file_digest, lines_done, accepted) VALUES ($1, $2, 2, 2)",
               project_id, digest)

    summary = imported(path, project_id, database_url, redis_url)
    assert summary.splitlines()[0] == ("3 events accepted, 4 lines rejected (resumed after line 2; all runs: "
                                       "5 accepted, 4 rejected)")
    wait_rows(db, project_id, 3)
    wait_drained(rds)
    ids = {r["message_id"] for r in db.fetch("SELECT message_id FROM events WHERE project_id = $1", project_id)}
    assert len(ids) == 3 and {m for m in ids if not m.startswith("import-")} == {f"{tag}-6", f"{tag}-10"}
    position = db.fetchrow("SELECT lines_done, finished FROM file_imports WHERE project_id = $1", project_id)
    assert position is not None and tuple(position) == (10, True)


def test_bad_arguments_are_refused_with_a_message(database_url: str, redis_url: str, tmp_path: Path) -> None:
    path = tmp_path / "one.ndjson"
    path.write_text(json.dumps({"type": "track", "event": "E", "userId": "u"}) + "\n")
    missing_project = tme_import(path, 2**62, database_url, redis_url)
    assert missing_project.returncode == 1
    assert f"project {2**62} does not exist" in missing_project.stderr
    missing_file = tme_import(tmp_path / "nowhere.ndjson", 1, database_url, redis_url)
    assert missing_file.returncode == 2 and "no such file" in missing_file.stderr
    not_a_number = subprocess.run([sys.executable, "-m", "services.cli", "import", "--file", str(path),
                                   "--project", "abc"], capture_output=True, text=True, timeout=60)
    assert not_a_number.returncode == 2 and "--project" in not_a_number.stderr
