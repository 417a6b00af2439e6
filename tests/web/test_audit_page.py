"""The audit log page in Debian's Chromium against the real stack: a team's owner signs in and
renames the project in the projects page, and the audit log page (opened from the account menu)
shows both, newest first, with who and which client; the action filter keeps one kind; "Load
more" reads the older entries (made by a script through the API). With TME_SCREENSHOTS=1 the page
is saved to docs/screenshots/audit-log.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from schema_check import schema_hooks

from .conftest import new_page, shot
from .test_dashboard import log_in, register

SCRIPT = "nightly-report/2.1 (python-httpx)"
PAGE = 50  # what the page asks for at once


@pytest.fixture
def api(gateway_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, timeout=30, event_hooks=schema_hooks()) as client:
        yield client


def test_a_sign_in_and_a_rename_show_in_the_audit_log(browser: Any, gateway_url: str, api: httpx.Client) -> None:
    email, project, _token = register(api, "audit")
    context, page, errors = new_page(browser)
    log_in(page, gateway_url, "/projects", email, until_there=True)
    page.get_by_role("button", name="Rename").click()
    form = page.get_by_role("form", name=f"Rename {project['name']}")
    form.get_by_label("Name").fill("Storefront")
    form.get_by_role("button", name="Save").click()
    page.get_by_role("link", name="Storefront").click()
    expect(page).to_have_url(re.compile(rf"/projects/{project['id']}/dashboard"))

    page.get_by_role("navigation", name="Account").get_by_role("link", name="Audit log").click()
    expect(page).to_have_url(re.compile(rf"/teams/{project['teamId']}/audit$"))
    expect(page.get_by_role("heading", name="Audit log", level=1)).to_be_visible()
    table = page.get_by_role("table", name="Audit log")
    rows = table.get_by_role("row")
    expect(rows).to_have_count(3)  # the header, the rename, the sign-in (registering is not a sign-in)
    rename, sign_in = rows.nth(1), rows.nth(2)
    expect(rename).to_contain_text("Project updated")
    expect(rename).to_contain_text(email)
    expect(rename).to_contain_text("Storefront")  # the project, by its name now
    expect(rename).to_contain_text("Changed name")
    expect(rename).to_contain_text("Chrome")  # the browser's User-Agent
    expect(sign_in).to_contain_text("Signed in")
    expect(sign_in).to_contain_text(email)
    expect(sign_in).to_contain_text("Chrome")  # the browser's User-Agent
    shot(page, "audit-log")

    page.get_by_label("Action").select_option(label="Signed in")
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("Signed in")
    expect(page.get_by_role("button", name="Load more")).to_have_count(0)
    assert errors == []
    context.close()


def test_load_more_reads_older_entries(browser: Any, gateway_url: str, api: httpx.Client) -> None:
    email, project, token = register(api, "audit")
    for n in range(PAGE + 2):
        answer = api.patch(f"/api/projects/{project['id']}", json={"name": f"Name {n}"},
                           headers={"authorization": f"Bearer {token}", "user-agent": SCRIPT})
        assert answer.status_code == 200, answer.text
    context, page, errors = new_page(browser)
    log_in(page, gateway_url, f"/teams/{project['teamId']}/audit", email, until_there=True)
    rows = page.get_by_role("table", name="Audit log").get_by_role("row")
    expect(rows).to_have_count(PAGE + 1)
    expect(rows.nth(1)).to_contain_text("Signed in")  # the newest
    expect(rows.nth(2)).to_contain_text(SCRIPT)
    page.get_by_role("button", name="Load more").click()
    expect(rows).to_have_count(1 + PAGE + 2 + 1)  # the header, the sign-in and 52 renames
    expect(rows.last).to_contain_text("Project updated")  # the oldest rename
    expect(rows.last).to_contain_text(SCRIPT)
    expect(page.get_by_role("button", name="Load more")).to_have_count(0)
    assert errors == []
    context.close()
