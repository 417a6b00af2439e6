"""Shared dashboards on the real stack: a share link shows its project's numbers (the same as its
owner's dashboard answers) and nothing else (no other project, no other section, no write key),
needs its password when it has one (wrong ones refused, then throttled), stops at once when
revoked (on every gateway), and only a project's admins may make or revoke links."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import Database
from schema_check import unchecked

from services.devstack import DevStack

from .conftest import Account, ExtraGateway, register

SHARE_PASSWORD = "open sesame, please"
TODAY = dt.datetime.now(dt.UTC).date()
RANGE = {"from": str(TODAY - dt.timedelta(days=6)), "to": str(TODAY), "tz": "UTC"}


def _page(visitor: str, path: str, browser_agent: str, referrer: str = "") -> dict[str, Any]:
    url = "https://shop.example" + path
    return {"type": "page", "messageId": str(uuid.uuid4()), "anonymousId": visitor,
            "properties": {"path": path, "url": url, "referrer": referrer},
            "context": {"userAgent": browser_agent, "page": {"url": url, "path": path, "referrer": referrer}}}


FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
          "Safari/537.36")


def _seed(client: httpx.Client, account: Account, events: list[dict[str, Any]]) -> None:
    """Send `events` through ingest and wait until the subscriber stored them all."""
    sent = client.post("/v1/batch", json={"writeKey": account.write_key, "batch": events})
    assert sent.status_code == 200, sent.text
    deadline = time.monotonic() + 30
    while True:
        stored = client.get(f"/api/projects/{account.project_id}/events", params={**RANGE, "limit": 100},
                            headers=account.auth)
        assert stored.status_code == 200, stored.text
        if len(stored.json()["events"]) == len(events):
            return
        assert time.monotonic() < deadline, stored.text
        time.sleep(0.2)


@pytest.fixture
def shop(client: httpx.Client) -> Account:
    """An account whose project (domain shop.example) has three visitors this week."""
    account = register(client, "Shop")
    patched = client.patch(f"/api/projects/{account.project_id}", json={"domain": "shop.example"},
                           headers=account.auth)
    assert patched.status_code == 200, patched.text
    _seed(client, account, [_page("a", "/", FIREFOX), _page("a", "/pricing", FIREFOX),
                            _page("b", "/", CHROME, "https://news.ycombinator.com/"), _page("c", "/docs", CHROME)])
    return account


@pytest.fixture
def other(client: httpx.Client) -> Account:
    """Another account's project, with a visitor of its own."""
    account = register(client, "Other")
    _seed(client, account, [_page("z", "/secret", FIREFOX)])
    return account


def share(client: httpx.Client, account: Account, **body: Any) -> dict[str, Any]:
    made = client.post(f"/api/projects/{account.project_id}/share-links", json=body, headers=account.auth)
    assert made.status_code == 201, made.text
    return dict(made.json())


def token_of(created: dict[str, Any]) -> str:
    return str(created["url"].rsplit("/share/", 1)[1])


def _raw_get(base_url: str, path: str) -> int:
    """GET a path exactly as written (httpx would resolve its dot segments first)."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def test_a_share_link_shows_its_projects_numbers_as_its_owner_sees_them(client: httpx.Client, shop: Account,
                                                                       other: Account) -> None:
    filters = [{"field": "browser", "op": "eq", "value": "Firefox"}]
    created = share(client, shop, name="Investors", params={"period": "7d", "tz": "UTC", "filters": filters})
    assert created["url"] == f"{client.base_url}".rstrip("/") + f"/share/{token_of(created)}"
    assert token_of(created).startswith("tme_share_")
    assert created["shareLink"]["name"] == "Investors" and created["shareLink"]["hasPassword"] is False
    base = f"/api/share/{token_of(created)}"

    opened = client.get(base)
    assert opened.status_code == 200, opened.text
    assert opened.json() == {"name": "Investors", "projectName": shop.project["name"], "domain": "shop.example",
                             "params": {"period": "7d", "from": None, "to": None, "tz": "UTC",
                                        "filters": [{"field": "browser", "op": "eq", "value": "Firefox"}]},
                             "passwordRequired": False, "unlocked": True, "dimensions": opened.json()["dimensions"]}
    assert {"page", "source", "browser"} <= set(opened.json()["dimensions"])
    assert not {"userId", "anonymousId", "visitor", "session", "url"} & set(opened.json()["dimensions"])

    questions = [("summary", {}), ("timeseries", {"metric": "visitors", "interval": "day"}),
                 ("breakdown", {"by": "page"}), ("breakdown", {"by": "browser"}),
                 ("summary", {"filters": json.dumps(filters)}), ("breakdown", {"by": "page", "filters": json.dumps(
                     [{"field": "page", "op": "eq", "value": "/"}])})]
    answers = []
    for section, extra in questions:
        query = {**RANGE, **extra}
        shared = client.get(f"{base}/stats/{section}", params=query)
        own = client.get(f"/api/projects/{shop.project_id}/stats/{section}", params=query, headers=shop.auth)
        assert shared.status_code == own.status_code == 200, (shared.text, own.text)
        assert shared.json() == own.json()
        answers.append(shared)
    assert answers[0].json()["visitors"]["value"] == 3
    assert answers[4].json()["visitors"]["value"] == 1  # the viewer may change the filters
    assert {row["value"] for row in answers[2].json()["rows"]} == {"/", "/pricing", "/docs"}  # not /secret

    # the project's write key (nor the other project's) is in no answer
    for answer in [opened, *answers]:
        assert shop.write_key not in answer.text and other.write_key not in answer.text


def test_nothing_but_the_dashboards_questions_is_reachable_through_a_link(client: httpx.Client, shop: Account,
                                                                          other: Account, gateway_url: str) -> None:
    base = f"/api/share/{token_of(share(client, shop))}"
    for path in (f"{base}/events", f"{base}/stats/funnels", f"{base}/funnels", f"{base}/retention",
                 f"{base}/sessions", f"{base}/realtime", f"{base}/persons/a", f"{base}/export",
                 f"{base}/events/export", f"{base}/stats/summary/extra", f"{base}/stats",
                 f"{base}/projects/{other.project_id}/stats/summary"):
        with unchecked():  # paths the API does not have
            refused = client.get(path, params=RANGE)
        assert refused.status_code in (404, 405), (path, refused.status_code, refused.text)
    for tricky in (f"{base}/../../projects/{other.project_id}/stats/summary",
                   f"{base}/stats/../../../projects/{other.project_id}/stats/summary",
                   f"{base}/stats/%2e%2e/%2e%2e/%2e%2e/projects/{other.project_id}/stats/summary",
                   f"{base}%2f..%2f..%2fprojects%2f{other.project_id}/stats/summary"):
        assert _raw_get(gateway_url, tricky) in (400, 404), tricky

    # the dashboard's dimensions only: nothing that names a person, a session or a full URL
    for by in ("userId", "anonymousId", "visitor", "session", "url", "prop:plan"):
        refused = client.get(f"{base}/stats/breakdown", params={**RANGE, "by": by})
        assert refused.status_code == 400, (by, refused.text)
        assert refused.json()["error"]["fields"] == {"by": refused.json()["error"]["fields"]["by"]}
    probe = json.dumps([{"field": "anonymousId", "op": "eq", "value": "a"}])
    refused = client.get(f"{base}/stats/summary", params={**RANGE, "filters": probe})
    assert refused.status_code == 400 and "filters" in refused.json()["error"]["fields"]

    # tokens that are not this link's name nothing
    for token in (shop.write_key, shop.access_token, "tme_share_" + "A" * 43, "tme_share_", "x" * 300):
        assert client.get(f"/api/share/{token}").status_code == 404, token
        assert client.get(f"/api/share/{token}/stats/summary", params=RANGE).status_code == 404, token


def test_a_link_with_a_password_needs_it_and_throttles_wrong_ones(client: httpx.Client, shop: Account) -> None:
    created = share(client, shop, name="Board", password=SHARE_PASSWORD)
    assert created["shareLink"]["hasPassword"] is True
    assert SHARE_PASSWORD not in json.dumps(created)
    base = f"/api/share/{token_of(created)}"

    locked = client.get(base)
    assert locked.status_code == 200
    assert locked.json() == {"name": None, "projectName": None, "domain": None, "params": None,
                             "passwordRequired": True, "unlocked": False, "dimensions": []}
    assert client.get(f"{base}/stats/summary", params=RANGE).status_code == 401

    right = {"X-TME-Share-Password": SHARE_PASSWORD.replace(" ", "%20").replace(",", "%2C")}
    opened = client.get(base, headers=right)
    assert opened.status_code == 200 and opened.json()["projectName"] == shop.project["name"]
    summary = client.get(f"{base}/stats/summary", params=RANGE, headers=right)
    assert summary.status_code == 200 and summary.json()["visitors"]["value"] == 3

    wrong = {"X-TME-Share-Password": "not%20it%20at%20all"}
    for _ in range(10):  # TME_LOGIN_MAX_FAILURES (10) per link and address
        refused = client.get(f"{base}/stats/summary", params=RANGE, headers=wrong)
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"]["message"] == "The share link's password is wrong."
    throttled = client.get(base, headers=wrong)
    assert throttled.status_code == 429, throttled.text
    assert int(throttled.headers["retry-after"]) > 0


def test_a_revoked_link_answers_404_at_once_on_every_gateway(client: httpx.Client, shop: Account,
                                                            second_gateway: ExtraGateway, db: Database) -> None:
    created = share(client, shop, name="Agency")
    link_id = created["shareLink"]["id"]
    base = f"/api/share/{token_of(created)}"
    with second_gateway.client() as elsewhere:
        for api in (client, elsewhere):  # both gateways now hold the link's view
            assert api.get(f"{base}/stats/summary", params=RANGE).status_code == 200
        revoked = client.delete(f"/api/projects/{shop.project_id}/share-links/{link_id}", headers=shop.auth)
        assert revoked.status_code == 204, revoked.text
        for api in (client, elsewhere):
            assert api.get(base).status_code == 404
            assert api.get(f"{base}/stats/summary", params=RANGE).status_code == 404

    listed = client.get(f"/api/projects/{shop.project_id}/share-links", headers=shop.auth)
    assert listed.status_code == 200
    (link,) = [link for link in listed.json()["shareLinks"] if link["id"] == link_id]
    assert link["revokedAt"] is not None and link["lastViewedAt"] is not None
    assert "token" not in json.dumps(listed.json()).lower()

    actions = [row["action"] for row in db.fetch(
        "SELECT action FROM audit_events WHERE project_id = $1 AND target = $2 ORDER BY id", shop.project_id,
        f"share_link:{link_id}")]
    assert actions == ["share_link.created", "share_link.revoked"]
    stored = db.fetchrow("SELECT token_hash, password_hash FROM share_links WHERE id = $1", link_id)
    assert stored is not None and len(stored["token_hash"]) == 32 and stored["password_hash"] is None


def test_a_deleted_projects_links_answer_404(client: httpx.Client, shop: Account) -> None:
    base = f"/api/share/{token_of(share(client, shop))}"
    assert client.get(f"{base}/stats/summary", params=RANGE).status_code == 200
    deleted = client.delete(f"/api/projects/{shop.project_id}", headers=shop.auth)
    assert deleted.status_code == 202, deleted.text
    assert client.get(base).status_code == 404
    assert client.get(f"{base}/stats/summary", params=RANGE).status_code == 404


def test_only_a_projects_admins_make_and_revoke_links(client: httpx.Client, shop: Account, other: Account,
                                                     db: Database) -> None:
    link_id = share(client, shop)["shareLink"]["id"]
    path = f"/api/projects/{shop.project_id}/share-links"
    team_id = shop.project["teamId"]
    for role in ("viewer", "member"):
        colleague = register(client, role.title())
        db.execute("INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, $3)", team_id,
                   colleague.user["id"], role)
        for response in (client.get(path, headers=colleague.auth),
                         client.post(path, json={"name": "mine"}, headers=colleague.auth),
                         client.delete(f"{path}/{link_id}", headers=colleague.auth)):
            assert response.status_code == 403, (role, response.text)
            assert "needs admin" in response.json()["error"]["message"]
        # a viewer still reads the project's analytics
        assert client.get(f"/api/projects/{shop.project_id}/stats/summary", params=RANGE,
                          headers=colleague.auth).status_code == 200
    for response in (client.get(path, headers=other.auth), client.post(path, json={}, headers=other.auth),
                     client.delete(f"{path}/{link_id}", headers=other.auth)):
        assert response.status_code == 404, response.text
    # another project's link id is no link of this project
    others_link = share(client, other)["shareLink"]["id"]
    assert client.delete(f"{path}/{others_link}", headers=shop.auth).status_code == 404


def test_bad_share_link_requests_are_refused_with_their_reasons(client: httpx.Client, shop: Account) -> None:
    path = f"/api/projects/{shop.project_id}/share-links"
    for body, field in (({"password": "short"}, "password"), ({"params": {"tz": "Mars/Olympus"}}, "params.tz"),
                        ({"params": {"period": "forever"}}, "params.period"), ({"name": " "}, "name")):
        refused = client.post(path, json=body, headers=shop.auth)
        assert refused.status_code == 422, refused.text
        assert field in refused.json()["error"]["fields"], refused.json()
    assert client.delete(f"{path}/0", headers=shop.auth).status_code == 404
    assert client.delete(f"{path}/99999999999999", headers=shop.auth).status_code == 404


def test_shared_dashboards_are_rate_limited_per_address(tight_gateway: ExtraGateway, shop: Account,
                                                        client: httpx.Client) -> None:
    base = f"/api/share/{token_of(share(client, shop))}"
    with tight_gateway.client() as api:
        answers = [api.get(base).status_code for _ in range(4)]
        assert answers[:3] == [200, 200, 200]
        assert answers[3] == 429
        limited = api.get(f"{base}/stats/summary", params=RANGE)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


@pytest.fixture(scope="module")
def second_gateway(stack: DevStack) -> Iterator[ExtraGateway]:
    with ExtraGateway(stack, {"TME_WORKERS": "1"}) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def tight_gateway(stack: DevStack) -> Iterator[ExtraGateway]:
    """A gateway that lets an address make 3 shared-dashboard requests at once, then one a minute."""
    env = {"TME_WORKERS": "1", "TME_SHARE_RATE_PER_ADDRESS": str(1 / 60), "TME_SHARE_RATE_BURST": "3"}
    with ExtraGateway(stack, env) as gateway:
        yield gateway

