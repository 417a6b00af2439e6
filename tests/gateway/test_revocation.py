"""Revoking a login through the gateway takes effect at once on analytics routes, even though
the gateway caches verified tokens for a few seconds."""

from __future__ import annotations

import httpx

from .conftest import PASSWORD, Account, bearer, login


def _stats(client: httpx.Client, account: Account, token: str) -> httpx.Response:
    return client.get(f"/api/projects/{account.project['id']}/stats/summary", headers=bearer(token))


def test_logout_invalidates_the_token_for_analytics_immediately(client: httpx.Client, alice: Account) -> None:
    token = login(client, alice)
    assert _stats(client, alice, token).status_code not in (401, 403)  # verified and now cached

    logout = client.post("/api/auth/logout", headers=bearer(token))
    assert logout.status_code == 204, logout.text

    assert _stats(client, alice, token).status_code == 401
    assert client.get("/api/me", headers=bearer(token)).status_code == 401
    assert _stats(client, alice, alice.access_token).status_code not in (401, 403)  # the other login lives on


def test_password_change_logs_out_other_logins_immediately(client: httpx.Client, alice: Account) -> None:
    other = login(client, alice)
    assert _stats(client, alice, other).status_code not in (401, 403)  # cached

    changed = client.post("/api/me/password", json={"currentPassword": PASSWORD, "newPassword": PASSWORD + "!"},
                          headers=alice.auth)
    assert changed.status_code == 204, changed.text

    assert _stats(client, alice, other).status_code == 401
    assert _stats(client, alice, alice.access_token).status_code not in (401, 403)  # the changing login stays


def test_a_deleted_project_is_gone_for_analytics_immediately(client: httpx.Client, alice: Account) -> None:
    created = client.post("/api/projects", json={"name": "Short-lived"}, headers=alice.auth)
    assert created.status_code == 201, created.text
    path = f"/api/projects/{created.json()['id']}/stats/summary"
    before = client.get(path, headers=alice.auth)
    assert before.status_code not in (401, 403)  # ownership verified and cached

    assert client.delete(f"/api/projects/{created.json()['id']}", headers=alice.auth).status_code == 204

    after = client.get(path, headers=alice.auth)
    assert after.status_code == 404
    assert after.json()["error"]["message"] == "Project not found."
