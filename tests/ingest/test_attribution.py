"""Every sender attributed to the person, not to the library that sent it.

The same two-step journey (Viewed Pricing -> Signed Up) is sent by each sender a team points at
Segment's API: the unchanged official Python and Node libraries, plain HTTP from Python's urllib
and with the User-Agent headers of Java, Go, curl and okhttp, recorded bodies of Segment's iOS and
Android libraries (tests/senders/mobile), and a browser through analytics.js's shape. Each one
counts in the summary, the breakdowns and the funnel; none is a bot; the phones show iOS/Android
and mobile devices; the browser breakdown holds only browsers. On the native endpoint a headless
browser and a crawler are still left out as bots, and the summary says how many."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import urllib.request
import uuid
from base64 import b64encode
from pathlib import Path
from typing import Any

import httpx
import pytest
import schema_check
from conftest import Database
from segment.analytics import Client

from .helpers import Project, wait_rows

SENDERS = Path(__file__).resolve().parent.parent / "senders"
NODE_SENDER = SENDERS / "node"
CHROME = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
HEADLESS = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 "
            "Safari/537.36")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
SERVER_AGENTS = {"java": "Java/17.0.2", "go": "Go-http-client/1.1", "curl": "curl/8.4.0", "okhttp": "okhttp/4.12.0"}
JOURNEY = ("Viewed Pricing", "Signed Up")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _journey(user: str, **extra: Any) -> list[dict[str, Any]]:
    return [{"type": "track", "event": name, "userId": user, "timestamp": _now(), **extra} for name in JOURNEY]


def _basic(write_key: str) -> str:
    return "Basic " + b64encode(f"{write_key}:".encode()).decode()


def _post_batch(gateway_url: str, write_key: str, body: dict[str, Any], user_agent: str) -> None:
    response = schema_check.post(f"{gateway_url}/v1/batch", json=body,
                                 headers={"Authorization": _basic(write_key), "User-Agent": user_agent})
    assert response.status_code == 200 and response.json()["accepted"] == len(body["batch"]), response.text


def _recorded(name: str, user: str) -> tuple[dict[str, Any], str]:
    """A recorded mobile body with its placeholders filled, and its library's User-Agent header."""
    text = (SENDERS / "mobile" / name).read_text()
    text = text.replace("{NOW}", _now()).replace("{USER}", user).replace("{MID}", str(uuid.uuid4()))
    recorded = json.loads(text)
    return recorded["body"], recorded["user_agent"]


@pytest.fixture(scope="session")
def node_sender() -> Path:
    """Segment's official Node library, installed from the npm registry (package-lock.json)."""
    npm = shutil.which("npm")
    assert npm and shutil.which("node"), "Node.js and npm are needed for this test (apt-get install nodejs npm)"
    stamp = NODE_SENDER / "node_modules" / ".package-lock.json"
    if not stamp.exists() or stamp.stat().st_mtime < (NODE_SENDER / "package-lock.json").stat().st_mtime:
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_SENDER, check=True,
                       timeout=300)
    return NODE_SENDER / "send.mjs"


def _around_today() -> dict[str, str]:
    today = dt.datetime.now(dt.UTC).date()
    return {"from": str(today - dt.timedelta(days=1)), "to": str(today + dt.timedelta(days=1)), "tz": "UTC"}


def _owner(project: Project) -> dict[str, str]:
    return {"Authorization": f"Bearer {project.access_token}"}


def _analytics(client: httpx.Client, project: Project, section: str, **params: Any) -> Any:
    query = {**_around_today(), **{k: json.dumps(v) if isinstance(v, list) else str(v) for k, v in params.items()}}
    response = client.get(f"/api/projects/{project.id}/{section}", params=query, headers=_owner(project))
    assert response.status_code == 200, response.text
    return response.json()


def _breakdown(client: httpx.Client, project: Project, by: str) -> dict[str | None, int]:
    body = _analytics(client, project, "stats/breakdown", by=by, limit=100)
    return {row["value"]: row["visitors"] for row in body["rows"]}


def test_server_mobile_and_browser_senders_all_count_and_none_is_a_bot(
        gateway_url: str, client: httpx.Client, db: Database, project: Project, node_sender: Path) -> None:
    sent: dict[str, str] = {}  # sender -> its user id

    def user(sender: str) -> str:
        sent[sender] = f"{sender}-{uuid.uuid4().hex[:8]}"
        return sent[sender]

    # the official Python library, unchanged (its own User-Agent: analytics-python/...)
    errors: list[Exception] = []
    python_sdk = Client(project.write_key, host=gateway_url, sync_mode=True, max_retries=0,
                        on_error=lambda exc, batch: errors.append(exc))
    python_user = user("python-sdk")
    for name in JOURNEY:
        python_sdk.track(user_id=python_user, event=name)
    assert errors == []

    # the official Node library, unchanged
    node_user = user("node-sdk")
    calls = [{"method": "track", "args": {"userId": node_user, "event": name}} for name in JOURNEY]
    subprocess.run(["node", str(node_sender), project.write_key, gateway_url], input=json.dumps(calls).encode(),
                   check=True, timeout=60, env={**os.environ, "NODE_NO_WARNINGS": "1"})

    # plain HTTP from Python's standard library: its real User-Agent is Python-urllib/3.x
    request = urllib.request.Request(f"{gateway_url}/v1/batch", method="POST",
                                     data=json.dumps({"batch": _journey(user("urllib"))}).encode(),
                                     headers={"Content-Type": "application/json",
                                              "Authorization": _basic(project.write_key)})
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200 and json.load(answer)["accepted"] == 2

    # plain HTTP with the User-Agent headers of Java's, Go's, curl's and okhttp's clients
    for name, agent in SERVER_AGENTS.items():
        _post_batch(gateway_url, project.write_key, {"batch": _journey(user(name))}, agent)

    # recorded bodies of Segment's iOS and Android libraries
    for sender, fixture in (("ios", "ios_analytics_swift.json"), ("android", "android_analytics_kotlin.json")):
        body, agent = _recorded(fixture, user(sender))
        _post_batch(gateway_url, project.write_key, body, agent)

    # a browser through analytics.js's shape: the person's agent in context.userAgent
    web = {"userAgent": CHROME, "library": {"name": "analytics.js", "version": "npm:next-1.72.0"},
           "locale": "fr-FR", "screen": {"width": 1512, "height": 982}}
    _post_batch(gateway_url, project.write_key, {"batch": _journey(user("web"), context=web)}, "python-requests/2.32")

    rows = wait_rows(db, project.id, 2 * len(sent))
    assert len(rows) == 2 * len(sent)
    assert not any(r["is_bot"] for r in rows)
    by_user = {r["user_id"]: r for r in rows}
    # a library's agent is never stored as the person's: only the browser's and the phone's own (Dalvik)
    android_agent = json.loads((SENDERS / "mobile" / "android_analytics_kotlin.json").read_text())["user_agent"]
    assert {r["user_agent"] for r in rows} == {CHROME, android_agent, None}

    people = len(sent)
    summary = _analytics(client, project, "stats/summary")
    assert summary["events"]["value"] == 2 * people and summary["visitors"]["value"] == people
    assert summary["botEvents"]["value"] == 0

    assert _breakdown(client, project, "browser") == {"Chrome": 1}
    assert _breakdown(client, project, "os") == {"iOS": 1, "Android": 1, "Mac OS X": 1}
    assert _breakdown(client, project, "device") == {"mobile": 2, "desktop": 1}
    libraries = _breakdown(client, project, "library")
    assert libraries == {"analytics-python": 1, "@segment/analytics-node": 1, "analytics-swift": 1,
                         "analytics-kotlin": 1, "analytics.js": 1, "http": 1 + len(SERVER_AGENTS)}
    assert _breakdown(client, project, "appVersion") == {"3.2.0": 2}
    assert _breakdown(client, project, "locale") == {"en-US": 1, "de-DE": 1, "fr-FR": 1}
    assert _breakdown(client, project, "screen") == {"mobile": 2, "desktop": 1}

    ios, android = by_user[sent["ios"]], by_user[sent["android"]]
    assert (ios["os"], ios["os_version"], ios["device_type"], ios["browser"]) == ("iOS", "17.2", "mobile", None)
    assert (android["os"], android["os_version"], android["device_type"], android["browser"]) == \
        ("Android", "14", "mobile", None)

    funnel = client.post(f"/api/projects/{project.id}/funnels", headers=_owner(project),
                         json={"steps": [{"event": name} for name in JOURNEY], "windowSeconds": 3600,
                               **_around_today()})
    assert funnel.status_code == 200, funnel.text
    assert [step["users"] for step in funnel.json()["steps"]] == [people, people]

    # one sender filtered out: the others stay
    backend = _analytics(client, project, "stats/summary",
                         filters=[{"field": "library", "op": "neq", "value": "http"}])
    assert backend["visitors"]["value"] == people - 1 - len(SERVER_AGENTS)


def test_bots_on_the_native_endpoint_are_left_out_and_counted(
        gateway_url: str, client: httpx.Client, db: Database, project: Project) -> None:
    for agent in (CHROME, HEADLESS, GOOGLEBOT, "curl/8.4.0"):
        response = schema_check.post(f"{gateway_url}/api/track",
                                     headers={"User-Agent": agent, "Accept-Language": "nl-BE,nl"},
                                     json={"apiKey": project.write_key, "eventName": "PAGE_VIEW",
                                           "page": "https://shop.example/", "anonymousId": f"v-{agent[:12]}"})
        assert response.status_code == 200, response.text
    rows = {r["user_agent"]: r for r in wait_rows(db, project.id, 4)}
    assert rows[HEADLESS]["is_bot"] and rows[GOOGLEBOT]["is_bot"]
    assert rows[HEADLESS]["device_type"] == rows[GOOGLEBOT]["device_type"] == "bot"
    browser = rows[CHROME]
    assert (browser["browser"], browser["is_bot"], browser["locale"], browser["library"]) == \
        ("Chrome", False, "nl-BE", "http")
    server = rows[None]  # curl's agent is a server's: kept as nobody's, not a bot, no browser
    assert (server["browser"], server["is_bot"], server["device_type"]) == (None, False, None)

    summary = _analytics(client, project, "stats/summary")
    assert summary["events"]["value"] == 2 and summary["botEvents"]["value"] == 2
    everyone = _analytics(client, project, "stats/summary", filters=[{"field": "bot", "op": "set"}])
    assert everyone["events"]["value"] == 4 and everyone["botEvents"]["value"] == 0


def test_client_hints_name_the_browser_when_no_agent_string_is_sent(
        gateway_url: str, db: Database, project: Project) -> None:
    hints = {"brands": [{"brand": "Not_A Brand", "version": "8"}, {"brand": "Chromium", "version": "120"},
                        {"brand": "Microsoft Edge", "version": "120"}], "mobile": False, "platform": "Windows"}
    phone = {"brands": [{"brand": "Google Chrome", "version": "121"}], "mobile": True, "platform": "Android"}
    library = {"name": "analytics.js"}
    batch = [{"type": "page", "anonymousId": name, "context": {"userAgentData": ctx, "library": library}}
             for name, ctx in (("desk", hints), ("phone", phone))]
    _post_batch(gateway_url, project.write_key, {"batch": batch}, "python-requests/2.32")
    rows = {r["anonymous_id"]: r for r in wait_rows(db, project.id, 2)}
    facts = {name: (r["browser"], r["browser_version"], r["os"], r["device_type"], r["is_bot"])
             for name, r in rows.items()}
    assert facts == {"desk": ("Edge", "120", "Windows", "desktop", False),
                     "phone": ("Chrome", "121", "Android", "mobile", False)}


def test_tablets_by_model_and_by_smallest_width(gateway_url: str, db: Database, project: Project) -> None:
    ipad = {"library": {"name": "analytics-swift"}, "os": {"name": "iPadOS", "version": "17.1"},
            "device": {"type": "ios", "model": "iPad13,1"}, "screen": {"width": 820, "height": 1180}}
    galaxy_tab = {"library": {"name": "analytics-kotlin"}, "os": {"name": "Android", "version": "13"},
                  "device": {"type": "android", "model": "SM-X700"},
                  "screen": {"width": 2560, "height": 1600, "density": 2.0}}  # 800 dp smallest width
    batch = [{"type": "screen", "name": "Home", "anonymousId": name, "context": ctx}
             for name, ctx in (("ipad", ipad), ("tab", galaxy_tab))]
    _post_batch(gateway_url, project.write_key, {"batch": batch}, "okhttp/4.12.0")
    rows = {r["anonymous_id"]: r for r in wait_rows(db, project.id, 2)}
    facts = {name: (r["os"], r["device_type"], r["screen_class"]) for name, r in rows.items()}
    assert facts == {"ipad": ("iOS", "tablet", "tablet"), "tab": ("Android", "tablet", "tablet")}
