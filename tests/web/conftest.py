"""Web test helpers: the built dashboard and SDK (built once per session with the same script
`make` runs, which skips up-to-date parts), and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "services" / "gateway" / "static"
SHOTS = ROOT / "docs" / "screenshots"
# The README's screenshots are regenerated only on demand (TME_SCREENSHOTS=1), so that an
# ordinary test run does not rewrite docs/screenshots/ (PNGs differ by dates and ids every run).
TAKE_SCREENSHOTS = os.environ.get("TME_SCREENSHOTS") == "1"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# HeadlessChrome's own user agent is (rightly) flagged as a bot by ingest and left out of analytics;
# the test visitor presents an ordinary desktop Chrome.
VISITOR_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)


@pytest.fixture(scope="session")
def built_web() -> Path:
    """Build the SDK and dashboard if their sources changed (fast no-op when up to date)."""
    result = subprocess.run([str(ROOT / "scripts" / "build_web.sh")], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"scripts/build_web.sh failed:\n{result.stdout}\n{result.stderr}"
    assert (STATIC / "sdk" / "tme.js").is_file()
    assert (STATIC / "dashboard" / "index.html").is_file()
    return STATIC


@pytest.fixture(scope="module")
def browser(built_web: Path) -> Iterator[object]:
    """Headless Debian Chromium. Missing Chromium is a failure, not a skip: install it with
    `apt-get install -y chromium` (never `playwright install`). Module-scoped: Playwright's sync
    API keeps an asyncio loop running while it is open, and other tests call asyncio.run()."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def shot(page: Any, name: str) -> None:
    """Save docs/screenshots/NAME.png of the whole page, when TME_SCREENSHOTS=1."""
    if TAKE_SCREENSHOTS:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def stat(page: Any, metric: str) -> Any:
    """The value of one summary card of the dashboard (`pageviews`, `visitors`, ...)."""
    return page.get_by_test_id(f"stat-{metric}")


TIMEOUT_MS = 20_000


def new_page(browser: Any, **options: Any) -> tuple[Any, Any, list[str]]:
    """A browser context (UTC, en-GB, 1440x900 unless `options` say otherwise) and its page, with the
    list the page's console errors and uncaught exceptions are collected in."""
    settings = {"timezone_id": "UTC", "locale": "en-GB", "viewport": {"width": 1440, "height": 900}, **options}
    context = browser.new_context(**settings)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return context, page, errors
