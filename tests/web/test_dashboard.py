"""The dashboard's controls, in Debian's Chromium against the real stack, on a project whose
events went through the real ingest path (three visitors this week on three kinds of device, one
visitor ten days ago, one 45 days ago): a shared link opened while logged out comes back after
login; date presets, the comparison with the previous period, the time zone and the chart's
metric change what is shown and live in the URL; the UTM, browser, OS and device tables; a filter
added and removed with the keyboard; loading and error states with a working "Try again"; every
form control of every page has a label and each page moves focus to its heading."""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import unique_email
from playwright.sync_api import Page, Route, expect

from .conftest import VISITOR_UA, shot, stat

PASSWORD = "a long enough password"
TIMEOUT_MS = 20_000
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Version/17.5 Mobile/15E148 Safari/604.1")
SITE = "https://shop.example"


def page_view(visitor: str, path: str, agent: str, *, days_ago: int = 0, referrer: str = "") -> dict[str, Any]:
    """A page event as tme.js sends it (a timestamp only for the past: now is the server's now)."""
    url = SITE + path
    event: dict[str, Any] = {
        "type": "page", "messageId": str(uuid.uuid4()), "anonymousId": visitor,
        "properties": {"path": path.split("?")[0], "url": url, "referrer": referrer},
        "context": {"userAgent": agent, "page": {"url": url, "path": path.split("?")[0], "referrer": referrer}},
    }
    if days_ago:
        event["timestamp"] = (dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)).isoformat()
    return event


@pytest.fixture
def seeded(gateway_url: str) -> Iterator[dict[str, Any]]:
    """A new account whose project holds the events described in the module's docstring."""
    email = unique_email("dash")
    with httpx.Client(base_url=gateway_url, timeout=30) as api:
        registered = api.post("/api/auth/register", json={"name": "Grace", "email": email, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        project = registered.json()["project"]
        token = registered.json()["accessToken"]
        signup = {"type": "track", "event": "Signup", "messageId": str(uuid.uuid4()), "anonymousId": "a",
                  "properties": {"plan": "pro"}, "context": {"userAgent": FIREFOX_WINDOWS}}
        batch = [
            page_view("a", "/pricing?utm_source=google&utm_medium=cpc&utm_campaign=spring", FIREFOX_WINDOWS),
            signup,
            page_view("b", "/", SAFARI_IPHONE, referrer="https://news.ycombinator.com/item?id=1"),
            page_view("b", "/docs", SAFARI_IPHONE, referrer=SITE + "/"),
            page_view("c", "/", VISITOR_UA),
            page_view("d", "/", VISITOR_UA, days_ago=10),
            page_view("e", "/old", VISITOR_UA, days_ago=45),
        ]
        sent = api.post("/v1/batch", json={"writeKey": project["writeKey"], "batch": batch})
        assert sent.status_code == 200, sent.text
        today = dt.datetime.now(dt.UTC).date()
        query = {"from": str(today - dt.timedelta(days=89)), "to": str(today), "tz": "UTC", "limit": 100}
        deadline = time.monotonic() + 30
        while True:  # wait for the subscriber to store them
            stored = api.get(f"/api/projects/{project['id']}/events", params=query,
                             headers={"authorization": f"Bearer {token}"})
            assert stored.status_code == 200, stored.text
            if len(stored.json()["events"]) == len(batch):
                break
            assert time.monotonic() < deadline, stored.text
            time.sleep(0.2)
    yield {"email": email, "project": project}


def unlabelled_controls(page: Page) -> list[str]:
    """Form controls and buttons a screen reader would announce without a name."""
    return page.evaluate("""() => [...document.querySelectorAll('input, select, textarea, button')]
        .filter((el) => el.type !== 'hidden' && el.getClientRects().length)
        .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                        && !el.getAttribute('aria-labelledby') && !el.title
                        && !(el.tagName === 'BUTTON' && el.textContent.trim()))
        .map((el) => el.outerHTML.slice(0, 120))""")


def heading_has_focus(page: Page, name: str) -> None:
    heading = page.get_by_role("heading", level=1, name=name)
    expect(heading).to_be_focused()


def test_dashboard_controls_states_and_keyboard(browser: Any, gateway_url: str, seeded: dict[str, Any]) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="UTC", locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    app = context.new_page()
    console_errors: list[str] = []
    app.on("console", lambda m: console_errors.append(m.text)
           if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    app.on("pageerror", lambda e: console_errors.append(str(e)))
    pid = seeded["project"]["id"]

    # --- a shared link opened while logged out: log in, then the link's view
    app.goto(f"{gateway_url}/projects/{pid}/dashboard?period=30d&tz=UTC")
    expect(app).to_have_url(re.compile(r"/login\?next="))
    app.get_by_label("Email").fill(seeded["email"])
    app.get_by_label("Password").fill(PASSWORD)
    app.get_by_label("Password").press("Enter")
    expect(app).to_have_url(re.compile(rf"/projects/{pid}/dashboard\?period=30d&tz=UTC$"))
    expect(app.get_by_label("Date range")).to_have_value("30d")
    expect(stat(app, "visitors")).to_have_text("4")  # a, b, c this week and d ten days ago
    expect(stat(app, "pageviews")).to_have_text("5")
    heading_has_focus(app, "Dashboard")  # a page opened in the app: focus on its heading
    app.reload()  # a page loaded afresh: the first Tab stop is the skip link, which leads to the content
    expect(stat(app, "visitors")).to_have_text("4")
    app.keyboard.press("Tab")
    skip = app.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    app.keyboard.press("Enter")
    expect(app.get_by_role("main")).to_be_focused()

    # --- presets and the comparison with the previous period
    app.get_by_label("Date range").select_option("7d")
    expect(app).to_have_url(re.compile(r"period=7d"))
    expect(stat(app, "visitors")).to_have_text("3")
    expect(stat(app, "pageviews")).to_have_text("4")
    cards = app.get_by_test_id("summary")
    # this week 3 visitors and 4 page views; the week before, one visitor with one page view
    expect(cards.get_by_role("button", name=re.compile(r"^Unique visitors"))).to_contain_text("▲ 200%")
    expect(cards.get_by_role("button", name=re.compile(r"^Page views"))).to_contain_text("▲ 300%")
    expect(cards.get_by_role("button", name=re.compile(r"^Page views"))).to_contain_text(
        "compared with the previous period (1)")
    chart = app.locator(".chart")
    expect(chart).to_contain_text("Previous period")  # the dashed line's legend
    shot(app, "dashboard-compare")
    app.get_by_label("Compare to previous period").uncheck()
    expect(app).to_have_url(re.compile(r"compare=0"))
    expect(cards).not_to_contain_text("▲")
    expect(chart).not_to_contain_text("Previous period")
    app.get_by_label("Compare to previous period").check()
    expect(cards).to_contain_text("▲ 300%")
    app.get_by_label("Date range").select_option("90d")
    expect(stat(app, "visitors")).to_have_text("5")
    expect(stat(app, "pageviews")).to_have_text("6")
    app.get_by_label("Date range").select_option("today")
    expect(stat(app, "visitors")).to_have_text("3")
    expect(app.get_by_label("Interval")).to_have_value("hour")

    # --- the chart shows any metric picked from the cards; the choice is in the URL
    with app.expect_request(re.compile(r"/stats/timeseries\?.*metric=pageviews")):
        cards.get_by_role("button", name=re.compile(r"^Page views")).click()
    expect(app).to_have_url(re.compile(r"metric=pageviews"))
    expect(cards.get_by_role("button", name=re.compile(r"^Page views"))).to_have_attribute("aria-pressed", "true")
    expect(app.get_by_role("heading", name="Page views · Today")).to_be_visible()
    with app.expect_request(re.compile(r"/stats/timeseries\?.*metric=sessions.*interval=day")):
        app.get_by_label("Interval").select_option("day")
        cards.get_by_role("button", name=re.compile(r"^Sessions")).click()
    expect(app.get_by_role("heading", name="Sessions · Today")).to_be_visible()

    # --- the time zone: every query is asked in it, and the link keeps it
    with app.expect_request(re.compile(r"/stats/summary\?.*tz=Pacific%2FKiritimati")):
        app.get_by_label("Time zone").select_option("Pacific/Kiritimati")
    expect(app).to_have_url(re.compile(r"tz=Pacific%2FKiritimati"))
    expect(stat(app, "visitors")).to_have_text("3")  # "now" is today in every time zone
    app.get_by_label("Time zone").select_option("UTC")
    app.get_by_label("Date range").select_option("7d")

    # --- breakdowns: sources, UTM parameters, browsers, OS, devices (the tab is in the URL too)
    sources = app.locator(".card").filter(has=app.get_by_role("heading", name="Sources"))
    expect(app.get_by_test_id("breakdown-source").get_by_role("button", name="google")).to_be_visible()
    expect(app.get_by_test_id("breakdown-source").get_by_role("button", name="news.ycombinator.com")).to_be_visible()
    for tab, by, value in (("UTM source", "utmSource", "google"), ("Medium", "utmMedium", "cpc"),
                           ("Campaign", "utmCampaign", "spring"), ("Referrers", "referrer", None)):
        sources.get_by_role("tab", name=tab).click()
        expect(sources.get_by_role("tab", name=tab)).to_have_attribute("aria-selected", "true")
        expect(app).to_have_url(re.compile(rf"sources={by}"))
        if value:
            expect(app.get_by_test_id(f"breakdown-{by}").get_by_role("button", name=value, exact=True)).to_be_visible()
    devices = app.locator(".card").filter(has=app.get_by_role("heading", name="Devices"))
    for tab, by, values in (("Browser", "browser", ("Firefox", "Mobile Safari", "Chrome")),
                            ("OS", "os", ("Windows", "iOS", "Linux")), ("Device", "device", ("mobile", "desktop"))):
        devices.get_by_role("tab", name=tab).click()
        for value in values:
            expect(app.get_by_test_id(f"breakdown-{by}").get_by_role("button", name=value, exact=True)).to_be_visible()
    shot(app, "dashboard-devices")

    # --- a filter added with the keyboard (a row is a button), removed with the keyboard
    devices.get_by_role("tab", name="OS").click()
    ios = app.get_by_test_id("breakdown-os").get_by_role("button", name="iOS", exact=True)
    ios.focus()
    app.keyboard.press("Enter")
    chip = app.get_by_role("list", name="Filters").get_by_role("listitem").filter(has_text="OS is iOS")
    expect(chip).to_be_visible()
    expect(stat(app, "visitors")).to_have_text("1")
    expect(stat(app, "pageviews")).to_have_text("2")
    expect(app.get_by_test_id("breakdown-page").get_by_role("button")).to_have_text(["/", "/docs"], ignore_case=False)
    chip.get_by_role("button", name="Remove filter OS is iOS").focus()
    app.keyboard.press("Enter")
    expect(chip).to_have_count(0)
    expect(stat(app, "visitors")).to_have_text("3")

    # --- loading and error states: a slow summary shows a spinner; a failing table says so and retries
    held: list[Route] = []
    app.route("**/stats/summary?*", lambda route: held.append(route))
    app.route("**/stats/breakdown?*by=os*", lambda route: route.fulfill(
        status=503, content_type="application/json", headers={"retry-after": "1"},
        body='{"error": {"code": "unavailable", "message": "Statistics are busy; try again.", "fields": {}}}'))
    app.reload()
    expect(app.get_by_role("status").filter(has_text="Loading statistics…")).to_be_visible()
    failing = devices.get_by_role("alert")
    expect(failing).to_contain_text("Statistics are busy; try again.")
    expect(app.get_by_test_id("breakdown-page")).to_be_visible()  # the other tables are fine
    app.unroute("**/stats/summary?*")
    for route in held:
        route.continue_()
    expect(stat(app, "visitors")).to_have_text("3")
    app.unroute("**/stats/breakdown?*by=os*")
    failing.get_by_role("button", name="Try again").click()
    expect(app.get_by_test_id("breakdown-os").get_by_role("button", name="iOS", exact=True)).to_be_visible()
    expect(failing).to_have_count(0)

    # --- an events filter that matches nothing says so
    app.get_by_role("navigation", name="Project").get_by_role("link", name="Events").click()
    heading_has_focus(app, "Events")
    app.get_by_role("button", name="+ Filter").click()
    app.get_by_label("Dimension").select_option("page")
    app.get_by_label("Value").fill("/nowhere")
    app.get_by_label("Value").press("Enter")
    expect(app.get_by_text("No events match")).to_be_visible()

    # --- labels and focus on every page
    for section, heading in (("Dashboard", "Dashboard"), ("Funnels", "Funnels"), ("Retention", "Retention"),
                             ("Realtime", "Realtime"), ("Events", "Events"), ("SDK setup", "SDK setup")):
        app.get_by_role("navigation", name="Project").get_by_role("link", name=section).click()
        heading_has_focus(app, heading)
        expect(app.get_by_role("status").filter(has_text=re.compile("Loading|Computing"))).to_have_count(0)
        if section == "Events":
            app.get_by_role("button", name="+ Filter").click()  # the open filter form too
        assert unlabelled_controls(app) == [], section
    for link, heading in (("Projects", "Projects"), ("Profile", "Profile")):
        app.get_by_role("navigation", name="Account").get_by_role("link", name=link).click()
        heading_has_focus(app, heading)
        assert unlabelled_controls(app) == [], link
    app.get_by_role("button", name="Log out").click()
    for path, heading in (("/login", "Log in"), ("/register", "Create your account")):
        app.goto(gateway_url + path)
        expect(app.get_by_role("heading", name=heading)).to_be_visible()
        assert unlabelled_controls(app) == [], path

    assert not console_errors, console_errors
    context.close()
