"""Shared dashboards in Debian's Chromium against the real stack: the project's admin makes a share
link in the project settings with the dashboard's current range, copies its URL (shown once), and
someone logged out opens it: the project's figures, chart and breakdowns, the range and filters
changeable, and nothing to go anywhere else (no link at all, no settings, no write key). Revoked,
the link shows that it no longer exists. A link with a password asks for it first and refuses a
wrong one."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from schema_check import schema_hooks

from .conftest import VISITOR_UA, new_page, shot, stat
from .test_dashboard import FIREFOX_WINDOWS, SAFARI_IPHONE, log_in, page_view, register, wait_stored

SHARE_PASSWORD = "a shared secret"


@pytest.fixture
def shop(gateway_url: str) -> Iterator[dict[str, Any]]:
    """A new account whose project has three visitors this week and one ten days ago."""
    with httpx.Client(base_url=gateway_url, timeout=30, event_hooks=schema_hooks()) as api:
        email, project, token = register(api, "share")
        renamed = api.patch(f"/api/projects/{project['id']}", json={"name": "Shop", "domain": "shop.example"},
                            headers={"authorization": f"Bearer {token}"})
        assert renamed.status_code == 200, renamed.text
        batch = [page_view("a", "/pricing", FIREFOX_WINDOWS), page_view("b", "/", SAFARI_IPHONE),
                 page_view("b", "/docs", SAFARI_IPHONE), page_view("c", "/", VISITOR_UA),
                 page_view("d", "/", VISITOR_UA, days_ago=10)]
        sent = api.post("/v1/batch", json={"writeKey": project["writeKey"], "batch": batch})
        assert sent.status_code == 200, sent.text
        wait_stored(api, project["id"], token, len(batch))
        yield {"email": email, "project": project, "token": token, "api": api}


def nothing_else_reachable(viewer: Page, project: dict[str, Any]) -> None:
    """No link leads anywhere from a shared dashboard, and no write key is on it."""
    expect(viewer.get_by_role("link")).to_have_count(0)
    expect(viewer.get_by_text("Settings")).to_have_count(0)
    expect(viewer.get_by_role("navigation")).to_have_count(0)
    assert project["writeKey"] not in viewer.content()


def test_a_share_link_made_in_the_settings_opens_the_dashboard_logged_out(browser: Any, gateway_url: str,
                                                                          shop: dict[str, Any]) -> None:
    pid = shop["project"]["id"]
    context, owner, errors = new_page(browser)
    log_in(owner, gateway_url, f"/projects/{pid}/dashboard?period=30d&tz=UTC", shop["email"], until_there=True)
    expect(stat(owner, "visitors")).to_have_text("4")
    owner.get_by_role("navigation", name="Project").get_by_role("link", name="Settings").click()
    expect(owner).to_have_url(re.compile(rf"/projects/{pid}/settings\?period=30d&tz=UTC$"))

    links = owner.get_by_test_id("share-links")
    links.get_by_label("Name (optional)").fill("Investors")
    view = links.get_by_label(re.compile(r"^Share with the current range and filters \(Last 30 days\)"))
    expect(view).to_be_checked()
    links.get_by_role("button", name="Create share link").click()
    url = links.get_by_test_id("share-url").locator("code").inner_text()
    assert re.fullmatch(re.escape(gateway_url) + r"/share/tme_share_[A-Za-z0-9_-]+", url), url
    table = links.get_by_role("table", name="Share links")
    expect(table.get_by_role("row")).to_have_count(2)  # the header and the new link
    expect(table).to_contain_text("Investors")
    expect(table).to_contain_text("Never")
    shot(owner, "share-links")

    viewer_context, viewer, viewer_errors = new_page(browser)
    viewer.goto(url)
    expect(viewer.get_by_role("heading", level=1)).to_have_text("Shop")
    expect(viewer.get_by_test_id("shared-label")).to_have_text("shop.example · Shared dashboard, read-only")
    expect(viewer).to_have_url(re.compile(r"period=30d"))  # the view it was shared with
    expect(viewer.get_by_label("Date range")).to_have_value("30d")
    expect(stat(viewer, "visitors")).to_have_text("4")
    expect(stat(viewer, "pageviews")).to_have_text("5")
    expect(viewer.get_by_test_id("breakdown-page")).to_contain_text("/pricing")
    expect(viewer.locator(".chart")).to_be_visible()
    nothing_else_reachable(viewer, shop["project"])

    viewer.get_by_label("Date range").select_option("7d")  # the viewer may change the range...
    expect(stat(viewer, "visitors")).to_have_text("3")
    shot(viewer, "share-page")
    viewer.get_by_test_id("breakdown-page").get_by_role("button", name="/pricing", exact=True).click()
    expect(stat(viewer, "visitors")).to_have_text("1")  # ...and the filters
    expect(viewer.get_by_role("list", name="Filters")).to_contain_text("Page is /pricing")
    viewer.get_by_role("button", name="+ Filter").click()
    dimensions = viewer.get_by_label("Dimension").locator("option").all_inner_texts()
    assert "Page" in dimensions and "User id" not in dimensions and "Custom property…" not in dimensions
    viewer.get_by_role("button", name="Cancel").click()
    nothing_else_reachable(viewer, shop["project"])

    owner.reload()
    expect(table).to_contain_text("Investors")
    expect(table).not_to_contain_text("Never")  # it was opened
    table.get_by_role("button", name="Revoke Investors").click()
    expect(table).to_contain_text("Revoked")
    viewer.reload()
    expect(viewer.get_by_text("This shared dashboard does not exist")).to_be_visible()
    assert errors == [] and [e for e in viewer_errors if "404" not in e] == []
    viewer_context.close()
    context.close()


def test_a_share_link_with_a_password_asks_for_it(browser: Any, gateway_url: str, shop: dict[str, Any]) -> None:
    made = shop["api"].post(f"/api/projects/{shop['project']['id']}/share-links",
                            json={"name": "Board", "password": SHARE_PASSWORD, "params": {"period": "7d"}},
                            headers={"authorization": f"Bearer {shop['token']}"})
    assert made.status_code == 201, made.text
    context, viewer, errors = new_page(browser)
    viewer.goto(made.json()["url"])
    expect(viewer.get_by_role("heading", name="This dashboard is protected")).to_be_visible()
    expect(viewer.get_by_text("Shop")).to_have_count(0)  # nothing of the project before the password
    viewer.get_by_label("Password").fill("not the password " + uuid.uuid4().hex[:6])
    viewer.get_by_role("button", name="Open the dashboard").click()
    expect(viewer.get_by_text("This password is wrong.")).to_be_visible()
    viewer.get_by_label("Password").fill(SHARE_PASSWORD)
    viewer.get_by_role("button", name="Open the dashboard").click()
    expect(viewer.get_by_role("heading", level=1)).to_have_text("Shop")
    expect(viewer.get_by_label("Date range")).to_have_value("7d")
    expect(stat(viewer, "visitors")).to_have_text("3")
    nothing_else_reachable(viewer, shop["project"])
    assert [e for e in errors if "401" not in e] == []
    context.close()
