"""What a newcomer sees and clicks in the first ten minutes (issue 18), in Debian's Chromium
against the real stack: funnel steps typed before a range change survive it, and a misspelt
event is named; retention marks the period still running, hides the empty cohorts before the
first visitor, says when it shows fewer periods than asked and has an empty state; the realtime
feed tells people apart (the demo's visitor ids share a long prefix), is in time order and
agrees with the visitor count beside it; a card whose previous period is empty says "new";
"Today" is not drawn into the hours to come; field errors of the register form are not
repeated in a banner; on a phone the tab bar shows that it scrolls and the project's name
appears once; the API reference draws its lock, says what each route needs and shows a request
example."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from schema_check import schema_hooks

from .conftest import VISITOR_UA, new_page, shot, stat
from .test_dashboard import GOOGLEBOT, PASSWORD, log_in, page_view, register, wait_stored

PREFIX = "eb08649e-6022-4c1d-9a7b-"  # a shared prefix, as the demo's visitor ids have


def ago(**delta: float) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(**delta)).isoformat()


def segment(kind: str, visitor: str, when: str, agent: str = VISITOR_UA, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "messageId": str(uuid.uuid4()), "anonymousId": visitor, "timestamp": when,
            "context": {"userAgent": agent}, **fields}


def send(api: httpx.Client, write_key: str, batch: list[dict[str, Any]]) -> None:
    sent = api.post("/v1/batch", json={"batch": batch}, auth=(write_key, ""))
    assert sent.status_code == 200 and sent.json()["accepted"] == len(batch), sent.text


@pytest.fixture
def this_week(gateway_url: str) -> Iterator[dict[str, Any]]:
    """A new account whose project has only this week's traffic: two visitors today (one signs up),
    one three days ago. Its second project is empty."""
    with httpx.Client(base_url=gateway_url, timeout=30, event_hooks=schema_hooks()) as api:
        email, project, token = register(api, "first")
        batch = [
            page_view("a", "/pricing", VISITOR_UA),
            {"type": "track", "event": "Signup", "messageId": str(uuid.uuid4()), "anonymousId": "a",
             "context": {"userAgent": VISITOR_UA}},
            page_view("b", "/", VISITOR_UA),
            page_view("c", "/", VISITOR_UA, days_ago=3),
        ]
        send(api, project["writeKey"], batch)
        wait_stored(api, project["id"], token, len(batch))
        empty = api.post("/api/projects", json={"name": "Nothing yet"}, headers={"authorization": f"Bearer {token}"})
        assert empty.status_code == 201, empty.text
    yield {"email": email, "project": project, "empty": empty.json()}


def test_funnel_steps_survive_a_range_change_and_a_misspelt_event_is_named(browser: Any, gateway_url: str,
                                                                            this_week: dict[str, Any]) -> None:
    context, app, errors = new_page(browser)
    pid = this_week["project"]["id"]
    log_in(app, gateway_url, f"/projects/{pid}/funnels?period=7d&tz=UTC", this_week["email"])
    step1, step2 = app.get_by_label("Step 1 event"), app.get_by_label("Step 2 event")
    # the placeholder fits its box, and typed text is darker than the placeholder
    fits = step1.evaluate("""(el) => {
        const ctx = document.createElement('canvas').getContext('2d');
        const s = getComputedStyle(el);
        ctx.font = s.font;
        return ctx.measureText(el.placeholder).width
               <= el.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
    }""")
    assert fits, step1.get_attribute("placeholder")
    step1.fill("PAGE_VIEW")
    step2.fill("Signpu")  # misspelt
    typed, placeholder = step1.evaluate(
        "(el) => [getComputedStyle(el).color, getComputedStyle(el, '::placeholder').color]")
    assert typed != placeholder, (typed, placeholder)

    # changing the range before "Show funnel" keeps what was typed
    app.get_by_label("Date range").select_option("30d")
    expect(app).to_have_url(re.compile(r"period=30d"))
    expect(step1).to_have_value("PAGE_VIEW")
    expect(step2).to_have_value("Signpu")
    app.get_by_label("Conversion window").select_option(label="7 days")
    expect(step2).to_have_value("Signpu")

    app.get_by_role("button", name="Show funnel").click()
    unseen = app.get_by_test_id("funnel-unseen")
    expect(unseen).to_contain_text("“Signpu”: no such event in this range")
    result = app.get_by_test_id("funnel-result")
    expect(result.locator("li").nth(1)).to_contain_text("no such event in this range")
    expect(result.locator("li").nth(0)).not_to_contain_text("no such event")

    step2.fill("Signup")
    app.get_by_role("button", name="Show funnel").click()
    expect(result.locator("li").nth(1)).to_contain_text("1 person · 33.3% of step 1")
    expect(unseen).to_have_count(0)
    assert not errors, errors
    context.close()


def test_retention_marks_the_running_period_and_says_what_it_left_out(browser: Any, gateway_url: str,
                                                                      this_week: dict[str, Any]) -> None:
    context, app, errors = new_page(browser)
    pid = this_week["project"]["id"]
    log_in(app, gateway_url, f"/projects/{pid}/retention?period_unit=day&periods=500&tz=UTC", this_week["email"])
    # more periods than the table shows: said, not silently cut
    expect(app.get_by_test_id("periods-note")).to_contain_text("Showing 52 periods")
    expect(app.get_by_test_id("periods-note")).to_contain_text("you asked for 500")
    table = app.get_by_test_id("retention")
    rows = table.locator("tbody tr")
    # 52 daily cohorts asked, but the first visitor came 3 days ago: the empty days before are not rows
    expect(rows).to_have_count(4)
    today = dt.datetime.now(dt.UTC).date()
    expect(rows.first.locator("th")).to_have_text(str(today - dt.timedelta(days=3)))
    expect(rows.first.locator("td").first).to_have_text("1")
    # today is still running: its cells say so, and a legend explains the mark
    expect(rows.last.locator("th")).to_have_text(f"{today} (so far)")
    partial = table.locator("td[data-partial]")
    expect(partial).to_have_count(4)  # today's column of each of the 4 cohorts
    expect(partial.first).to_have_attribute("title", re.compile(r"0 of 1 so far: this day is not over"))
    expect(app.get_by_test_id("retention-legend")).to_contain_text("This day is not over")
    shot(app, "retention")

    # a project without visitors: an empty state, not a grid of zeros
    app.goto(f"{gateway_url}/projects/{this_week['empty']['id']}/retention?tz=UTC")
    expect(app.get_by_text("No one to follow yet")).to_be_visible()
    expect(app.get_by_test_id("retention")).to_have_count(0)
    assert not errors, errors
    context.close()


def test_realtime_feed_tells_people_apart_in_time_order_and_agrees_with_the_count(
        browser: Any, gateway_url: str) -> None:
    with httpx.Client(base_url=gateway_url, timeout=30, event_hooks=schema_hooks()) as api:
        email, project, token = register(api, "live")
        key = project["writeKey"]
        first, second, earlier = (f"{PREFIX}{n:012d}" for n in (1, 2, 3))
        # stored in an order that is not their time order (the latest one last)
        send(api, key, [
            segment("track", earlier, ago(minutes=20), event="Step D"),  # older than the 5-minute window
            segment("page", second, ago(seconds=90), name="Home", properties={"path": "/"}),
            segment("identify", first, ago(seconds=40), traits={"name": "Grace Hopper",
                                                               "createdAt": "2024-03-01T10:00:00Z"}),
        ])
        send(api, key, [segment("track", f"{PREFIX}000000000009", ago(seconds=10), GOOGLEBOT, event="Crawl")])
        send(api, key, [segment("track", first, ago(seconds=20), event="Step B")])
        wait_stored(api, project["id"], token, 5)

    context, app, errors = new_page(browser)
    log_in(app, gateway_url, f"/projects/{project['id']}/realtime?tz=UTC", email)
    feed = app.get_by_test_id("live-feed")
    rows = feed.locator("tbody tr")
    expect(rows).to_have_count(5)
    # newest first, whatever the order they were stored in
    expect(rows.locator("td:nth-child(2)")).to_have_text(["Crawlbot", "Step B", "IDENTIFY", "PAGE_VIEW", "Step D"])
    # people told apart: the end of their ids (the shared prefix says nothing), or the name they gave
    people = rows.get_by_test_id("person-link")
    expect(people).to_have_text(["…00000009", "…00000001", "Grace Hopper", "…00000002", "…00000003"])
    # the count beside the feed: people's actions within 5 minutes (no bot, no identify, not Step D)
    expect(app.get_by_test_id("realtime-visitors")).to_have_text("2")
    counted = feed.locator("tbody tr:not(.outside-count)").get_by_test_id("person-link")
    expect(counted).to_have_text(["…00000001", "…00000002"])
    expect(app.get_by_text("Greyed rows are not in the visitor count")).to_be_visible()
    shot(app, "realtime")

    # the person page shows a date trait as a date, not raw ISO
    people.nth(2).click()
    traits = app.locator(".card").filter(has=app.get_by_role("heading", name="Traits"))
    expect(traits).to_contain_text("Grace Hopper")
    expect(traits).to_contain_text("1 Mar 2024")
    expect(traits).not_to_contain_text("2024-03-01T10:00:00Z")
    assert not errors, errors
    context.close()


def test_a_card_without_a_previous_period_says_new_and_today_stops_at_now(browser: Any, gateway_url: str,
                                                                          this_week: dict[str, Any]) -> None:
    context, app, errors = new_page(browser)
    pid = this_week["project"]["id"]
    log_in(app, gateway_url, f"/projects/{pid}/dashboard?period=7d&tz=UTC", this_week["email"])
    cards = app.get_by_test_id("summary")
    visitors = cards.get_by_role("button", name=re.compile(r"^Unique visitors"))
    expect(stat(app, "visitors")).to_have_text("3")
    expect(visitors).to_contain_text("new")  # the week before had nobody: no five-digit percentage
    expect(visitors).not_to_contain_text("%")
    expect(visitors.locator(".stat-change")).to_have_attribute("title", re.compile("previous period has no data"))

    app.get_by_label("Date range").select_option("today")
    expect(app.get_by_label("Interval")).to_have_value("hour")
    chart = app.locator(".chart")
    expect(chart.locator("canvas")).to_be_visible()
    hour = dt.datetime.now(dt.UTC).hour
    # the hours of today so far (this one included) are drawn, the ones still to come are not (the
    # next hour too if the clock turns meanwhile)
    expect(chart).to_have_attribute("data-drawn", re.compile(rf"^({hour + 1}|{hour + 2})$"))
    expect(app.get_by_role("heading", name="Unique visitors · Today")).to_be_visible()
    assert not errors, errors
    context.close()


def test_register_says_field_errors_beside_the_fields_only(browser: Any, gateway_url: str,
                                                           this_week: dict[str, Any]) -> None:
    context, app, errors = new_page(browser)
    app.goto(f"{gateway_url}/register")
    app.get_by_label("Name").fill("Ada")
    app.get_by_label("Email").fill(this_week["email"])  # already registered
    app.get_by_label("Password", exact=True).fill(PASSWORD)
    app.get_by_label("Confirm password").fill(PASSWORD)
    app.get_by_role("button", name="Create account").click()
    expect(app.get_by_text("is already registered")).to_be_visible()
    expect(app.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    expect(app.get_by_role("alert")).to_have_count(0)  # no banner repeating it in the API's words
    app.get_by_label("Email").fill("not-an-email")
    app.get_by_label("Password", exact=True).fill("short")
    app.get_by_label("Confirm password").fill("short")
    app.get_by_role("button", name="Create account").click()
    expect(app.get_by_label("Password", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(app.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    expect(app.get_by_role("alert")).to_have_count(0)
    assert not errors, errors
    context.close()


def test_on_a_phone_the_tab_bar_shows_it_scrolls_and_the_project_is_named_once(
        browser: Any, gateway_url: str, this_week: dict[str, Any]) -> None:
    context, phone, errors = new_page(browser, viewport={"width": 390, "height": 844})
    pid = this_week["project"]["id"]
    log_in(phone, gateway_url, f"/projects/{pid}/events?tz=UTC", this_week["email"])
    tabs = phone.get_by_role("navigation", name="Project")
    # the open section is scrolled into view
    expect(tabs.get_by_role("link", name="Events")).to_be_in_viewport(ratio=0.95)
    overflow = tabs.evaluate("(el) => el.scrollWidth > el.clientWidth")
    assert overflow, "the tab bar fits: nothing to hint at"
    assert "gradient" in tabs.evaluate("(el) => getComputedStyle(el).backgroundImage")  # the scroll shade
    # the project picker names the project; the account button beside it shows an initial, not a
    # second name (a user and a project both called "Demo" read "Demo Demo ▾")
    expect(phone.get_by_label("Current project")).to_have_value(str(pid))
    menu = phone.get_by_role("button", name=re.compile(r"^Account menu"))
    expect(menu).to_have_text("G ▾")
    # labels wrap between words, never inside one
    phone.get_by_role("navigation", name="Project").get_by_role("link", name="Dashboard").click()
    row = phone.get_by_test_id("breakdown-page").get_by_role("button").first
    assert row.evaluate("(el) => [getComputedStyle(el).wordBreak, getComputedStyle(el).overflowWrap]") == [
        "normal", "anywhere"]
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert not errors, errors
    context.close()


def test_the_api_reference_draws_its_lock_says_what_each_route_needs_and_shows_examples(
        browser: Any, gateway_url: str) -> None:
    context, page, errors = new_page(browser)
    page.goto(f"{gateway_url}/api/docs")
    track = page.locator("details#trackNative")
    expect(track.locator("summary .lock")).to_have_text("write key")  # not "public": it needs a write key
    expect(track.locator("summary .lock svg")).to_have_count(1)  # drawn, not an emoji a font may lack
    segment_track = page.locator("details#segmentTrack")
    expect(segment_track.locator("summary .lock")).to_have_text("write key")  # not "writeKeyBasic or"
    expect(page.locator("details#register summary .lock")).to_have_text("public")
    expect(page.locator("details#statsSummary summary .lock")).to_have_text("access token")
    assert "🔒" not in page.locator("body").inner_text()

    track.locator("summary").click()
    expect(track).to_contain_text("Authentication (any one of)")
    expect(track).to_contain_text("writeKey or apiKey in the body")
    example = track.locator("pre.curl")
    expect(example).to_contain_text(f"curl '{gateway_url}/api/track'")
    expect(example).to_contain_text('"eventName":"Signed Up"')
    summary = page.locator("details#statsSummary")
    summary.locator("summary").click()
    expect(summary.locator("pre.curl")).to_contain_text("-G")
    expect(summary.locator("pre.curl")).to_contain_text("Authorization: Bearer tme_at_...")
    expect(summary.locator("pre.curl")).to_contain_text("--data-urlencode 'from=2026-01-05'")
    funnel = page.locator("details#funnel")
    funnel.locator("summary").click()
    expect(funnel.locator("pre.curl")).to_contain_text('"event":"Viewed Pricing"')
    assert not errors, errors
    context.close()
