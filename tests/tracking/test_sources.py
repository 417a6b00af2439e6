"""Sources: known referrers grouped under one name (www.google.com, google.com and google.de are
"Google"), unknown ones by host without www., and a referrer on the site's own host (internal
navigation) is no source at all. A tagged link's utm_source names the source instead, under the
same names (utm_source=google is "Google", fb is "Facebook"). Sent through the real ingest path,
read back through the gateway, and equal from rollups; old rows get the names in migration 0011."""

from __future__ import annotations

import json
import time

import httpx
from conftest import Database, database_at, migrate
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
# tagged links: (visitor, page, referrer, the source they are counted under)
TAGGED = [
    ("t1", "https://shop.example.com/?utm_source=google&utm_medium=cpc", None, "Google"),
    ("t2", "https://shop.example.com/?utm_source=GOOGLE", "https://www.bing.com/", "Google"),  # the tag wins
    ("t3", "https://shop.example.com/?utm_source=fb", "https://l.facebook.com/", "Facebook"),
    ("t4", "https://shop.example.com/?utm_source=news.ycombinator.com", None, "Hacker News"),
    ("t5", "https://shop.example.com/?utm_source=newsletter", "https://shop.example.com/", "newsletter"),
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


def test_tagged_links_count_under_the_sources_known_name(client: httpx.Client, db: Database) -> None:
    created = new_project(client)
    now = int(time.time() * 1000)
    for i, (visitor, page, referrer, _) in enumerate([*TAGGED, ("t6", *VISITS[0][1:], "Google")]):
        body = {"apiKey": created.write_key, "anonymousId": visitor, "eventName": "PAGE_VIEW",
                "eventTime": now - 60_000 + i, "page": page, "referrer": referrer}
        response = client.post("/api/track", json=body, headers={"User-Agent": BROWSER})
        assert response.status_code == 200, response.text
    rows = wait_rows(db, created.id, len(TAGGED) + 1)
    assert [r["referrer_source"] for r in rows] == [t[3] for t in TAGGED] + ["Google"]
    assert rows[1]["utm_source"] == "GOOGLE"  # the UTM breakdown keeps the tag as it was written

    project = Project(created.id, created.access_token, client, Events(db, created.id))
    today = {"from_": time.strftime("%Y-%m-%d", time.gmtime(now / 1000 - 60)), "to": time.strftime(
        "%Y-%m-%d", time.gmtime(now / 1000))}
    sources = project.ok("stats/breakdown", by="source", **today)["rows"]
    assert [(r["value"], r["visitors"]) for r in sources] == [
        ("Google", 3), ("Facebook", 1), ("Hacker News", 1), ("newsletter", 1)]
    events = project.ok("events", **today)["events"]
    assert sorted(e["source"] for e in events) == sorted([*(t[3] for t in TAGGED), "Google"])


def test_referrers_tab_leaves_the_sites_own_host_out(client: httpx.Client, db: Database) -> None:
    created = new_project(client)
    now = int(time.time() * 1000)
    for i, (visitor, page, referrer) in enumerate(VISITS):
        body = {"apiKey": created.write_key, "anonymousId": visitor, "eventName": "PAGE_VIEW",
                "eventTime": now - 60_000 + i, "page": page, "referrer": referrer}
        assert client.post("/api/track", json=body, headers={"User-Agent": BROWSER}).status_code == 200
    wait_rows(db, created.id, len(VISITS))
    project = Project(created.id, created.access_token, client, Events(db, created.id))
    today = {"from_": time.strftime("%Y-%m-%d", time.gmtime(now / 1000 - 60)), "to": time.strftime(
        "%Y-%m-%d", time.gmtime(now / 1000))}
    hosts = [r["value"] for r in project.ok("stats/breakdown", by="referrer", **today)["rows"]]
    assert sorted(hosts, key=str) == sorted(
        [None, "www.google.com", "google.com", "www.google.de", "news.ycombinator.com", "www.someblog.org"], key=str)


def test_migration_names_the_tagged_sources_of_rows_stored_before(db: Database, database_url: str) -> None:
    old = database_at(db, database_url, "0010_sources_and_bounces", "tagged")
    for message_id, utm, referrer_source in [("a", "google", None), ("b", "fb", "Bing"), ("c", None, "Google"),
                                             ("d", "newsletter", None)]:
        old.execute("""INSERT INTO events (project_id, event_time, message_id, type, event_name, anonymous_id,
                           utm_source, referrer_source, context, received_at)
                       VALUES (1, now(), $1, 'page', 'PAGE_VIEW', $1, $2, $3, $4::jsonb, now())""",
                    message_id, utm, referrer_source, json.dumps({}))
    old.execute("INSERT INTO rollup_state (id, watermark, snapshot, visitors_ready) "
                "VALUES (1, now(), pg_current_snapshot(), true)")
    migrate(old.url)
    rows = dict((r["message_id"], r["referrer_source"]) for r in old.fetch("SELECT * FROM events"))
    assert rows == {"a": "Google", "b": "Facebook", "c": "Google", "d": "newsletter"}
    assert old.fetchval("SELECT count(*) FROM rollup_state") == 0  # the rollups are rebuilt


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))
