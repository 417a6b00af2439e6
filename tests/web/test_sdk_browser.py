"""tme.js in Debian's Chromium, as a site embeds it, with Playwright's fake clock and the network
answered by the test (a shop at https://shop.test loads the script from https://tme.test, the
"TME server", whose /v1/batch answers what each test says): the host events go to, queued calls
made before the script loaded, batching, retry with backoff after a 503 and a network error with
the same messageIds, 30-minute sessions, SPA page views with back/forward, opt-out, reset and the
Do-Not-Track option. No stack needed: the real server side is the browser flow's job."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Route

from .conftest import VISITOR_UA

SITE = "https://shop.test"
TME = "https://tme.test"
KEY = "wk_browser_test"
MINUTE_MS = 60_000
START = 1_790_000_000_000  # a fixed wall-clock start (ms) for the fake clock

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script>window.tme = window.tme || []; tme.push(["track", "Queued early", {{ n: 1 }}]);</script>
<script defer src="{tme}/sdk/tme.js" data-write-key="{key}"{attrs}></script>
</head><body><h1>Shop</h1></body></html>"""


@dataclass
class TmeServer:
    """What the fake TME server received, and how it answers the next requests ("ok", "503", "drop")."""

    answers: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)

    def handle(self, route: Route) -> None:
        body = json.loads(route.request.post_data or "{}")
        self.requests.append(body)
        answer = self.answers.pop(0) if self.answers else "ok"
        self.outcomes.append(answer)
        cors = {"access-control-allow-origin": "*", "access-control-expose-headers": "Retry-After"}  # as ingest
        if answer == "drop":
            route.abort("connectionreset")
        elif answer == "503":
            route.fulfill(status=503, headers={**cors, "retry-after": "3"}, content_type="application/json",
                          body='{"error": {"code": "overloaded", "message": "Busy.", "fields": {}}}')
        else:
            route.fulfill(status=200, headers=cors, content_type="application/json", body='{"success": true}')

    def events(self) -> list[dict[str, Any]]:
        return [event for body in self.requests for event in body["batch"]]

    def names(self) -> list[str]:
        return [e.get("event") or e["type"] + ":" + e.get("properties", {}).get("path", "") for e in self.events()]


@pytest.fixture
def open_shop(browser: Any, built_web: Path) -> Iterator[Callable[..., tuple[Page, TmeServer]]]:
    contexts: list[Any] = []
    sdk = (built_web / "sdk" / "tme.js").read_bytes()

    def open_(attrs: str = "", init_script: str | None = None, answers: list[str] | None = None,
              path: str = "/") -> tuple[Page, TmeServer]:
        context = browser.new_context(user_agent=VISITOR_UA)
        context.set_default_timeout(10_000)
        contexts.append(context)
        if init_script:
            context.add_init_script(init_script)
        server = TmeServer(answers=list(answers or []))
        html = PAGE.format(tme=TME, key=KEY, attrs=attrs)
        context.route(f"{SITE}/**", lambda r: r.fulfill(body=html, content_type="text/html"))
        context.route(f"{TME}/sdk/tme.js", lambda r: r.fulfill(body=sdk, content_type="text/javascript"))
        context.route(f"{TME}/v1/batch", server.handle)
        page = context.new_page()
        page.clock.install(time=START)
        page.goto(SITE + path)
        page.wait_for_function("window.tme && !Array.isArray(window.tme)")
        return page, server

    yield open_
    for context in contexts:
        context.close()


def run(page: Page, ms: int) -> None:
    """Let `ms` of fake time pass (timers fire), then let the page's requests reach the test."""
    page.clock.run_for(ms)
    page.evaluate("new Promise((resolve) => setTimeout(resolve, 0))")
    page.wait_for_timeout(50)  # real time for the route handlers to run (a wait, not an assertion)


def test_script_tag_sends_to_its_own_host_in_batches(open_shop: Any) -> None:
    page, server = open_shop()
    for i in range(25):
        page.evaluate("(i) => tme.track('Click', { i })", i)
    run(page, 0)
    # page view + the early queued call + 18 clicks = 20 at once; the other 7 after the 1-second wait
    assert [len(body["batch"]) for body in server.requests] == [20]
    run(page, 1100)
    assert [len(body["batch"]) for body in server.requests] == [20, 7]
    first = server.requests[0]
    assert first["writeKey"] == KEY
    assert server.names()[:3] == ["page:/", "Queued early", "Click"]
    assert server.events()[1]["properties"] == {"n": 1}
    assert [e["properties"]["i"] for e in server.events()[2:]] == list(range(25))
    assert len({e["messageId"] for e in server.events()}) == 27
    assert {e["anonymousId"] for e in server.events()} == {page.evaluate("tme.getAnonymousId()")}
    assert page.context.cookies() == []  # no cookies, ever


def test_retries_a_503_and_a_network_error_with_the_same_message_ids(open_shop: Any) -> None:
    page, server = open_shop(answers=["503", "drop", "ok"])
    run(page, 1100)  # first try: 503 with Retry-After: 3
    assert server.outcomes == ["503"]
    page.evaluate("tme.track('During backoff')")
    run(page, 2000)  # the server said 3 seconds: not yet
    assert server.outcomes == ["503"]
    run(page, 1100)  # second try: the connection drops
    assert server.outcomes == ["503", "drop"]
    run(page, 1400)  # the next backoff is 2 s ± 25 %: not yet
    assert server.outcomes == ["503", "drop"]
    run(page, 1200)
    assert server.outcomes == ["503", "drop", "ok"]
    first_ids = [e["messageId"] for e in server.requests[0]["batch"]]
    last_ids = [e["messageId"] for e in server.requests[2]["batch"]]
    assert last_ids[: len(first_ids)] == first_ids  # a resend, stored once thanks to messageId
    assert [e.get("event") for e in server.requests[2]["batch"]][-1] == "During backoff"
    run(page, 5000)
    assert len(server.requests) == 3  # delivered: nothing more


def test_sessions_renew_after_30_minutes_and_spa_page_views(open_shop: Any) -> None:
    page, server = open_shop()
    first = page.evaluate("tme.getSessionId()")
    page.clock.fast_forward(29 * MINUTE_MS)
    page.evaluate("tme.track('Still here')")
    assert page.evaluate("tme.getSessionId()") == first
    page.clock.fast_forward(31 * MINUTE_MS)
    page.evaluate("tme.track('Back after lunch')")
    second = page.evaluate("tme.getSessionId()")
    assert second != first
    # single-page-app navigation: pushState and back/forward are page views, a same-URL replaceState is not
    page.evaluate("history.pushState({}, '', '/pricing')")
    page.evaluate("history.replaceState({ tab: 2 }, '', '/pricing')")
    page.evaluate("history.pushState({}, '', '/pricing?plan=pro')")
    page.go_back()
    page.wait_for_url(SITE + "/pricing")
    run(page, 1100)
    assert [(e.get("event") or "page:" + e["properties"]["path"] + e["properties"]["search"], e["sessionId"])
            for e in server.events()] == [
        ("page:/", first), ("Queued early", first), ("Still here", first), ("Back after lunch", second),
        ("page:/pricing", second), ("page:/pricing?plan=pro", second), ("page:/pricing", second)]


def test_opt_out_reset_and_do_not_track(open_shop: Any) -> None:
    page, server = open_shop()
    anonymous = page.evaluate("tme.getAnonymousId()")
    page.evaluate("tme.reset()")
    page.evaluate("tme.track('After reset')")
    run(page, 1100)
    after_reset = server.events()[-1]
    assert after_reset["event"] == "After reset" and after_reset["anonymousId"] != anonymous
    page.evaluate("tme.optOut()")
    page.evaluate("tme.track('Opted out')")
    page.reload()  # remembered: not even the automatic page view
    page.wait_for_function("window.tme && !Array.isArray(window.tme)")
    page.evaluate("tme.track('Still opted out')")
    run(page, 5000)
    assert "Opted out" not in server.names() and "Still opted out" not in server.names()
    assert page.evaluate("tme.isOptedOut()") is True

    dnt = "Object.defineProperty(Navigator.prototype, 'doNotTrack', { get: () => '1' });"
    # the site asks to respect Do-Not-Track: nothing is sent and no id is stored
    page, server = open_shop(attrs=" data-respect-dnt", init_script=dnt)
    page.evaluate("tme.track('Signup')")
    run(page, 5000)
    assert server.requests == []
    assert page.evaluate("Object.keys(localStorage).filter((k) => k.startsWith('tme.'))") == []
    # without the attribute, Do-Not-Track alone does not stop the site's own analytics
    page, server = open_shop(init_script=dnt)
    run(page, 1100)
    assert server.names() == ["page:/", "Queued early"]
