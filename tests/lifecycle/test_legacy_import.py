"""`tme import-legacy` against the original Track My Events' two databases, built on the test
server with the exact DDL of its Prisma migrations and filled with its rows; then, on the real
stack, what its users see: they log in with their old passwords, the dashboard shows their
history (from raw events and from the rollups), pages with the old inline snippet and the old key
keep counting into the same project, and running the import again adds nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from conftest import INTERNAL, Database, unique_email

from services.tracking.rollups.job import run_once
from services.tracking.settings import TrackingSettings

# the original's migrations, verbatim: services/user-service/prisma/migrations/20230218180910_initial
# and services/tracking-service/prisma/migrations/20230219145949_initial (../shared/seed-notes.md)
USERS_DDL = """
CREATE TABLE "User" (
    "id" UUID NOT NULL,
    "name" VARCHAR(256) NOT NULL,
    "email" VARCHAR(256) NOT NULL,
    "password" VARCHAR(256) NOT NULL,
    "apiKey" VARCHAR(16) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3),

    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "AccessToken" (
    "id" SERIAL NOT NULL,
    "token" VARCHAR(24) NOT NULL,
    "userId" UUID NOT NULL,
    "expiresOn" TIMESTAMP(3) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "AccessToken_pkey" PRIMARY KEY ("id")
);
CREATE TABLE "RefreshToken" (
    "id" SERIAL NOT NULL,
    "token" VARCHAR(24) NOT NULL,
    "userId" UUID NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "RefreshToken_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");
CREATE UNIQUE INDEX "AccessToken_token_key" ON "AccessToken"("token");
CREATE UNIQUE INDEX "RefreshToken_token_key" ON "RefreshToken"("token");
ALTER TABLE "AccessToken" ADD CONSTRAINT "AccessToken_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE NO ACTION;
ALTER TABLE "RefreshToken" ADD CONSTRAINT "RefreshToken_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE NO ACTION;
"""  # noqa: E501  (the migration's own lines)

EVENTS_DDL = """
CREATE TABLE "Event" (
    "id" SERIAL NOT NULL,
    "internalUserId" UUID NOT NULL,
    "sessionId" VARCHAR(256) NOT NULL,
    "eventTime" TIMESTAMP(3) NOT NULL,
    "eventName" VARCHAR(256) NOT NULL,
    "page" VARCHAR(512) NOT NULL,
    "referrer" VARCHAR(512),
    "context" JSONB NOT NULL,
    "userId" VARCHAR(256),
    "userAgent" VARCHAR(256),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Event_pkey" PRIMARY KEY ("id")
);
"""

# Password hashes as the original stored them, made once with node's `argon2` package:
#   npm install argon2@0.28.7 && node -e "require('argon2').hash('Old snippet days 1!').then(console.log)"
# (0.28.x is the version the original's user service pinned: it writes m=,t=,p=), and
#   npm install argon2@0.45.1 && node -e "require('argon2').hash('Old snippet days 2!').then(console.log)"
# (a later release writes the same parameters as m=,p=,t=)
OLD_PASSWORD_1 = "Old snippet days 1!"
NODE_ARGON2_028 = "$argon2id$v=19$m=4096,t=3,p=1$8mTLZ38n0rD4ECNPNl2s5Q$4HY/D3eM87an3o+V+VIyYE9St7gzf5c7/tzr3EqHTjg"
OLD_PASSWORD_2 = "Old snippet days 2!"
NODE_ARGON2_045 = "$argon2id$v=19$m=65536,p=4,t=3$cYjs09FxOG8SR1AbbS9wZg$vMOqfRiS2exuf7N2VxSB733en0gf6dHXW8JOkXrZoXU"
TME_PASSWORD = "correct horse battery staple"
OUR_PARAMETERS = "$argon2id$v=19$m=19456,t=2,p=1$"  # services/users/settings.py's defaults

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/110.0.0.0 "
          "Safari/537.36")
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 16_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/16.3 Mobile/15E148 Safari/604.1")


@dataclass
class LegacyUser:
    id: uuid.UUID
    name: str
    email: str
    password_hash: str
    api_key: str


@dataclass
class Original:
    """The original's two databases, and the users in them."""

    users: Database
    events: Database
    grace: LegacyUser  # a new account; hash by argon2 0.28
    ada: LegacyUser  # a new account; hash by argon2 0.45 (parameters in another order)
    alan: LegacyUser  # has a TME account already (another password)
    dup: LegacyUser  # an apiKey Grace's project holds already (the original never made them unique)

    def add_user(self, user: LegacyUser, created: str) -> None:
        self.users.execute("""INSERT INTO "User" ("id", "name", "email", "password", "apiKey", "createdAt")
                              VALUES ($1, $2, $3, $4, $5, $6)""",
                           user.id, user.name, user.email, user.password_hash, user.api_key, naive(created))

    def add_event(self, user: LegacyUser | uuid.UUID, when: str, name: str, page: str, *, session: str = "s-1",
                  user_id: str | None = None, referrer: str | None = None, context: str = "{}",
                  agent: str | None = CHROME) -> int:
        owner = user.id if isinstance(user, LegacyUser) else user
        moment = naive(when)
        return int(self.events.fetchval(
            """INSERT INTO "Event" ("internalUserId", "sessionId", "eventTime", "eventName", "page", "referrer",
                                    "context", "userId", "userAgent", "createdAt")
               VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10)
               RETURNING id""",
            owner, session, moment, name, page, referrer, context, user_id, agent, moment + dt.timedelta(seconds=1)))


def naive(text: str) -> dt.datetime:
    """The original wrote UTC into TIMESTAMP(3) without time zone."""
    return dt.datetime.fromisoformat(text)


def legacy_user(name: str, password_hash: str, api_key: str | None = None) -> LegacyUser:
    return LegacyUser(uuid.uuid4(), name, unique_email(name.lower()), password_hash, api_key or uuid.uuid4().hex[:16])


@pytest.fixture
def original(db: Database, database_url: str) -> Iterator[Original]:
    base = database_url.rsplit("/", 1)[0]
    names = [f"legacy_{part}_{uuid.uuid4().hex[:8]}" for part in ("users", "events")]
    for name in names:
        db.execute(f"CREATE DATABASE {name}")
    users, events = Database(f"{base}/{names[0]}"), Database(f"{base}/{names[1]}")
    users.execute(USERS_DDL)
    events.execute(EVENTS_DDL)
    grace = legacy_user("Grace", NODE_ARGON2_028)
    try:
        yield Original(users, events, grace, legacy_user("Ada", NODE_ARGON2_045), legacy_user("Alan", NODE_ARGON2_028),
                       legacy_user("Dup", NODE_ARGON2_028, api_key=grace.api_key))
    finally:
        for name in names:
            db.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def import_legacy(original: Original, database_url: str, *extra: str) -> str:
    """`tme import-legacy` as an operator runs it; its summary."""
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "import-legacy", "--users-db", original.users.url,
         "--events-db", original.events.url, *extra],
        env={**os.environ, "TME_DATABASE_URL": database_url}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    return client.post("/api/auth/login", json={"email": email, "password": password})


def projects_of(client: httpx.Client, token: str) -> list[dict[str, Any]]:
    response = client.get("/api/projects", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    projects: list[dict[str, Any]] = response.json()["projects"]
    return projects


def wait_until(predicate: Any, what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
    return value


HISTORY = {"from": "2023-03-01", "to": "2023-04-30", "tz": "UTC"}


def test_the_original_accounts_and_history_come_over(client: httpx.Client, db: Database, database_url: str,
                                                      original: Original, rollup_url: str) -> None:
    grace, ada, alan, dup = original.grace, original.ada, original.alan, original.dup
    # Alan already moved to TME by hand, with another password
    registered = client.post("/api/auth/register", json={"name": "Alan T", "email": alan.email,
                                                         "password": TME_PASSWORD})
    assert registered.status_code == 201, registered.text
    for user, created in ((grace, "2023-02-01 09:00:00"), (ada, "2023-02-02 09:00:00"),
                          (alan, "2023-02-03 09:00:00"), (dup, "2023-02-04 09:00:00")):
        original.add_user(user, created)
    temp = "temp:1677664800000123456789"
    first = original.add_event(grace, "2023-03-01 10:00:00", "PAGE_VIEW", "https://grace.example/", user_id=temp,
                               referrer="https://www.google.com/")
    original.add_event(grace, "2023-03-01 10:01:00", "PAGE_VIEW",
                       "https://grace.example/pricing?utm_source=newsletter", user_id=temp,
                       referrer="https://grace.example/")
    original.add_event(alan, "2023-03-02 08:00:00", "PAGE_VIEW", "https://alan.example/", user_id="temp:1")
    signed_up = original.add_event(grace, "2023-03-01 10:02:00", "Signed up", "https://grace.example/pricing",
                                   user_id="grace-customer-1", context='{"plan": "pro"}')
    original.add_event(uuid.uuid4(), "2023-03-03 08:00:00", "PAGE_VIEW", "https://gone.example/")  # no such user
    too_old = original.add_event(grace, "1999-12-31 23:00:00", "PAGE_VIEW", "https://grace.example/")
    phone = original.add_event(grace, "2023-04-15 12:00:00", "PAGE_VIEW", "https://grace.example/docs",
                               session="s-2", user_id="grace-customer-1", agent=IPHONE)
    original.add_event(ada, "2023-04-16 12:00:00", "Clicked", "https://ada.example/", user_id="temp:2",
                       context='{"button": "buy"}')

    summary = import_legacy(original, database_url, "--batch-size", "3")
    assert "accounts: 3 created, 1 added to an existing TME account with the same email, 0 imported before" in summary
    assert "events: 6 stored, 0 imported before, 1 rejected, 1 of no user" in summary
    assert f"Event ids {too_old}" in summary and "eventTime: must be between 2000-01-01" in summary
    assert f"{dup.email}: the old apiKey belongs to another project already" in summary

    # the old passwords work, and are upgraded to our parameters on the first login
    grace_login = login(client, grace.email, OLD_PASSWORD_1)
    assert grace_login.status_code == 200, grace_login.text
    assert grace_login.json()["user"]["name"] == "Grace"
    assert db.fetchval("SELECT password_hash FROM users WHERE email = $1", grace.email).startswith(OUR_PARAMETERS)
    assert login(client, grace.email, OLD_PASSWORD_1).status_code == 200
    assert login(client, ada.email, OLD_PASSWORD_2).status_code == 200
    # an existing account keeps its password and gets the project
    assert login(client, alan.email, OLD_PASSWORD_1).status_code == 401
    alan_login = login(client, alan.email, TME_PASSWORD)
    assert alan_login.status_code == 200
    alan_keys = {p["writeKey"] for p in projects_of(client, alan_login.json()["accessToken"])}
    assert alan.api_key in alan_keys and len(alan_keys) == 2
    dup_login = login(client, dup.email, OLD_PASSWORD_1)
    [dup_project] = projects_of(client, dup_login.json()["accessToken"])
    assert dup_project["writeKey"].startswith("wk_")

    token = grace_login.json()["accessToken"]
    [project] = projects_of(client, token)
    assert project["writeKey"] == grace.api_key and project["name"] == "Grace's project"
    rows = {r["message_id"]: r for r in db.fetch("SELECT * FROM events WHERE project_id = $1", project["id"])}
    assert set(rows) == {f"legacy-{first}", f"legacy-{first + 1}", f"legacy-{signed_up}", f"legacy-{phone}"}
    landing = rows[f"legacy-{first}"]
    assert (landing["type"], landing["path"], landing["anonymous_id"], landing["user_id"], landing["session_id"]) \
        == ("page", "/", temp, None, "s-1")
    assert landing["event_time"] == dt.datetime(2023, 3, 1, 10, tzinfo=dt.UTC)
    assert (landing["referrer_host"], landing["referrer_source"]) == ("www.google.com", "Google")
    assert (landing["browser"], landing["os"], landing["device_type"]) == ("Chrome", "Windows", "desktop")
    assert rows[f"legacy-{first + 1}"]["utm_source"] == "newsletter"
    signup = rows[f"legacy-{signed_up}"]
    assert (signup["type"], signup["event_name"], signup["user_id"]) == ("track", "Signed up", "grace-customer-1")
    assert json.loads(signup["properties"]) == {"plan": "pro"}
    assert rows[f"legacy-{phone}"]["device_type"] == "mobile"
    partitions = {r["name"] for r in db.fetch(
        "SELECT tableoid::regclass::text AS name FROM events WHERE project_id = $1", project["id"])}
    assert partitions == {"events_2023_03", "events_2023_04"}  # never events_default

    # the dashboard's summary of the history: from raw events, and from the rollups
    expected = {"events": 4, "pageviews": 3, "visitors": 2, "sessions": 2}
    answer = client.get(f"/api/projects/{project['id']}/stats/summary", params=HISTORY,
                        headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    assert {k: answer.json()[k]["value"] for k in expected} == expected
    asyncio.run(run_once(TrackingSettings(database_url=database_url), wait=True))
    rolled = httpx.get(f"{rollup_url}/api/projects/{project['id']}/stats/summary", params=HISTORY,
                       headers={"X-TME-Project-Id": str(project["id"]), **INTERNAL}, timeout=30)
    assert rolled.status_code == 200, rolled.text
    assert {k: rolled.json()[k]["value"] for k in expected} == expected

    # a page with the old inline snippet, its old key and the original's path: counted in the same project
    sent = client.post("/api/tracking-service/v1/public/events/", json={
        "apiKey": grace.api_key, "sessionId": "s-3", "userId": temp, "eventTime": int(time.time() * 1000),
        "eventName": "PAGE_VIEW", "page": "https://grace.example/after-the-move", "referrer": "", "context": {}})
    assert sent.status_code == 200, sent.text
    assert sent.json()["accepted"] == 1
    wait_until(lambda: db.fetchval("SELECT count(*) FROM events WHERE project_id = $1 AND path = $2",
                                   project["id"], "/after-the-move"), "the old snippet's event to be stored")

    # a second run adds nothing; events the original stored since are brought over
    again = import_legacy(original, database_url)
    assert "accounts: 0 created, 0 added to an existing TME account with the same email, 4 imported before" in again
    assert "events: 0 stored" in again
    assert db.fetchval("SELECT count(*) FROM events WHERE project_id = $1", project["id"]) == 5
    later = original.add_event(grace, "2023-04-20 12:00:00", "PAGE_VIEW", "https://grace.example/blog",
                               user_id="grace-customer-1")
    assert "events: 1 stored" in import_legacy(original, database_url)
    assert db.fetchval("SELECT count(*) FROM events WHERE project_id = $1 AND message_id = $2",
                       project["id"], f"legacy-{later}") == 1
    assert db.fetchval("SELECT last_event_id FROM legacy_imports WHERE legacy_user_id = $1", grace.id) == later


def test_bad_input_is_refused_with_a_message(database_url: str, original: Original) -> None:
    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "services.cli", "import-legacy", *args],
                              env=env or {**os.environ, "TME_DATABASE_URL": database_url},
                              capture_output=True, text=True, timeout=60)

    missing = run("--users-db", original.users.url)
    assert missing.returncode == 2 and "--events-db" in missing.stderr
    no_database = run("--users-db", original.users.url, "--events-db", original.events.url,
                      env={k: v for k, v in os.environ.items() if k != "TME_DATABASE_URL"})
    assert no_database.returncode == 2 and "TME_DATABASE_URL is not set" in no_database.stderr
    # the databases swapped: the users database has no "Event" table
    swapped = run("--users-db", original.events.url, "--events-db", original.users.url)
    assert swapped.returncode == 1 and 'relation "User" does not exist' in swapped.stderr
