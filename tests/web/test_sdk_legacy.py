"""tme.js on a page written for the original Track My Events' inline snippet, in Debian's Chromium:
the page's own calls to `window.__trk.setUserId(id)` and `window.__trk.trackEvent({eventName,
context})` keep working once the snippet is replaced by our script tag (identify and track, the
context as the properties), with the fake TME server of test_sdk_browser.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from .conftest import VISITOR_UA
from .test_sdk_browser import KEY, SITE, START, TME, TmeServer, run

# the page as a site had it, its inline snippet swapped for our script tag (loaded before the
# site's own code calls __trk, as the inline snippet was)
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Old shop</title>
<script src="{tme}/sdk/tme.js" data-write-key="{key}"></script>
</head><body><h1>Old shop</h1>
<script>
  window.__trk.setUserId("customer-7");
  window.__trk.trackEvent({{ eventName: "Signed up", context: {{ plan: "pro" }} }})
    .then(function () {{ window.trackedSignUp = true; }});
</script>
</body></html>"""


@pytest.fixture
def open_old_shop(browser: Any, built_web: Path) -> Iterator[Callable[[], tuple[Page, TmeServer]]]:
    contexts: list[Any] = []
    sdk = (built_web / "sdk" / "tme.js").read_bytes()

    def open_() -> tuple[Page, TmeServer]:
        context = browser.new_context(user_agent=VISITOR_UA)
        context.set_default_timeout(10_000)
        contexts.append(context)
        server = TmeServer()
        html = PAGE.format(tme=TME, key=KEY)
        context.route(f"{SITE}/**", lambda r: r.fulfill(body=html, content_type="text/html"))
        context.route(f"{TME}/sdk/tme.js", lambda r: r.fulfill(body=sdk, content_type="text/javascript"))
        context.route(f"{TME}/v1/batch", server.handle)
        page = context.new_page()
        page.clock.install(time=START)
        page.goto(SITE + "/")
        page.wait_for_function("window.trackedSignUp === true")
        return page, server

    yield open_
    for context in contexts:
        context.close()


def test_the_original_snippets_calls_are_identify_and_track(open_old_shop: Any) -> None:
    page, server = open_old_shop()
    run(page, 1100)
    events = server.events()
    assert [(e["type"], e.get("event"), e.get("userId")) for e in events] == [
        ("page", None, None), ("identify", None, "customer-7"), ("track", "Signed up", "customer-7")]
    assert events[2]["properties"] == {"plan": "pro"}
    assert len({e["anonymousId"] for e in events}) == 1  # the visitor before and after naming is one person

    # the snippet's page view name is a page view; later events keep the user id
    page.evaluate("history.replaceState({}, '', '/account')")  # a new URL: the SDK's own page view
    page.evaluate("window.__trk.trackEvent({ eventName: 'PAGE_VIEW', context: {} })")
    page.evaluate("window.__trk.trackEvent({ eventName: 'Clicked', context: { button: 'buy' } })")
    run(page, 1100)
    later = server.events()[3:]
    assert [(e["type"], e.get("event"), e["properties"].get("path"), e.get("userId")) for e in later] == [
        ("page", None, "/account", "customer-7"), ("page", None, "/account", "customer-7"),
        ("track", "Clicked", None, "customer-7")]
    assert later[2]["properties"] == {"button": "buy"}

    # setUserId(null), as on log-out: the next events are a new anonymous visitor's
    page.evaluate("window.__trk.setUserId(null)")
    page.evaluate("window.__trk.trackEvent({ eventName: 'After logout', context: {} })")
    run(page, 1100)
    last = server.events()[-1]
    assert (last["event"], last.get("userId")) == ("After logout", None)
    assert last["anonymousId"] != events[0]["anonymousId"]
    # a call the original's server would have refused rejects its promise instead of throwing
    assert page.evaluate("window.__trk.trackEvent({}).then(() => 'sent', (e) => e.message)") \
        == "tme.track: an event name is required"
