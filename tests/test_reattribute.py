"""Upgrading a database whose events were stored before migration 0009: `tme reattribute` gives
each old row the attribution the gateway gives new ones (whose agent, bot flag, sending library,
app version, locale, screen class) from what the row kept, and has the rollups rebuilt. A second
run finds nothing left to do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from conftest import Database, database_at, migrate

CHROME = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
ANDROID = {"library": {"name": "analytics-android", "version": "4.11.3"}, "os": {"name": "Android", "version": "14"},
           "device": {"type": "android", "model": "Pixel 8", "manufacturer": "Google"}, "app": {"version": "3.1"},
           "screen": {"width": 1080, "height": 2400, "density": 2.625}, "locale": "en_US"}

# what the earlier gateway stored for each sender: (message id, stored user agent, browser, os, device, is_bot, context)
OLD_ROWS: list[tuple[str, str | None, str | None, str | None, str, bool, dict[str, Any]]] = [
    ("urllib", "Python-urllib/3.11", "Python-urllib", None, "bot", True, {}),
    ("python-sdk", "analytics-python/2.3.3", None, None, "other", False, {"library": {"name": "analytics-python"}}),
    ("android", "okhttp/4.12.0", "okhttp", None, "other", False, ANDROID),
    ("browser", CHROME, "Chrome", "Mac OS X", "desktop", False, {}),
    ("googlebot", GOOGLEBOT, "Googlebot", None, "bot", True, {}),
    ("web-sdk", CHROME, "Chrome", "Mac OS X", "desktop", False, {"userAgent": CHROME, "library": {"name": "tme.js"}}),
]


def _reattribute(url: str) -> str:
    done = subprocess.run([sys.executable, "-m", "services.cli", "reattribute", "--batch-size", "4"], check=True,
                          timeout=120, env={**os.environ, "TME_DATABASE_URL": url}, capture_output=True, text=True)
    return done.stdout


def test_old_rows_get_the_gateways_attribution_and_the_rollups_are_rebuilt(db: Database, database_url: str) -> None:
    old = database_at(db, database_url, "0008_bounded_dedupe_ledger", "reattribute")
    url = old.url
    for message_id, agent, browser, os_name, device, is_bot, context in OLD_ROWS:
        old.execute("""INSERT INTO events (project_id, event_time, message_id, type, event_name, anonymous_id,
                           user_agent, browser, os, device_type, is_bot, context, received_at)
                       VALUES (1, now(), $1, 'track', 'Signed Up', $1, $2, $3, $4, $5, $6, $7::jsonb, now())""",
                    message_id, agent, browser, os_name, device, is_bot, json.dumps(context))
    migrate(url)
    old.execute("INSERT INTO rollup_state (id, watermark, snapshot, visitors_ready) "
                "VALUES (1, now(), pg_current_snapshot(), true)")

    assert _reattribute(url).startswith(f"{len(OLD_ROWS)} events attributed")
    rows = {r["message_id"]: r for r in old.fetch("SELECT * FROM events")}
    facts = {m: (r["user_agent"], r["browser"], r["os"], r["device_type"], r["is_bot"], r["library"])
             for m, r in rows.items()}
    assert facts["urllib"] == (None, None, None, None, False, "http")  # a server, not a bot
    assert facts["python-sdk"] == (None, None, None, None, False, "analytics-python")
    assert facts["android"] == (None, None, "Android", "mobile", False, "analytics-android")
    assert (rows["android"]["app_version"], rows["android"]["locale"], rows["android"]["screen_class"]) == \
        ("3.1", "en-US", "mobile")
    assert facts["browser"] == (CHROME, "Chrome", "Mac OS X", "desktop", False, "http")
    assert facts["googlebot"][4:] == (True, "http")
    assert facts["web-sdk"] == (CHROME, "Chrome", "Mac OS X", "desktop", False, "tme.js")
    assert old.fetchval("SELECT count(*) FROM rollup_state") == 0  # the job's next run rebuilds every rollup

    assert _reattribute(url).startswith("0 events attributed")
