"""`tme demo` against the real stack: the ingest path and the bulk path store the same rows for
the same seed, and the analytics API answers sensibly about them (counts, funnel, retention,
breakdowns). Runs the real command line, as a user (or the benchmark) would."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Database
from schema_check import schema_hooks

from services.shared.stream import STORED_FIELDS

EVENTS = 3000
DAYS = 21
SEED = 424242
END = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).replace(microsecond=0)
# every column of an event, and the visitor id derived from it (not when and where a row was stored)
COMPARED = ", ".join(["visitor_id", *(f.column for f in STORED_FIELDS)])


@dataclass
class Loaded:
    project_id: int
    write_key: str
    email: str
    password: str
    output: str


def tme_demo(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TME_")}
    result = subprocess.run([sys.executable, "-m", "services.cli", "demo", "--quiet", *args], env=env,
                            capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def demo_line(output: str) -> dict[str, Any]:
    last = output.strip().splitlines()[-1]
    assert last.startswith("DEMO "), output
    return dict(json.loads(last[5:]))


def load(via: str, gateway_url: str, database_url: str, *extra: str) -> Loaded:
    result = tme_demo("--events", str(EVENTS), "--days", str(DAYS), "--seed", str(SEED), "--end", END.isoformat(),
                      "--via", via, "--gateway-url", gateway_url, "--database-url", database_url, *extra)
    info = demo_line(result.stdout)
    return Loaded(info["projectId"], info["writeKey"], info["email"], info["password"], result.stdout)


def wait_for_rows(db: Database, project_id: int, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while db.fetchval("SELECT count(*) FROM events WHERE project_id = $1", project_id) < count:
        assert time.monotonic() < deadline, "the subscriber did not store every demo event in time"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def ingested(gateway_url: str, database_url: str, db: Database) -> Loaded:
    loaded = load("ingest", gateway_url, database_url)
    wait_for_rows(db, loaded.project_id, EVENTS)
    return loaded


@pytest.fixture(scope="module")
def bulk(gateway_url: str, database_url: str) -> Loaded:
    return load("bulk", gateway_url, database_url)


def stored_rows(db: Database, project_id: int) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in db.fetch(f"SELECT {COMPARED} FROM events WHERE project_id = $1 ORDER BY message_id",
                                       project_id)]


def test_ingest_and_bulk_store_the_same_rows(ingested: Loaded, bulk: Loaded, db: Database) -> None:
    assert ingested.project_id != bulk.project_id
    via_ingest, via_bulk = stored_rows(db, ingested.project_id), stored_rows(db, bulk.project_id)
    assert len(via_ingest) == len(via_bulk) == EVENTS
    assert via_ingest == via_bulk
    people = "SELECT visitor_id, traits, first_seen, last_seen FROM persons WHERE project_id = $1 ORDER BY 1"
    persons = [tuple(r) for r in db.fetch(people, bulk.project_id)]
    assert persons and persons == [tuple(r) for r in db.fetch(people, ingested.project_id)]
    aliases = "SELECT alias_id, visitor_id FROM person_aliases WHERE project_id = $1 ORDER BY 1"
    assert [tuple(r) for r in db.fetch(aliases, bulk.project_id)] == \
        [tuple(r) for r in db.fetch(aliases, ingested.project_id)]
    ledger = "SELECT count(*) FROM event_ids WHERE project_id = $1"
    assert db.fetchval(ledger, bulk.project_id) == db.fetchval(ledger, ingested.project_id) == EVENTS


def test_the_range_ends_at_end_and_spans_the_days(bulk: Loaded, db: Database) -> None:
    first, last = db.fetch("SELECT min(event_time), max(event_time) FROM events WHERE project_id = $1",
                           bulk.project_id)[0]
    assert END - dt.timedelta(days=DAYS) <= first < END - dt.timedelta(days=DAYS - 1)
    assert END - dt.timedelta(hours=3) < last < END


class Api:
    def __init__(self, gateway_url: str, loaded: Loaded) -> None:
        self.http = httpx.Client(base_url=gateway_url, timeout=30, event_hooks=schema_hooks())
        login = self.http.post("/api/auth/login", json={"email": loaded.email, "password": loaded.password})
        assert login.status_code == 200, login.text
        self.http.headers["Authorization"] = f"Bearer {login.json()['accessToken']}"
        self.base = f"/api/projects/{loaded.project_id}"
        self.range = {"from": (END - dt.timedelta(days=DAYS)).date().isoformat(), "to": END.date().isoformat()}

    def get(self, section: str, **params: Any) -> Any:
        response = self.http.get(f"{self.base}/{section}", params={**self.range, **params})
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, section: str, body: dict[str, Any]) -> Any:
        response = self.http.post(f"{self.base}/{section}", json={**self.range, **body})
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def api(gateway_url: str, bulk: Loaded) -> Api:
    return Api(gateway_url, bulk)


def test_summary_counts_every_event_but_identify_calls_and_bots(api: Api, bulk: Loaded, db: Database) -> None:
    identifies = db.fetchval("SELECT count(*) FROM events WHERE project_id = $1 AND type = 'identify'",
                             bulk.project_id)
    bots = db.fetchval("SELECT count(*) FROM events WHERE project_id = $1 AND is_bot", bulk.project_id)
    assert identifies > 0 and 0 < bots < EVENTS * 0.1
    summary = api.get("stats/summary")
    assert summary["events"]["value"] == EVENTS - identifies - bots
    assert 0 < summary["visitors"]["value"] < summary["sessions"]["value"] < summary["pageviews"]["value"]
    assert 0.1 < summary["bounceRate"]["value"] < 0.7
    assert summary["avgSessionDuration"]["value"] > 10


def test_the_funnel_converts_partially_step_by_step(api: Api) -> None:
    steps = api.post("funnels", {"steps": [{"event": e} for e in
                                           ("Viewed Pricing", "Started Signup", "Signed Up", "Created Project")],
                                 "windowSeconds": 7 * 86400})["steps"]
    users = [s["users"] for s in steps]
    assert all(u > 0 for u in users), users
    assert users == sorted(users, reverse=True) and users[-1] < users[0], users


def test_visitors_come_back_in_later_weeks(api: Api) -> None:
    cohorts = api.get("retention", period="week", periods=3)["cohorts"]
    assert any(len(c["returning"]) > 1 and c["returning"][1] > 0 for c in cohorts), cohorts


def test_breakdowns_have_several_browsers_sources_and_campaigns(api: Api) -> None:
    def values(by: str) -> set[Any]:
        return {row["value"] for row in api.get("stats/breakdown", by=by, limit=50)["rows"]}

    assert {"Chrome", "Safari", "Firefox", "Mobile Safari", "Edge"} <= values("browser")
    assert {"Windows", "Mac OS X", "iOS", "Android"} <= values("os")
    assert {"desktop", "mobile"} <= values("device")
    assert {"www.google.com", "news.ycombinator.com", "github.com", "t.co"} <= values("referrer")
    assert {"newsletter", "google"} <= values("utmSource")
    assert {"/", "/pricing", "/signup", "/docs/getting-started"} <= values("page")


def test_the_same_seed_twice_into_one_project_is_refused(bulk: Loaded, gateway_url: str, database_url: str) -> None:
    again = tme_demo("--events", str(EVENTS), "--days", str(DAYS), "--seed", str(SEED), "--end", END.isoformat(),
                     "--via", "bulk", "--database-url", database_url, "--gateway-url", gateway_url,
                     "--project-id", str(bulk.project_id), check=False)
    assert again.returncode == 1
    assert "already holds events of this seed" in again.stderr


def test_credentials_are_generated_saved_privately_and_reused(gateway_url: str, tmp_path: Path) -> None:
    saved = tmp_path / "demo-credentials.json"
    first = demo_line(tme_demo("--events", "0", "--gateway-url", gateway_url, "--credentials", str(saved)).stdout)
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    data = json.loads(saved.read_text())
    assert data["email"] == first["email"] and data["password"] == first["password"]
    assert len(first["password"]) >= 16
    again = demo_line(tme_demo("--events", "0", "--gateway-url", gateway_url, "--credentials", str(saved)).stdout)
    assert (again["email"], again["projectId"], again["writeKey"]) == \
        (first["email"], first["projectId"], first["writeKey"])
    other = demo_line(tme_demo("--events", "0", "--gateway-url", gateway_url,
                               "--credentials", str(tmp_path / "other.json")).stdout)
    assert other["password"] != first["password"]


def test_without_a_stack_it_says_so(tmp_path: Path) -> None:
    from services.shared.embedded import free_port

    result = tme_demo("--events", "10", "--gateway-url", f"http://127.0.0.1:{free_port()}", check=False)
    assert result.returncode == 1
    assert "gateway" in result.stderr and "Traceback" not in result.stderr


def test_tme_dev_offers_a_demo_project_once(stack: Any, db: Database, tmp_path: Path) -> None:
    from services.demo.dev import DemoOffer

    lines: list[str] = []
    offer = DemoOffer(data_dir=tmp_path, gateway_url=stack.gateway_url, database_url=stack.database_url,
                      env=stack.base_env(), sink=lambda name, line: lines.append(line), live=False, events=500, days=7)
    offer.start()
    offer._thread.join(60)
    saved = json.loads((tmp_path / "demo-credentials.json").read_text())
    assert db.fetchval("SELECT count(*) FROM events WHERE project_id = $1", saved["projectId"]) == 500
    # the login comes last, in a box: its URL, email and password each on a line of their own
    assert lines[-1].startswith("└") and lines[-1].endswith("┘"), lines
    box = lines[lines.index(next(line for line in lines if line.startswith("┌"))):]
    assert len({len(line) for line in box}) == 1, box  # a closed frame
    for value in (stack.gateway_url, saved["email"], saved["password"]):
        assert any(value in line for line in box), box
    offer.stop()
    again = DemoOffer(data_dir=tmp_path, gateway_url=stack.gateway_url, database_url=stack.database_url,
                      env=stack.base_env(), sink=lambda name, line: lines.append(line), live=False)
    lines.clear()
    again.start()
    again.stop()
    assert db.fetchval("SELECT count(*) FROM events WHERE project_id = $1", saved["projectId"]) == 500
    assert any(saved["password"] in line for line in lines) and lines[-1].startswith("└"), lines


def test_the_live_traffic_follows_the_history_volume_and_daily_shape() -> None:
    """`tme demo --live` sends, hour by hour, what the history it continues has in such an hour:
    a day of it is about the history's last day (not ~170,000 events, as 2 events/s were), and
    the nights are quieter than the afternoons."""
    from services.demo.command import DEMO_DAYS
    from services.demo.generator import Generator, Plan
    from services.demo.live import history_events_between, window_events

    end = int(dt.datetime(2026, 3, 11, 0, 0, tzinfo=dt.UTC).timestamp() * 1000)  # a Wednesday
    history = Plan(20_000, DEMO_DAYS, 7, end)
    last_day = sum(1 for chunk in Generator(history).chunks() for e in chunk
                   if e["timestamp"] >= end - 86_400_000)
    hours = [history_events_between(20_000, DEMO_DAYS, end + h * 3_600_000, 3600) for h in range(24)]
    assert 0.8 * last_day < sum(hours) < 1.25 * last_day, (sum(hours), last_day)
    assert max(hours[2:5]) < min(hours[13:17]) / 3  # 02:00-05:00 UTC against the afternoon
    rng = random.Random(1)
    sent = [window_events(rng, 0.25) for _ in range(4000)]
    assert set(sent) == {0, 1} and 900 < sum(sent) < 1100  # rounded at random: the mean is kept
