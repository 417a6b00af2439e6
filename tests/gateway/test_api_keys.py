"""API keys on the real stack, through the gateway: a team admin makes a key and sees its secret
once (the database holds only its SHA-256); a `read` key reads the analytics of the projects it
names and nothing else, and writes nothing; an `admin` key manages its team's projects but not its
keys; a revoked or rotated secret is refused at once on every gateway (and, should the broadcast
be lost, within the gateway's cache time); an expired key is refused; its last use is noted."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Database

from services.devstack import DevStack

from .conftest import Account, ExtraGateway, bearer

TODAY = dt.datetime.now(dt.UTC).date()
RANGE = {"from": str(TODAY - dt.timedelta(days=6)), "to": str(TODAY), "tz": "UTC"}
FUNNEL = {"steps": [{"event": "Viewed Pricing"}, {"event": "Signed Up"}], "windowSeconds": 86400, **RANGE}
# the gateway's default TME_AUTH_CACHE_TTL_SECONDS is 5 s: a revocation it never heard of is
# refused within that; the bound here is generous for a loaded machine
CACHE_BOUND_SECONDS = 30


def team_of(account: Account) -> int:
    return int(account.project["teamId"])


def keys_path(account: Account) -> str:
    return f"/api/teams/{team_of(account)}/api-keys"


def make_key(client: httpx.Client, account: Account, **body: Any) -> dict[str, Any]:
    made = client.post(keys_path(account), json={"name": "Script", **body}, headers=account.auth)
    assert made.status_code == 201, made.text
    return dict(made.json())


def read_key(client: httpx.Client, account: Account, *project_ids: int) -> str:
    return str(make_key(client, account, scope="read", projectIds=list(project_ids or [account.project_id]))["secret"])


def new_project(client: httpx.Client, account: Account, name: str) -> int:
    made = client.post("/api/projects", json={"name": name}, headers=account.auth)
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def summary(client: httpx.Client, project_id: int, secret: str) -> httpx.Response:
    return client.get(f"/api/projects/{project_id}/stats/summary", params=RANGE, headers=bearer(secret))


def listed(client: httpx.Client, account: Account) -> list[dict[str, Any]]:
    answer = client.get(keys_path(account), headers=account.auth)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["apiKeys"])


def refused_within_cache_time(client: httpx.Client, project_id: int, secret: str) -> httpx.Response:
    """Ask until the gateway refuses the key (its cached verification expired), within a bound."""
    deadline = time.monotonic() + CACHE_BOUND_SECONDS
    while True:
        answer = summary(client, project_id, secret)
        if answer.status_code != 200 or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def test_a_key_is_shown_once_and_only_its_hash_is_stored(client: httpx.Client, db: Database, alice: Account) -> None:
    made = make_key(client, alice, name="Weekly report", scope="read", projectIds=[alice.project_id])
    secret, key = made["secret"], made["apiKey"]
    assert secret.startswith("tme_key_") and len(secret) > 40
    assert key["name"] == "Weekly report" and key["scope"] == "read" and key["projectIds"] == [alice.project_id]
    assert key["hint"] == secret[-4:] and key["lastUsedAt"] is None and key["revokedAt"] is None
    assert key["createdBy"] == alice.user["id"]

    answer = client.get(keys_path(alice), headers=alice.auth)
    assert answer.status_code == 200 and secret not in answer.text and secret[8:] not in answer.text
    assert [k["id"] for k in answer.json()["apiKeys"]] == [key["id"]]

    row = db.fetchrow("SELECT * FROM api_keys WHERE id = $1", key["id"])
    assert row is not None and bytes(row["token_hash"]) == hashlib.sha256(secret.encode()).digest()
    assert not any(secret[8:] in str(value) for value in row.values())
    logged = db.fetchrow("SELECT actor_user_id, target, details FROM audit_events WHERE team_id = $1 "
                         "AND action = 'api_key.created'", team_of(alice))
    assert logged is not None and logged["actor_user_id"] == alice.user["id"]
    assert logged["target"] == f"api_key:{key['id']}" and secret not in str(logged["details"])


def test_a_read_key_reads_only_its_projects_and_writes_nothing(client: httpx.Client, alice: Account,
                                                                bob: Account) -> None:
    other_project = new_project(client, alice, "Not shared with the key")
    secret = read_key(client, alice, alice.project_id)
    key = bearer(secret)
    base = f"/api/projects/{alice.project_id}"

    for path in ("/stats/summary", "/stats/timeseries", "/events", "/retention", "/sessions", "/realtime"):
        assert client.get(base + path, params=RANGE, headers=key).status_code == 200, path
    assert client.get(base + "/stats/breakdown", params={**RANGE, "by": "page"}, headers=key).status_code == 200
    funnel = client.post(base + "/funnels", json=FUNNEL, headers=key)
    assert funnel.status_code == 200, funnel.text
    assert client.get(base, headers=key).status_code == 200
    projects = client.get("/api/projects", headers=key)
    assert projects.status_code == 200 and [p["id"] for p in projects.json()["projects"]] == [alice.project_id]
    assert projects.json()["projects"][0]["role"] == "viewer"

    for project_id in (other_project, bob.project_id):  # the team's other project, another team's
        assert summary(client, project_id, secret).status_code == 404
        assert client.get(f"/api/projects/{project_id}", headers=key).status_code == 404
        assert client.patch(f"/api/projects/{project_id}", json={"name": "x"}, headers=key).status_code == 404

    writes = [client.patch(base, json={"name": "Renamed"}, headers=key),
              client.post(base + "/rotate-key", headers=key),
              client.post(base + "/regulations", headers=key,
                          json={"regulationType": "DELETE_ONLY", "subjectType": "USER_ID", "subjectIds": ["u-1"]}),
              client.post(base + "/share-links", json={}, headers=key),
              client.delete(base, headers=key),
              client.post("/api/projects", json={"name": "By a key"}, headers=key)]
    assert [w.status_code for w in writes] == [403] * len(writes), [w.text for w in writes]
    assert client.get("/api/me", headers=key).status_code == 403
    assert client.get(keys_path(alice), headers=key).status_code == 403
    teams = client.get("/api/teams", headers=key)  # its team, as a viewer
    assert teams.status_code == 200 and [(t["id"], t["role"]) for t in teams.json()["teams"]] == [(team_of(alice),
                                                                                                   "viewer")]


def test_an_admin_key_manages_its_teams_projects_but_not_keys(client: httpx.Client, alice: Account,
                                                               bob: Account) -> None:
    spare = new_project(client, alice, "Spare")
    secret = str(make_key(client, alice, name="Ops", scope="admin")["secret"])
    key = bearer(secret)
    base = f"/api/projects/{alice.project_id}"

    renamed = client.patch(base, json={"name": "Renamed by a script"}, headers=key)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Renamed by a script"
    rotated = client.post(base + "/rotate-key", headers=key)
    assert rotated.status_code == 200 and rotated.json()["writeKey"] != alice.write_key
    assert client.post(base + "/share-links", json={"name": "Board"}, headers=key).status_code == 201
    assert client.get(f"/api/teams/{team_of(alice)}/audit", headers=key).status_code == 200
    assert summary(client, alice.project_id, secret).status_code == 200
    projects = client.get("/api/projects", headers=key)
    assert sorted(p["id"] for p in projects.json()["projects"]) == sorted([alice.project_id, spare])
    assert client.delete(f"/api/projects/{spare}", headers=key).status_code == 202

    assert summary(client, bob.project_id, secret).status_code == 404
    assert client.patch(f"/api/projects/{bob.project_id}", json={"name": "x"}, headers=key).status_code == 404
    assert client.get(f"/api/teams/{team_of(bob)}", headers=key).status_code == 404
    refused = client.post(keys_path(alice), json={"name": "More", "scope": "admin"}, headers=key)
    assert refused.status_code == 403 and "sign in as an account" in refused.json()["error"]["message"]
    assert client.delete(f"/api/teams/{team_of(alice)}", headers=key).status_code == 403


def test_keys_are_made_only_for_the_teams_projects_with_sound_rules(client: httpx.Client, alice: Account,
                                                                     bob: Account) -> None:
    def create(body: dict[str, Any], account: Account = alice) -> httpx.Response:
        return client.post(keys_path(alice), json={"name": "Script", **body}, headers=account.auth)

    for body, field in (({"scope": "read"}, "projectIds"), ({"scope": "read", "projectIds": []}, "projectIds"),
                        ({"scope": "read", "projectIds": [bob.project_id]}, "projectIds"),
                        ({"scope": "admin", "projectIds": [alice.project_id]}, "projectIds"),
                        ({"scope": "write"}, "scope"),
                        ({"scope": "admin", "expiresAt": "2020-01-01T00:00:00Z"}, "expiresAt")):
        answer = create(body)
        assert answer.status_code == 422, (body, answer.text)
        assert field in answer.json()["error"]["fields"], answer.text
    assert create({"scope": "admin"}, bob).status_code == 404  # someone else's team looks missing
    assert client.get(keys_path(alice), headers=bob.auth).status_code == 404
    assert listed(client, alice) == []


def test_a_revoked_key_is_refused_at_once_on_every_gateway(client: httpx.Client, db: Database, alice: Account,
                                                           other_gateway: ExtraGateway) -> None:
    made = make_key(client, alice, scope="read", projectIds=[alice.project_id])
    secret, key_id = made["secret"], made["apiKey"]["id"]
    with other_gateway.client() as other:
        assert summary(client, alice.project_id, secret).status_code == 200  # verified, and cached for seconds
        assert summary(other, alice.project_id, secret).status_code == 200

        revoked = client.delete(f"{keys_path(alice)}/{key_id}", headers=alice.auth)
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["revokedAt"] is not None

        assert summary(client, alice.project_id, secret).status_code == 401
        assert summary(other, alice.project_id, secret).status_code == 401
    assert [k["revokedAt"] is not None for k in listed(client, alice)] == [True]  # kept, as revoked
    assert client.delete(f"{keys_path(alice)}/{key_id}", headers=alice.auth).status_code == 200  # no change
    actions = [r["action"] for r in db.fetch("SELECT action FROM audit_events WHERE team_id = $1 "
                                              "AND target = $2 ORDER BY id", team_of(alice), f"api_key:{key_id}")]
    assert actions == ["api_key.created", "api_key.revoked"]


def test_a_revocation_no_gateway_heard_of_is_refused_within_the_cache_time(client: httpx.Client, db: Database,
                                                                           alice: Account) -> None:
    made = make_key(client, alice, scope="read", projectIds=[alice.project_id])
    assert summary(client, alice.project_id, made["secret"]).status_code == 200  # cached by the gateway
    # revoked behind the gateways' back, as if the broadcast were lost
    db.execute("UPDATE api_keys SET revoked_at = now() WHERE id = $1", made["apiKey"]["id"])

    refused = refused_within_cache_time(client, alice.project_id, made["secret"])
    assert refused.status_code == 401, refused.text


def test_a_rotated_key_answers_to_its_new_secret_only(client: httpx.Client, alice: Account,
                                                      other_gateway: ExtraGateway) -> None:
    made = make_key(client, alice, name="CI", scope="read", projectIds=[alice.project_id])
    old, key_id = made["secret"], made["apiKey"]["id"]
    with other_gateway.client() as other:
        assert summary(other, alice.project_id, old).status_code == 200

        rotated = client.post(f"{keys_path(alice)}/{key_id}/rotate", headers=alice.auth)
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()["secret"]
        assert new != old and rotated.json()["apiKey"]["id"] == key_id and rotated.json()["apiKey"]["hint"] == new[-4:]

        assert summary(other, alice.project_id, old).status_code == 401
        assert summary(client, alice.project_id, old).status_code == 401
        assert summary(other, alice.project_id, new).status_code == 200
    [key] = listed(client, alice)
    assert key["name"] == "CI" and key["projectIds"] == [alice.project_id] and new not in str(key)

    assert client.delete(f"{keys_path(alice)}/{key_id}", headers=alice.auth).status_code == 200
    again = client.post(f"{keys_path(alice)}/{key_id}/rotate", headers=alice.auth)
    assert again.status_code == 409, again.text
    assert client.post(f"{keys_path(alice)}/999999999/rotate", headers=alice.auth).status_code == 404


def test_an_expired_key_is_refused(client: httpx.Client, db: Database, alice: Account) -> None:
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2)
    made = make_key(client, alice, scope="read", projectIds=[alice.project_id], expiresAt=soon.isoformat())
    assert made["apiKey"]["expiresAt"] is not None
    # the gateway keeps a verified key no longer than it is valid: refused once it expired
    refused = refused_within_cache_time(client, alice.project_id, made["secret"])
    assert refused.status_code == 401, refused.text

    later = make_key(client, alice, scope="read", projectIds=[alice.project_id],
                     expiresAt=(dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat())
    db.execute("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1", later["apiKey"]["id"])
    assert summary(client, alice.project_id, later["secret"]).status_code == 401  # never verified before: at once


def test_the_last_use_of_a_key_is_noted(client: httpx.Client, alice: Account) -> None:
    made = make_key(client, alice, scope="read", projectIds=[alice.project_id])
    assert listed(client, alice)[0]["lastUsedAt"] is None
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    assert summary(client, alice.project_id, made["secret"]).status_code == 200

    used = listed(client, alice)[0]["lastUsedAt"]
    assert used is not None and dt.datetime.fromisoformat(used) >= before


def test_tme_export_uses_an_api_key_instead_of_a_login(client: httpx.Client, alice: Account, gateway_url: str,
                                                       tmp_path: Path) -> None:
    secret = read_key(client, alice, alice.project_id)
    out = tmp_path / "events.ndjson"
    env = {k: v for k, v in os.environ.items() if k not in ("TME_TOKEN", "TME_EMAIL")}
    done = subprocess.run([sys.executable, "-m", "services.cli", "export", "--project", str(alice.project_id),
                           "--out", str(out), "--gateway", gateway_url, "--quiet"],
                          env={**env, "TME_API_KEY": secret}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.exists() and "0 events written" in done.stdout

    bob_like = subprocess.run([sys.executable, "-m", "services.cli", "export", "--project", "999999999",
                               "--out", str(tmp_path / "x.ndjson"), "--gateway", gateway_url, "--quiet",
                               "--api-key", secret], env=env, capture_output=True, text=True, timeout=120)
    assert bob_like.returncode == 1 and "not found" in bob_like.stderr


@pytest.fixture(scope="module")
def other_gateway(stack: DevStack) -> Iterator[ExtraGateway]:
    """A second gateway (one process) in front of the same users, tracking and Redis."""
    with ExtraGateway(stack, {"TME_WORKERS": "1"}) as gateway:
        yield gateway
