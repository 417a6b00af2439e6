"""The API keys page in Debian's Chromium against the real stack: a team admin opens it from the
account menu, makes a read key of one project there and copies its secret (shown once, with a
warning); the key reads that project through the gateway and nothing else; rotating it shows a new
secret and the old one is refused; revoking it (after a confirmation) makes the gateway refuse it.
With TME_SCREENSHOTS=1 the page is saved to docs/screenshots/api-keys.png."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from schema_check import schema_hooks

from .conftest import new_page, shot
from .test_dashboard import log_in, register

TODAY = dt.datetime.now(dt.UTC).date()
RANGE = {"from": str(TODAY - dt.timedelta(days=6)), "to": str(TODAY), "tz": "UTC"}


@pytest.fixture
def team(gateway_url: str) -> Iterator[dict[str, Any]]:
    """A new account with two projects in its team: Shop and Blog."""
    with httpx.Client(base_url=gateway_url, timeout=30, event_hooks=schema_hooks()) as api:
        email, shop, token = register(api, "keys")
        auth = {"authorization": f"Bearer {token}"}
        assert api.patch(f"/api/projects/{shop['id']}", json={"name": "Shop"}, headers=auth).status_code == 200
        blog = api.post("/api/projects", json={"name": "Blog"}, headers=auth)
        assert blog.status_code == 201, blog.text
        yield {"email": email, "shop": shop, "blog": blog.json(), "api": api}


def summary(api: httpx.Client, project_id: int, secret: str) -> int:
    answer = api.get(f"/api/projects/{project_id}/stats/summary", params=RANGE,
                     headers={"authorization": f"Bearer {secret}"})
    return answer.status_code


def test_a_read_key_made_in_the_page_works_until_revoked_there(browser: Any, gateway_url: str,
                                                               team: dict[str, Any]) -> None:
    api, shop, blog = team["api"], team["shop"], team["blog"]
    context, page, errors = new_page(browser)
    log_in(page, gateway_url, f"/projects/{shop['id']}/dashboard", team["email"], until_there=True)
    page.get_by_role("navigation", name="Account").get_by_role("link", name="API keys").click()
    expect(page).to_have_url(re.compile(rf"/teams/{shop['teamId']}/api-keys$"))
    expect(page.get_by_role("heading", name="API keys", level=1)).to_be_visible()
    expect(page.get_by_text("No API keys yet")).to_be_visible()

    form = page.get_by_role("form", name="New API key")
    form.get_by_label("Name").fill("Weekly report")
    expect(form.get_by_label("Read the analytics of chosen projects")).to_be_checked()
    form.get_by_label("Shop").check()
    form.get_by_role("button", name="Create API key").click()
    shown = page.get_by_test_id("api-key-secret")
    expect(shown).to_contain_text("it is not shown again")
    expect(shown.get_by_role("button", name="Copy key")).to_be_visible()
    secret = shown.locator("code").inner_text()
    assert re.fullmatch(r"tme_key_[A-Za-z0-9_-]+", secret), secret
    table = page.get_by_role("table", name="API keys")
    expect(table.get_by_role("row")).to_have_count(2)  # the header and the new key
    expect(table).to_contain_text("Weekly report")
    expect(table).to_contain_text("Read: Shop")
    expect(table).to_contain_text("…" + secret[-4:])
    shot(page, "api-keys")

    assert summary(api, shop["id"], secret) == 200
    assert summary(api, blog["id"], secret) == 404
    page.reload()
    expect(page.get_by_test_id("api-key-secret")).to_have_count(0)  # shown once
    assert secret not in page.content()
    expect(table.get_by_role("row").nth(1).get_by_role("cell").nth(4)).not_to_have_text("Never")  # last used: now

    table.get_by_role("button", name="Rotate Weekly report").click()
    rotated = page.get_by_test_id("api-key-secret").locator("code")
    expect(rotated).not_to_have_text(secret)
    new_secret = rotated.inner_text()
    assert summary(api, shop["id"], secret) == 401
    assert summary(api, shop["id"], new_secret) == 200

    table.get_by_role("button", name="Revoke Weekly report").click()
    confirm = page.get_by_role("alertdialog", name="Confirm revoking Weekly report")
    expect(confirm).to_contain_text("stop working at once")
    confirm.get_by_role("button", name="Yes, revoke").click()
    expect(table).to_contain_text("Revoked")
    assert summary(api, shop["id"], new_secret) == 401
    assert errors == []
    context.close()
