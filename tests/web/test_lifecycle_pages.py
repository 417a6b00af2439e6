"""The dashboard's data-lifecycle pages, in Debian's Chromium against the real stack: a project's
settings page keeps the retention chosen (after a reload, in the database), exports the project's
events and deletes the project once its name is typed, then follows the deletion job until it is
done while the project is gone from every list; a person's page downloads their data and erases
them, following the erasure job, and leaves the other visitors' events alone; the profile page
deletes the account, refusing a wrong password with the API's message, then logs out. Each step
checks what the API and the database hold afterwards. With TME_SCREENSHOTS=1 the project settings
page is saved to docs/screenshots/project-settings.png."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Database, unique_email
from playwright.sync_api import expect
from schema_check import schema_hooks

from .conftest import VISITOR_UA, new_page, shot
from .test_dashboard import PASSWORD, log_in

JOB_DONE_MS = 60_000  # the data job worker takes a job within seconds; a slow CI machine gets a minute


class Sql:
    """The test database, queried from a thread of its own: Playwright's sync API keeps an asyncio
    loop running in the test's thread, where the Database helper's asyncio.run cannot start one."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def fetchval(self, query: str, *args: Any) -> Any:
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(self.db.fetchval, query, *args).result()


@pytest.fixture
def sql(db: Database) -> Sql:
    return Sql(db)


@pytest.fixture
def api(gateway_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, timeout=30, event_hooks=schema_hooks()) as client:
        yield client


class Account:
    """A new account made through the API: its email, first project and access token."""

    def __init__(self, api: httpx.Client, prefix: str) -> None:
        self.email = unique_email(prefix)
        registered = api.post("/api/auth/register", json={"name": "Grace", "email": self.email, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        self.project: dict[str, Any] = registered.json()["project"]
        self.token: str = registered.json()["accessToken"]
        self.headers = {"authorization": f"Bearer {self.token}"}


def send(api: httpx.Client, write_key: str, batch: list[dict[str, Any]]) -> None:
    """Events through the real ingest path (Segment's batch call, the write key as Basic user)."""
    for event in batch:
        event.setdefault("messageId", str(uuid.uuid4()))
        event.setdefault("context", {"userAgent": VISITOR_UA})
    sent = api.post("/v1/batch", auth=(write_key, ""), json={"batch": batch})
    assert sent.status_code == 200, sent.text


def wait_stored(sql: Sql, project_id: int, count: int) -> None:
    """Wait until the subscriber has stored `count` events of the project."""
    deadline = time.monotonic() + 30
    while (stored := sql.fetchval("SELECT count(*) FROM events WHERE project_id = $1", project_id)) != count:
        assert time.monotonic() < deadline, f"{stored} of {count} events stored"
        time.sleep(0.2)


def page_views(visitor: str, paths: list[str], user_id: str | None = None) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = [{"type": "page", "anonymousId": visitor, "properties": {"path": path}}
                                    for path in paths]
    if user_id:
        for event in events:
            event["userId"] = user_id
    return events


def test_retention_is_chosen_saved_and_kept_after_a_reload(browser: Any, gateway_url: str, api: httpx.Client,
                                                           sql: Sql) -> None:
    account = Account(api, "retention")
    pid = account.project["id"]
    context, app, errors = new_page(browser)
    log_in(app, gateway_url, f"/projects/{pid}/settings", account.email, until_there=True)
    expect(app.get_by_role("heading", name="Settings")).to_be_visible()
    retention = app.get_by_label("Keep events for")
    expect(retention).to_have_value("forever")  # a new project keeps its events forever
    expect(app.get_by_text("Events older than this are deleted daily")).to_be_visible()
    save = app.get_by_role("button", name="Save retention")
    expect(save).to_be_disabled()  # nothing changed yet
    retention.select_option(label="90 days")
    save.click()
    expect(app.get_by_role("status").filter(has_text="Saved")).to_have_text(
        "Saved: events older than 90 days are deleted daily.")
    assert sql.fetchval("SELECT retention_days FROM projects WHERE id = $1", pid) == 90

    app.reload()
    expect(app.get_by_label("Keep events for")).to_have_value("90")
    answer = api.get(f"/api/projects/{pid}", headers=account.headers)
    assert answer.status_code == 200 and answer.json()["retentionDays"] == 90
    # the deletion's confirmation, open beside the retention kept
    app.get_by_role("button", name="Delete project…").click()
    app.get_by_label("Type the project's name to confirm").fill("Grace's")
    shot(app, "project-settings")
    app.get_by_role("alertdialog", name="Confirm deletion").get_by_role("button", name="Cancel").click()

    app.get_by_label("Keep events for").select_option(label="Forever")
    app.get_by_role("button", name="Save retention").click()
    expect(app.get_by_role("status").filter(has_text="Saved")).to_have_text("Saved: events are kept forever.")
    assert sql.fetchval("SELECT retention_days FROM projects WHERE id = $1", pid) is None

    # the settings are one of the project's sections, beside its reports
    app.get_by_role("navigation", name="Project").get_by_role("link", name="Dashboard").click()
    app.get_by_role("navigation", name="Project").get_by_role("link", name="Settings").click()
    expect(app.get_by_label("Keep events for")).to_have_value("forever")
    assert errors == [], errors
    context.close()


def test_export_then_delete_a_project_and_follow_its_job(browser: Any, gateway_url: str, api: httpx.Client,
                                                          sql: Sql) -> None:
    account = Account(api, "delete-project")
    kept = api.post("/api/projects", json={"name": "Kept site"}, headers=account.headers).json()
    doomed = api.post("/api/projects", json={"name": "Old shop"}, headers=account.headers).json()
    send(api, doomed["writeKey"], page_views("anon-1", ["/", "/pricing", "/checkout"]))
    send(api, kept["writeKey"], page_views("anon-2", ["/"]))
    wait_stored(sql, doomed["id"], 3)
    wait_stored(sql, kept["id"], 1)

    context, app, errors = new_page(browser, accept_downloads=True)
    log_in(app, gateway_url, f"/projects/{doomed['id']}/settings", account.email, until_there=True)

    # --- export: the project's events as NDJSON and CSV files
    with app.expect_download() as ndjson:
        app.get_by_role("button", name="Download NDJSON").click()
    lines = Path(ndjson.value.path()).read_text().splitlines()
    paths = {json.loads(line)["properties"]["path"] for line in lines}  # Segment-shaped, one event a line
    assert len(lines) == 3 and paths == {"/", "/pricing", "/checkout"}
    with app.expect_download() as csv:
        app.get_by_role("button", name="Download CSV").click()
    rows = Path(csv.value.path()).read_text().splitlines()
    assert len(rows) == 4 and any("/pricing" in row for row in rows[1:])  # a header, then one row per event

    # --- delete: confirmed by typing the project's name
    app.get_by_role("button", name="Delete project…").click()
    confirm = app.get_by_role("alertdialog", name="Confirm deletion")
    expect(confirm).to_contain_text("This cannot be undone")
    typed = confirm.get_by_label("Type the project's name to confirm")
    yes = confirm.get_by_role("button", name="Yes, delete it")
    typed.fill("Old")
    expect(yes).to_be_disabled()
    typed.fill("Old shop")
    yes.click()

    # the projects page follows the deletion job; the project is already gone from the lists
    expect(app).to_have_url(re.compile(r"/projects$"))
    expect(app.locator(".project-row").filter(has_text="Old shop")).to_have_count(0)
    expect(app.locator(".project-row").filter(has_text="Kept site")).to_have_count(1)
    expect(app.get_by_label("Current project").locator("option", has_text="Old shop")).to_have_count(0)
    progress = app.get_by_test_id("job-progress")
    expect(progress).to_contain_text("“Old shop” is gone from your projects")
    expect(progress.get_by_role("status")).to_contain_text("Done", timeout=JOB_DONE_MS)
    expect(progress).to_contain_text(re.compile(r"[1-9][\d,]* rows deleted"))
    job_row = app.get_by_test_id("data-jobs").get_by_role("row").filter(has_text="Project deletion")
    expect(job_row).to_contain_text("Done", timeout=JOB_DONE_MS)
    expect(job_row).to_contain_text("(deleted)")

    assert sql.fetchval("SELECT status FROM data_jobs WHERE kind = 'delete_project' AND project_id = $1",
                       doomed["id"]) == "done"
    assert sql.fetchval("SELECT count(*) FROM events WHERE project_id = $1", doomed["id"]) == 0
    assert sql.fetchval("SELECT count(*) FROM events WHERE project_id = $1", kept["id"]) == 1
    assert api.get(f"/api/projects/{doomed['id']}", headers=account.headers).status_code == 404
    # the page of the deleted project says so
    app.goto(f"{gateway_url}/projects/{doomed['id']}/settings")
    expect(app.get_by_text("Project not found")).to_be_visible()
    assert errors == [], errors
    context.close()


def test_a_person_downloads_their_data_then_is_erased_and_the_others_stay(browser: Any, gateway_url: str,
                                                                         api: httpx.Client, sql: Sql) -> None:
    account = Account(api, "erase-person")
    pid, key = account.project["id"], account.project["writeKey"]
    send(api, key, [
        *page_views("anon-ada", ["/", "/pricing"]),
        {"type": "identify", "anonymousId": "anon-ada", "userId": "ada", "traits": {"email": "ada@example.com"}},
        {"type": "track", "anonymousId": "anon-ada", "userId": "ada", "event": "Signup"},
        *page_views("anon-bob", ["/", "/docs"]),
    ])
    wait_stored(sql, pid, 6)
    bob_before = sql.fetchval("SELECT count(*) FROM events WHERE project_id = $1 AND anonymous_id = 'anon-bob'", pid)

    context, app, errors = new_page(browser, accept_downloads=True)
    log_in(app, gateway_url, f"/projects/{pid}/persons/ada", account.email, until_there=True)
    expect(app.get_by_test_id("person-ids")).to_contain_text("anon-ada")

    # --- the subject access request: everything about them, as JSON
    with app.expect_download() as download:
        app.get_by_role("button", name="Download this person's data").click()
    data = json.loads(Path(download.value.path()).read_text())
    assert "ada@example.com" in json.dumps(data) and "Signup" in json.dumps(data)

    # --- the erasure, asked and confirmed in the page, then followed as a job
    app.get_by_role("button", name="Erase this person…").click()
    confirm = app.get_by_role("alertdialog", name="Confirm erasure")
    expect(confirm).to_contain_text("Everyone else's numbers stay as they are")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_have_count(0)
    app.get_by_role("button", name="Erase this person…").click()
    app.get_by_role("button", name="Yes, erase this person").click()
    progress = app.get_by_test_id("job-progress")
    expect(progress.get_by_role("status")).to_contain_text("Done", timeout=JOB_DONE_MS)
    expect(progress).to_contain_text(re.compile(r"[1-9][\d,]* rows deleted"))
    expect(app.get_by_text("This person is erased")).to_be_visible()

    ids = ["ada", "anon-ada"]
    assert sql.fetchval("SELECT count(*) FROM events WHERE project_id = $1 AND (user_id = ANY($2::text[]) "
                       "OR anonymous_id = ANY($2::text[]))", pid, ids) == 0
    assert sql.fetchval("SELECT count(*) FROM persons WHERE project_id = $1 AND visitor_id = ANY($2::text[])",
                       pid, ids) == 0
    assert sql.fetchval("SELECT count(*) FROM events WHERE project_id = $1 AND anonymous_id = 'anon-bob'",
                       pid) == bob_before == 2
    assert api.get(f"/api/projects/{pid}/persons/ada", headers=account.headers).status_code == 404

    # the project's settings list the erasure among its data jobs
    app.get_by_role("navigation", name="Project").get_by_role("link", name="Settings").click()
    erasure = app.get_by_test_id("data-jobs").get_by_role("row").filter(has_text="Person erasure")
    expect(erasure).to_contain_text("Done")
    assert errors == [], errors
    context.close()


def test_deleting_the_account_asks_the_password_then_logs_out(browser: Any, gateway_url: str, api: httpx.Client,
                                                              sql: Sql) -> None:
    account = Account(api, "delete-account")
    pid = account.project["id"]
    send(api, account.project["writeKey"], page_views("anon-1", ["/"]))
    wait_stored(sql, pid, 1)
    user_id = sql.fetchval("SELECT id FROM users WHERE email = $1", account.email)

    context, app, errors = new_page(browser)
    log_in(app, gateway_url, "/profile", account.email, until_there=True)
    expect(app.get_by_text("Deletes your account and its project")).to_be_visible()
    app.get_by_role("button", name="Delete account…").click()
    confirm = app.get_by_role("alertdialog", name="Confirm account deletion")
    confirm.get_by_label("Your password").fill("not my password")
    confirm.get_by_role("button", name="Delete my account").click()
    # the API's own words, beside the field or above the buttons
    expect(confirm.locator(".field-error, .error-box")).to_contain_text(re.compile("incorrect", re.I))
    expect(app).to_have_url(re.compile(r"/profile$"))
    assert sql.fetchval("SELECT count(*) FROM users WHERE id = $1", user_id) == 1

    confirm.get_by_label("Your password").fill(PASSWORD)
    confirm.get_by_role("button", name="Delete my account").click()
    expect(app.get_by_role("heading", name="Log in")).to_be_visible()
    expect(app).to_have_url(re.compile(r"/login$"))
    expect(app.get_by_role("status")).to_contain_text("Your account is deleted")
    assert sql.fetchval("SELECT count(*) FROM users WHERE id = $1", user_id) == 0
    assert sql.fetchval("SELECT count(*) FROM data_jobs WHERE kind = 'delete_project' AND project_id = $1", pid) == 1

    # the old credentials no longer sign in
    app.get_by_label("Email").fill(account.email)
    app.get_by_label("Password").fill(PASSWORD)
    app.get_by_role("button", name="Log in").click()
    expect(app.get_by_role("alert")).to_contain_text("Email or password is incorrect")
    assert errors == [], errors
    context.close()

