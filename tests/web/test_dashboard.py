"""The dashboard's controls, in Debian's Chromium against the real stack, on a project whose
events went through the real ingest path (three visitors this week on three kinds of device, one
visitor ten days ago, one 45 days ago): a shared link opened while logged out comes back after
login; date presets, the comparison with the previous period, the time zone and the chart's
metric change what is shown and live in the URL; the UTM, browser, OS and device tables; a filter
added and removed with the keyboard; loading and error states with a working "Try again"; every
form control of every page has a label and each page moves focus to its heading. A second project
fed by the web SDK, a Python backend, an iPhone app and a crawler: the "Sent by" table under friendly
library names (a click filters by the raw name), screen size classes, languages and app versions,
the explorer's sender fields, and the note counting the bot events left out."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from conftest import unique_email
from playwright.sync_api import Page, Route, expect
from schema_check import schema_hooks

from .conftest import TAKE_SCREENSHOTS, VISITOR_UA, new_page, shot, stat

PASSWORD = "a long enough password"
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                 "Version/17.5 Mobile/15E148 Safari/604.1")
SITE = "https://shop.example"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


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


def register(api: httpx.Client, prefix: str) -> tuple[str, dict[str, Any], str]:
    """A new account: its email, its first project and an access token."""
    email = unique_email(prefix)
    registered = api.post("/api/auth/register", json={"name": "Grace", "email": email, "password": PASSWORD})
    assert registered.status_code == 201, registered.text
    return email, registered.json()["project"], registered.json()["accessToken"]


def wait_stored(api: httpx.Client, project_id: int, token: str, count: int) -> None:
    """Wait until the subscriber has stored `count` events of the project (bots included)."""
    today = dt.datetime.now(dt.UTC).date()
    query = {"from": str(today - dt.timedelta(days=89)), "to": str(today), "tz": "UTC", "limit": 100}
    deadline = time.monotonic() + 30
    while True:
        stored = api.get(f"/api/projects/{project_id}/events", params=query,
                         headers={"authorization": f"Bearer {token}"})
        assert stored.status_code == 200, stored.text
        if len(stored.json()["events"]) == count:
            return
        assert time.monotonic() < deadline, stored.text
        time.sleep(0.2)


def log_in(app: Page, gateway_url: str, path: str, email: str, *, until_there: bool = False) -> None:
    """Open `path` signed out: the login page, then (waited for with `until_there`) `path` itself,
    with whatever view the page adds to its query (e.g. `?tz=UTC`, once it knows the time zone)."""
    app.goto(gateway_url + path)
    expect(app).to_have_url(re.compile(r"/login\?next="))
    app.get_by_label("Email").fill(email)
    app.get_by_label("Password").fill(PASSWORD)
    app.get_by_label("Password").press("Enter")
    if until_there:
        expect(app).to_have_url(re.compile(re.escape(path) + r"([?&][^#]*)?$"))


@pytest.fixture
def seeded(gateway_url: str) -> Iterator[dict[str, Any]]:
    """A new account whose project holds the events described in the module's docstring."""
    with httpx.Client(base_url=gateway_url, timeout=30, event_hooks=schema_hooks()) as api:
        email, project, token = register(api, "dash")
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
        wait_stored(api, project["id"], token, len(batch))
    yield {"email": email, "project": project}


def sent_by(library: str | None, event: dict[str, Any], **context: Any) -> dict[str, Any]:
    """An event as a Segment-style library sends it to /v1/batch: `context.library` names it."""
    if library:
        context["library"] = {"name": library, "version": "1.0.0"}
    return {"messageId": str(uuid.uuid4()), **event, "context": context}


@pytest.fixture
def senders(gateway_url: str) -> Iterator[dict[str, Any]]:
    """A project fed this week by our web SDK (two browsers, a desktop and a laptop screen), a Python
    backend (two customers' orders, no person's agent), an iPhone app (app version, German locale)
    and a crawler (two page views with Googlebot's agent on the native endpoint)."""
    with httpx.Client(base_url=gateway_url, timeout=30, event_hooks=schema_hooks()) as api:
        email, project, token = register(api, "senders")
        page = {"type": "page", "properties": {"path": "/", "url": SITE + "/"}}
        batch = [
            sent_by("tme.js", {**page, "anonymousId": "w1"}, userAgent=VISITOR_UA, locale="en-US",
                    screen={"width": 1920, "height": 1080}),
            sent_by("tme.js", {**page, "anonymousId": "w2"}, userAgent=FIREFOX_WINDOWS, locale="en-GB",
                    screen={"width": 1280, "height": 800}),
            sent_by("analytics-python", {"type": "track", "event": "Order Completed", "userId": "u-1",
                                         "properties": {"total": 42}}),
            sent_by("analytics-python", {"type": "track", "event": "Order Completed", "userId": "u-2",
                                         "properties": {"total": 7}}),
            sent_by("analytics-ios", {"type": "track", "event": "Application Opened", "anonymousId": "i1"},
                    os={"name": "iOS", "version": "17.5.1"}, device={"type": "ios", "model": "iPhone15,2"},
                    app={"version": "3.2.1", "build": "321"}, screen={"width": 393, "height": 852}, locale="de_DE"),
        ]
        sent = api.post("/v1/batch", json={"batch": batch}, auth=(project["writeKey"], ""))
        assert sent.status_code == 200 and sent.json()["accepted"] == len(batch), sent.text
        crawl = [{"eventName": "PAGE_VIEW", "page": SITE + path, "anonymousId": "crawler"} for path in ("/", "/docs")]
        bot = api.post("/api/track", json={"batch": crawl}, auth=(project["writeKey"], ""),
                       headers={"user-agent": GOOGLEBOT})
        assert bot.status_code == 200 and bot.json()["accepted"] == len(crawl), bot.text
        wait_stored(api, project["id"], token, len(batch) + len(crawl))
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
    context, app, console_errors = new_page(browser, viewport={"width": 1280, "height": 900})
    pid = seeded["project"]["id"]

    # --- a shared link opened while logged out: log in, then the link's view
    log_in(app, gateway_url, f"/projects/{pid}/dashboard?period=30d&tz=UTC", seeded["email"])
    expect(app).to_have_url(re.compile(rf"/projects/{pid}/dashboard\?period=30d&tz=UTC$"))
    expect(app.get_by_label("Date range")).to_have_value("30d")
    expect(stat(app, "visitors")).to_have_text("4")  # a, b, c this week and d ten days ago
    expect(stat(app, "pageviews")).to_have_text("5")
    expect(app.get_by_test_id("bot-note")).to_have_count(0)  # no bot in this project: no note
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
    # known referrers are grouped under their source's name (services/shared/referrers.py)
    expect(app.get_by_test_id("breakdown-source").get_by_role("button", name="Hacker News")).to_be_visible()
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
                             ("Realtime", "Realtime"), ("Events", "Events"), ("SDK setup", "SDK setup"),
                             ("Settings", "Settings")):
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


def test_sent_by_screens_languages_apps_and_bots_left_out(browser: Any, gateway_url: str,
                                                          senders: dict[str, Any]) -> None:
    """Web, backend and app traffic side by side under friendly names, each a filter by its raw
    library name; the Devices panel's screen, language and app version tabs; the event explorer
    lists who sent an event; a quiet note counts the bot actions the figures leave out."""
    context, app, console_errors = new_page(browser, locale="en-US")
    pid = senders["project"]["id"]
    log_in(app, gateway_url, f"/projects/{pid}/dashboard?period=7d&tz=UTC", senders["email"])

    # --- the figures count people's actions from every sender; the crawler's two are left out, and said so
    expect(stat(app, "visitors")).to_have_text("5")  # w1, w2 (web), u-1, u-2 (backend), i1 (app)
    expect(stat(app, "events")).to_have_text("5")
    expect(stat(app, "pageviews")).to_have_text("2")
    note = app.get_by_test_id("bot-note")
    expect(note).to_contain_text("2 bot events left out")
    expect(note).to_have_attribute("title", re.compile(r"Crawlers, headless browsers and uptime monitors"))
    expect(app.get_by_test_id("summary").get_by_role("button", name=re.compile("bot", re.I))).to_have_count(0)

    # --- "Sent by": friendly names for known libraries, side by side
    sent = app.get_by_test_id("breakdown-library")
    expect(sent.get_by_role("button")).to_have_text(["Segment Python", "Web SDK (tme.js)", "Segment iOS"])
    expect(sent.get_by_role("row", name=re.compile(r"^Segment Python"))).to_contain_text("2")
    python = sent.get_by_role("button", name="Segment Python", exact=True)
    expect(python).to_have_attribute("title", "Filter by Sent by: Segment Python (analytics-python)")
    expect(sent.get_by_role("button", name="Web SDK (tme.js)")).to_have_attribute(
        "title", "Filter by Sent by: Web SDK (tme.js)")  # the name once when the label shows it

    # --- the Devices panel: screen size classes, languages, app versions
    devices = app.locator(".card").filter(has=app.get_by_role("heading", name="Devices"))
    for tab, by, values in (("Screen", "screen", ("Desktop", "Laptop", "Mobile")),
                            ("Language", "locale", ("en-US", "en-GB", "de-DE")),
                            ("App version", "appVersion", ("3.2.1",))):
        devices.get_by_role("tab", name=tab).click()
        expect(app).to_have_url(re.compile(rf"tech={by}"))
        table = app.get_by_test_id(f"breakdown-{by}")
        for value in values:
            expect(table.get_by_role("button", name=value, exact=True)).to_be_visible()
        expect(table.get_by_role("button")).to_have_count(len(values))  # server events have none: no row
    devices.get_by_role("tab", name="Screen").click()
    expect(app.get_by_test_id("breakdown-screen").get_by_role("button", name="Mobile", exact=True)).to_be_visible()
    shot(app, "dashboard-senders")

    # --- on a phone the six tabs and the longer names fit the screen
    phone = context.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(app.url)
    expect(phone.get_by_test_id("bot-note")).to_contain_text("2 bot events left out")
    expect(phone.get_by_test_id("breakdown-library").get_by_role("button", name="Web SDK (tme.js)")).to_be_visible()
    expect(phone.get_by_test_id("breakdown-screen").get_by_role("button", name="Mobile", exact=True)).to_be_visible()
    if TAKE_SCREENSHOTS:
        phone.screenshot(path="/tmp/dashboard-senders-phone.png", full_page=True)  # for a look, not the docs
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the screen
    phone.close()

    # --- a click on a sender filters the whole view by its raw library name
    python.click()
    chip = app.get_by_role("list", name="Filters").get_by_role("listitem").filter(has_text="Sent by is Segment Python")
    expect(chip).to_be_visible()
    expect(chip.locator("strong")).to_have_attribute("title", "analytics-python")
    expect(app).to_have_url(re.compile(r"filters="))
    filters = json.loads(parse_qs(urlsplit(app.url).query)["filters"][0])
    assert filters == [{"field": "library", "op": "eq", "value": "analytics-python"}]
    expect(stat(app, "visitors")).to_have_text("2")
    expect(stat(app, "events")).to_have_text("2")
    expect(stat(app, "pageviews")).to_have_text("0")
    expect(app.get_by_test_id("breakdown-event").get_by_role("button")).to_have_text(["Order Completed"])
    expect(note).to_have_count(0)  # no bot among the backend's events: the note goes

    # --- the event explorer (the filter comes along) lists who sent each event
    app.get_by_role("navigation", name="Project").get_by_role("link", name="Events").click()
    table = app.get_by_test_id("events-table")
    expect(table.get_by_role("row")).to_have_count(3)  # a header and the two orders
    table.get_by_role("button", name=re.compile(r"\d")).first.click()
    details = table.locator(".event-details")
    expect(details).to_contain_text("Sent by")
    expect(details).to_contain_text("Segment Python (analytics-python)")
    # the app's event: its version, language and screen
    app.get_by_role("button", name="Remove filter Sent by is Segment Python").click()
    app.get_by_role("button", name="+ Filter").click()
    app.get_by_label("Dimension").select_option("library")
    app.get_by_label("Value").fill("analytics-ios")
    app.get_by_label("Value").press("Enter")
    expect(app.get_by_role("list", name="Filters")).to_contain_text("Sent by is Segment iOS")
    expect(table.get_by_role("row")).to_have_count(2)
    table.get_by_role("button", name=re.compile(r"\d")).first.click()
    for text in ("Segment iOS (analytics-ios)", "3.2.1", "de-DE", "Mobile"):
        expect(details).to_contain_text(text)

    assert not console_errors, console_errors
    context.close()
