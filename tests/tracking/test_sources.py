"""Sources: known referrers grouped under one name (www.google.com, google.com and google.de are
"Google"), unknown ones by host without www., and a referrer on the site's own host (internal
navigation) is no source at all. Sent through the real ingest path, read back through the gateway,
and equal from rollups."""

from __future__ import annotations

import time

import httpx
from conftest import Database
from ingest.helpers import new_project, wait_rows

from .conftest import Events, Project, ask, roll_up

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
# (visitor, page, referrer)
VISITS = [
    ("v1", "https://shop.example.com/", "https://www.google.com/"),
    ("v2", "https://shop.example.com/", "https://google.com/search?q=shoes"),
    ("v3", "https://shop.example.com/red", "https://www.google.de/"),
    ("v4", "https://shop.example.com/", "https://news.ycombinator.com/item?id=1"),
    ("v5", "https://shop.example.com/", "https://www.someblog.org/post"),
    ("v1", "https://shop.example.com/pricing", "https://shop.example.com/"),  # internal navigation
    ("v6", "https://www.shop.example.com/", "https://shop.example.com/blog"),  # www. aside: internal too
    ("v7", "https://shop.example.com/", None),  # direct
]


def test_referrers_grouped_by_source_and_self_referrals_left_out(client: httpx.Client, db: Database,
                                                                   database_url: str, rollup_url: str,
                                                                   tracking_url: str) -> None:
    created = new_project(client)
    now = int(time.time() * 1000)
    for i, (visitor, page, referrer) in enumerate(VISITS):
        body = {"apiKey": created.write_key, "anonymousId": visitor, "eventName": "PAGE_VIEW",
                "eventTime": now - 60_000 + i, "page": page, "referrer": referrer}
        response = client.post("/api/track", json=body, headers={"User-Agent": BROWSER})
        assert response.status_code == 200, response.text
    rows = wait_rows(db, created.id, len(VISITS))
    assert [r["referrer_source"] for r in rows] == ["Google", "Google", "Google", "Hacker News", "someblog.org",
                                                    None, None, None]
    assert rows[5]["referrer_host"] == "shop.example.com"  # the referrer itself is kept as it came

    project = Project(created.id, created.access_token, client, Events(db, created.id))
    today = {"from_": time.strftime("%Y-%m-%d", time.gmtime(now / 1000 - 60)), "to": time.strftime(
        "%Y-%m-%d", time.gmtime(now / 1000))}
    sources = project.ok("stats/breakdown", by="source", **today)
    # shop.example.com is no row, and internal navigation is not "direct" either (v1's second view, v6)
    assert [(r["value"], r["visitors"], r["events"]) for r in sources["rows"]] == [
        ("Google", 3, 3), (None, 1, 1), ("Hacker News", 1, 1), ("someblog.org", 1, 1)]  # None: v7, direct
    google = project.ok("stats/summary", **today, filters=[{"field": "source", "op": "eq", "value": "Google"}])
    assert google["visitors"]["value"] == 3

    # the rollups keep the same rows (an hour-aligned range so that they may answer)
    roll_up(database_url)
    hour = now // 3_600_000 * 3_600_000
    rng = {"from_": _iso(hour - 3_600_000), "to": _iso(hour + 3_600_000)}
    fast = ask(rollup_url, project, "stats/breakdown", by="source", **rng)
    raw = ask(tracking_url, project, "stats/breakdown", by="source", **rng)
    assert fast["rows"] == raw["rows"] and raw["rows"][0]["value"] == "Google"


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))
