"""The product as a person uses it, in Debian's Chromium against the real stack (real gateway,
users, tracking and subscriber processes, PostgreSQL and Redis).

A new user registers and lands on the SDK setup page, which waits for a first event. A separate
web site (another origin, served by this test) embeds the script tag exactly as the setup page
shows it; a visitor browses it, navigates in-app (pushState, a replaceState to the same URL),
sends a custom event, identifies, and leaves (sendBeacon). The setup page turns to "received";
the dashboard shows those page views, the custom event and the page breakdown; clicking a page
adds a filter; funnels, the explorer, the person view, realtime and the CSV export show the
events. With TME_SCREENSHOTS=1 the screenshots of each main page in docs/screenshots/ are
regenerated (`TME_SCREENSHOTS=1 .venv/bin/pytest tests/web`); a normal run leaves them alone."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import unique_email
from playwright.sync_api import expect
from schema_check import schema_hooks

from .conftest import TIMEOUT_MS, VISITOR_UA, shot, stat

PASSWORD = "a long enough password"
NEW_PASSWORD = "an even longer password"

SHOP_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo shop</title>
{snippet}
</head><body>
<h1 id="title">Demo shop</h1>
<nav><a href="/shop/pricing" data-spa>Pricing</a> · <a href="/shop/checkout" data-spa>Checkout</a></nav>
<button id="signup">Sign up</button>
<button id="same-url">Save filters (replaceState, same URL)</button>
<button id="login">Log in</button>
<script>
document.addEventListener("click", function (e) {{
  var a = e.target.closest("a[data-spa]");
  if (!a) return;
  e.preventDefault();
  history.pushState({{}}, "", a.getAttribute("href"));
  document.title = "Demo shop · " + a.textContent;
  document.getElementById("title").textContent = a.textContent;
}});
document.getElementById("signup").onclick = function () {{ tme.track("Signup", {{ plan: "pro" }}); }};
document.getElementById("same-url").onclick = function () {{
  history.replaceState({{ saved: 1 }}, "", location.pathname);
}};
document.getElementById("login").onclick = function () {{ tme.identify("user-42", {{ email: "ada@example.com" }}); }};
</script>
</body></html>"""


# Records each navigator.sendBeacon call (the browser's own, still called) in localStorage, which
# outlives the page: Playwright does not report beacons sent while a page goes away.
BEACON_SPY = """(() => {
  const send = navigator.sendBeacon.bind(navigator);
  navigator.sendBeacon = (url, data) => {
    const ok = send(url, data);
    const seen = JSON.parse(localStorage.getItem("test.beacons") || "[]");
    seen.push({ ok, names: JSON.parse(data).batch.map((e) => e.event || e.type) });
    localStorage.setItem("test.beacons", JSON.stringify(seen));
    return ok;
  };
})();"""


class ShopSite:
    """A customer's web site on its own origin: every path answers the shop page with the snippet."""

    def __init__(self) -> None:
        self.snippet = ""
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                page = "<!doctype html><title>No SDK here</title>" if self.path == "/plain" else SHOP_HTML
                body = page.format(snippet=site.snippet).encode()
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def shop() -> Iterator[ShopSite]:
    site = ShopSite()
    yield site
    site.close()


def test_register_track_and_explore_in_a_real_browser(browser: Any, gateway_url: str, shop: ShopSite,
                                                      tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, timezone_id="Europe/Paris",
                                  locale="en-GB", accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    dialogs: list[str] = []  # confirmations are in the page: the browser's confirm() is never used
    context.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    app = context.new_page()
    failed_requests: list[str] = []
    app.on("response", lambda r: failed_requests.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    console_errors: list[str] = []  # CSP violations, React errors... (not the 4xx this test provokes)
    app.on("console", lambda m: console_errors.append(m.text)
           if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    app.on("pageerror", lambda e: console_errors.append(str(e)))

    # --- register: lands on the setup page, waiting for a first event
    app.goto(f"{gateway_url}/register")
    expect(app.get_by_role("heading", name="Create your account")).to_be_visible()
    app.get_by_label("Name").fill("Ada")
    email = unique_email("web")
    app.get_by_label("Email").fill(email)
    app.get_by_label("Password", exact=True).fill(PASSWORD)
    app.get_by_label("Confirm password").fill(PASSWORD)
    shot(app, "register")
    app.get_by_role("button", name="Create account").click()
    expect(app).to_have_url(re.compile(r"/projects/\d+/setup$"))
    project_id = int(re.search(r"/projects/(\d+)/", app.url).group(1))  # type: ignore[union-attr]
    live = app.get_by_test_id("live-check")
    expect(live).to_contain_text("Waiting for your first event")
    write_key = app.get_by_test_id("write-key").inner_text()
    assert write_key.startswith("wk_")
    snippet = app.get_by_label("Script tag").inner_text()
    assert snippet == f'<script defer src="{gateway_url}/sdk/tme.js" data-write-key="{write_key}"></script>'
    npm = app.get_by_label("npm usage").inner_text()
    assert 'import { init } from "tme-js"' in npm
    assert f'init({{ writeKey: "{write_key}", host: "{gateway_url}" }})' in npm
    curl = app.get_by_label("curl").inner_text()  # the Segment-compatible HTTP API, write key as Basic user
    assert f"{gateway_url}/v1/track" in curl and f"-u '{write_key}:'" in curl
    expect(app.get_by_text(f"{gateway_url}/v1/", exact=True)).to_be_visible()
    shot(app, "setup-waiting")

    # --- a visitor on the customer's site (another origin), with the snippet exactly as shown
    shop.snippet = snippet
    visitor_ctx = browser.new_context(user_agent=VISITOR_UA, viewport={"width": 1200, "height": 800})
    visitor_ctx.set_default_timeout(TIMEOUT_MS)
    visitor_ctx.add_init_script(BEACON_SPY)
    visitor = visitor_ctx.new_page()
    batches: list[Any] = []
    visitor_ctx.on("request", lambda r: batches.append(r) if r.url == f"{gateway_url}/v1/batch" else None)
    visitor.goto(f"{shop.url}/shop/?utm_source=newsletter")
    visitor.wait_for_function("window.tme && typeof window.tme.track === 'function'")
    assert visitor.evaluate("['track', 'identify', 'page', 'reset'].every((m) => typeof tme[m] === 'function')")
    visitor.get_by_role("link", name="Pricing").click()
    visitor.get_by_role("button", name="Save filters (replaceState, same URL)").click()  # no extra page view
    visitor.get_by_role("button", name="Sign up").click()
    visitor.get_by_role("link", name="Checkout").click()
    with visitor.expect_response(f"{gateway_url}/v1/batch") as sent:
        visitor.evaluate("tme.flush()")
    assert sent.value.status == 200 and sent.value.json()["success"] is True
    body = batches[0].post_data_json
    assert body["writeKey"] == write_key
    first = body["batch"][0]
    assert first["type"] == "page" and first["properties"]["path"] == "/shop/"
    assert first["context"]["library"]["name"] == "tme.js" and first["anonymousId"] and first["messageId"]
    anonymous_id = visitor.evaluate("tme.getAnonymousId()")
    # identify links the anonymous id to the user; the last events leave by sendBeacon on page hide
    visitor.get_by_role("button", name="Log in").click()
    visitor.evaluate("tme.track('Purchase', { amount: 49 })")
    visitor.goto("about:blank")  # leaving the page (pagehide): the queue goes out by sendBeacon
    visitor.goto(f"{shop.url}/plain")  # same origin, no SDK: read what the beacon spy recorded
    beacons = visitor.evaluate("JSON.parse(localStorage.getItem('test.beacons') || '[]')")
    assert beacons == [{"ok": True, "names": ["identify", "Purchase"]}], beacons
    assert visitor_ctx.cookies() == []  # the anonymous id lives in localStorage: no cookie at all
    assert visitor.evaluate("localStorage.getItem('tme.aid')") == anonymous_id
    visitor.close()

    # --- the setup page notices the first event
    expect(live).to_contain_text("Received", timeout=30_000)
    shot(app, "setup-received")

    # --- dashboard: page views, the custom event, the page breakdown
    app.get_by_role("link", name="Open the dashboard →").click()
    expect(app).to_have_url(re.compile(rf"/projects/{project_id}/dashboard\?.*tz=Europe%2FParis"))
    expect(stat(app, "pageviews")).to_have_text("3", timeout=30_000)
    pages = app.get_by_test_id("breakdown-page")
    for path in ("/shop/", "/shop/pricing", "/shop/checkout"):
        expect(pages.get_by_role("button", name=path, exact=True)).to_be_visible()
    events_table = app.get_by_test_id("breakdown-event")
    expect(events_table.get_by_role("row", name=re.compile(r"^PAGE_VIEW\b"))).to_contain_text("3")
    expect(events_table.get_by_role("button", name="Signup", exact=True)).to_be_visible()
    expect(events_table.get_by_role("button", name="Purchase", exact=True)).to_be_visible(timeout=30_000)
    expect(app.get_by_test_id("breakdown-source").get_by_role("button", name="newsletter")).to_be_visible()
    expect(app.locator(".chart canvas")).to_be_visible()
    app.get_by_role("button", name="plan", exact=True).click()  # a custom property seen in the events
    expect(app.get_by_test_id("breakdown-prop:plan").get_by_role("button", name="pro", exact=True)).to_be_visible()
    shot(app, "dashboard")

    # the access token lives in memory only: a reload signs in again silently with the refresh token;
    # and an access token refused with a 401 (expired) is refreshed once and the request retried
    refused: list[str] = []

    def expire_once(route: Any) -> None:
        if refused:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.fulfill(status=401, content_type="application/json",
                          body='{"error": {"code": "unauthorized", "message": "Token expired.", "fields": {}}}')

    refreshes: list[str] = []
    app.on("request", lambda r: refreshes.append(r.url) if r.url.endswith("/api/auth/refresh") else None)
    app.route("**/stats/summary?*", expire_once)
    app.reload()
    expect(stat(app, "pageviews")).to_have_text("3")
    assert len(refused) == 1
    assert len(refreshes) == 2, refreshes  # one on start, one after the 401
    app.unroute("**/stats/summary?*")

    # --- clicking a row filters the whole view; the state is in the URL
    pages.get_by_role("button", name="/shop/pricing", exact=True).click()
    chip = app.get_by_role("listitem").filter(has_text="Page is /shop/pricing")
    expect(chip).to_be_visible()
    expect(stat(app, "pageviews")).to_have_text("1")
    assert "filters=" in app.url
    filtered_url = app.url
    shot(app, "dashboard-filtered")
    # the link alone reproduces the view in a new tab
    again = context.new_page()
    again.goto(filtered_url)
    expect(again.get_by_role("listitem").filter(has_text="Page is /shop/pricing")).to_be_visible()
    expect(stat(again, "pageviews")).to_have_text("1")
    again.close()
    chip.get_by_role("button").click()
    expect(stat(app, "pageviews")).to_have_text("3")
    # a filter typed by hand, and a custom date range (today only), both kept in the URL
    app.get_by_role("button", name="+ Filter").click()
    app.get_by_label("Dimension").select_option("event")
    app.get_by_label("Value").fill("Signup")
    app.get_by_role("button", name="Add", exact=True).click()
    expect(app.get_by_role("listitem").filter(has_text="Event is Signup")).to_be_visible()
    expect(stat(app, "events")).to_have_text("1")
    expect(stat(app, "pageviews")).to_have_text("0")
    app.get_by_role("listitem").filter(has_text="Event is Signup").get_by_role("button").click()
    app.get_by_label("Date range").select_option("custom")
    expect(app).to_have_url(re.compile(r"period=custom"))
    today = app.get_by_label("To", exact=True).input_value()
    app.get_by_label("From", exact=True).fill(today)
    expect(app).to_have_url(re.compile(rf"from={today}&to={today}|to={today}.*from={today}|from={today}"))
    expect(stat(app, "pageviews")).to_have_text("3")
    app.get_by_label("Date range").select_option("7d")

    # --- funnels
    app.get_by_role("navigation", name="Project").get_by_role("link", name="Funnels").click()
    app.get_by_label("Step 1 event").fill("PAGE_VIEW")
    app.get_by_label("Step 2 event").fill("Signup")
    app.get_by_role("button", name="Show funnel").click()
    result = app.get_by_test_id("funnel-result")
    expect(result.locator("li").nth(0)).to_contain_text("1 person")
    expect(result.locator("li").nth(1)).to_contain_text("Signup")
    expect(result.locator("li").nth(1)).to_contain_text("1 person · 100.0% of step 1")
    shot(app, "funnels")

    # --- event explorer, CSV export, person view
    app.get_by_role("navigation", name="Project").get_by_role("link", name="Events").click()
    table = app.get_by_test_id("events-table")
    expect(table.get_by_text("Purchase", exact=True)).to_be_visible()
    expect(table.get_by_text("Signup", exact=True)).to_be_visible()
    expect(table.get_by_text("PAGE_VIEW", exact=True)).to_have_count(3)
    table.get_by_role("row").filter(has_text="Signup").get_by_role("button").click()  # expand its details
    expect(table.locator(".event-details")).to_contain_text('"plan": "pro"')
    expect(table.locator(".event-details")).to_contain_text("Sent byWeb SDK (tme.js)")  # the SDK names itself
    shot(app, "events")
    with app.expect_download() as download:
        app.get_by_role("button", name="Export CSV").click()
    csv_text = Path(download.value.path()).read_text()
    assert csv_text.splitlines()[0].startswith("messageId,")
    assert "Signup" in csv_text and "Purchase" in csv_text and "/shop/pricing" in csv_text
    table.get_by_role("link", name="user-42").first.click()
    expect(app.get_by_test_id("person-ids")).to_contain_text("user-42")
    expect(app.get_by_test_id("person-ids")).to_contain_text(anonymous_id)  # identify linked the ids
    expect(app.get_by_text("ada@example.com")).to_be_visible()
    expect(app.get_by_test_id("person-events").get_by_text("Signup", exact=True)).to_be_visible()
    shot(app, "person")

    # --- realtime: the live feed (SSE over fetch with the Authorization header) shows a new event
    app.get_by_role("navigation", name="Project").get_by_role("link", name="Realtime").click()
    expect(app.get_by_role("status").filter(has_text="connected")).to_be_visible()
    expect(app.get_by_test_id("realtime-visitors")).not_to_have_text("0")
    with httpx.Client(base_url=gateway_url, timeout=10, event_hooks=schema_hooks()) as client:
        sent_live = client.post("/v1/track", auth=(write_key, ""), headers={"user-agent": VISITOR_UA},
                                json={"anonymousId": "live-visitor", "event": "Live demo"})
        assert sent_live.status_code == 200
    expect(app.get_by_test_id("live-feed").get_by_text("Live demo")).to_be_visible(timeout=30_000)
    shot(app, "realtime")

    # --- retention
    app.get_by_role("navigation", name="Project").get_by_role("link", name="Retention").click()
    expect(app.get_by_test_id("retention").get_by_role("row").last).to_contain_text("100%")
    shot(app, "retention")

    # --- projects: create (then its setup page), rename, rotate, delete; the switcher follows
    app.get_by_role("navigation", name="Account").get_by_role("link", name="Projects").click()
    expect(app.get_by_label("Current project")).to_have_value(str(project_id))  # the picker remembers
    app.get_by_label("Project name").fill("Second site")
    app.get_by_role("button", name="Create project").click()
    expect(app).to_have_url(re.compile(r"/projects/\d+/setup$"))
    expect(app.get_by_test_id("live-check")).to_contain_text("Waiting for your first event")
    app.go_back()
    row = app.locator(".project-row").filter(has_text="Second site")
    expect(row).to_be_visible()
    expect(app.get_by_label("Current project").locator("option", has_text="Second site")).to_have_count(1)
    # the switcher opens the other project (keeping the section and the view's range); a project
    # without events says what to do
    switcher = app.get_by_label("Current project")
    switcher.select_option(label="Second site")
    expect(app).to_have_url(re.compile(rf"/projects/(?!{project_id}/)\d+/dashboard"))
    expect(app.get_by_text("No events in last 7 days")).to_be_visible()
    expect(app.get_by_role("link", name="Set up tracking")).to_be_visible()
    shot(app, "dashboard-empty")
    switcher.select_option(label="Ada's project")
    expect(app).to_have_url(re.compile(rf"/projects/{project_id}/dashboard"))
    expect(stat(app, "pageviews")).to_have_text("3")
    app.get_by_role("navigation", name="Account").get_by_role("link", name="Projects").click()
    old_key = row.locator("code").inner_text()
    row.get_by_role("button", name="Rotate key").click()
    confirm = row.get_by_role("alertdialog", name="Confirm key rotation")
    expect(confirm).to_contain_text("Sites using the old key stop sending events")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_have_count(0)
    expect(row.locator("code")).to_have_text(old_key)  # cancelled: the same key
    row.get_by_role("button", name="Rotate key").click()
    row.get_by_role("button", name="Yes, rotate the key").click()
    expect(row.locator("code")).not_to_have_text(old_key)
    row.get_by_role("button", name="Rename").click()
    app.get_by_role("form", name="Rename Second site").get_by_label("Name").fill("Marketing site")
    app.get_by_role("button", name="Save").click()
    renamed = app.locator(".project-row").filter(has_text="Marketing site")
    expect(renamed).to_be_visible()
    shot(app, "projects")
    renamed.get_by_role("button", name="Delete").click()
    expect(renamed.get_by_role("alertdialog", name="Confirm deletion")).to_contain_text("This cannot be undone")
    renamed.get_by_label("Type the project's name to confirm").fill("Marketing site")
    renamed.get_by_role("button", name="Yes, delete it").click()
    expect(renamed).to_have_count(0)
    assert dialogs == [], dialogs

    # --- profile
    app.get_by_role("navigation", name="Account").get_by_role("link", name="Profile").click()
    app.get_by_label("Name").fill("Ada Lovelace")
    app.get_by_role("button", name="Save name").click()
    expect(app.get_by_text("Name saved.")).to_be_visible()
    app.get_by_label("Current password").fill("not my password")
    app.get_by_label("New password").fill(NEW_PASSWORD)
    app.get_by_role("button", name="Change password").click()
    expect(app.get_by_label("Current password")).to_have_attribute("aria-invalid", "true")
    expect(app.get_by_text("is incorrect", exact=True)).to_be_visible()
    app.get_by_label("Current password").fill(PASSWORD)
    app.get_by_label("New password").fill(PASSWORD)  # the same password is no change
    app.get_by_role("button", name="Change password").click()
    expect(app.get_by_label("New password")).to_have_attribute("aria-invalid", "true")
    expect(app.get_by_text("must differ from the current password", exact=True)).to_be_visible()
    app.get_by_label("New password").fill(NEW_PASSWORD)
    app.get_by_role("button", name="Change password").click()
    expect(app.get_by_text("Password changed.", exact=False)).to_be_visible()
    shot(app, "profile")

    # --- on a phone
    phone = context.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(f"{gateway_url}/projects/{project_id}/dashboard")
    expect(stat(phone, "pageviews")).to_have_text("3")
    shot(phone, "dashboard-phone")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the screen
    account = phone.get_by_role("navigation", name="Account")
    expect(account).to_be_hidden()  # folded behind a menu button named after the user
    menu = phone.get_by_role("button", name="Account menu (Ada Lovelace)")
    expect(menu).to_have_text("A ▾")  # an initial: the project picker beside it already names the project
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    account.get_by_role("link", name="Profile").click()
    expect(phone.get_by_role("heading", name="Profile")).to_be_visible()
    expect(account).to_be_hidden()
    phone.close()

    # --- log out, log in again: back to the last project's dashboard
    app.get_by_role("button", name="Log out").click()
    expect(app.get_by_role("heading", name="Log in")).to_be_visible()
    shot(app, "login")
    app.get_by_label("Email").fill(email)
    app.get_by_label("Password").fill("wrong password!")
    app.get_by_role("button", name="Log in").click()
    expect(app.get_by_role("alert")).to_contain_text("Email or password is incorrect")
    app.get_by_label("Password").fill(PASSWORD)  # the old password no longer works
    app.get_by_role("button", name="Log in").click()
    expect(app.get_by_role("alert")).to_contain_text("Email or password is incorrect")
    app.get_by_label("Password").fill(NEW_PASSWORD)
    app.get_by_role("button", name="Log in").click()
    expect(app).to_have_url(re.compile(rf"/projects/{project_id}/dashboard"))
    expect(stat(app, "pageviews")).to_have_text("3")

    assert not failed_requests, failed_requests
    assert not console_errors, console_errors
    context.close()
    visitor_ctx.close()
