"""Revoking a login through the gateway takes effect at once on analytics routes, even though
the gateway caches verified tokens for a few seconds, on every gateway process (the revocation
is broadcast through Redis: services/gateway/broadcast.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from services.devstack import DevStack

from .conftest import PASSWORD, Account, ExtraGateway, bearer, login


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

    assert client.delete(f"/api/projects/{created.json()['id']}", headers=alice.auth).status_code == 202

    after = client.get(path, headers=alice.auth)
    assert after.status_code == 404
    assert after.json()["error"]["message"] == "Project not found."


# -- across gateway processes: what one gateway revokes, every other forgets at once -------------

@pytest.fixture(scope="module")
def other_gateway(stack: DevStack) -> Iterator[ExtraGateway]:
    """A second gateway (one process) in front of the same users, tracking and Redis."""
    with ExtraGateway(stack, {"TME_WORKERS": "1"}) as gateway:
        yield gateway


def test_logout_on_one_gateway_is_401_on_another_at_once(
    client: httpx.Client, other_gateway: ExtraGateway, alice: Account,
) -> None:
    token = login(client, alice)
    with other_gateway.client() as other:
        assert _stats(other, alice, token).status_code == 200  # verified there, and cached for seconds

        assert client.post("/api/auth/logout", headers=bearer(token)).status_code == 204

        assert _stats(other, alice, token).status_code == 401
        assert _stats(other, alice, alice.access_token).status_code == 200  # the other login lives on


def test_password_change_on_one_gateway_logs_out_other_logins_on_another_at_once(
    client: httpx.Client, other_gateway: ExtraGateway, alice: Account,
) -> None:
    other_login = login(client, alice)
    with other_gateway.client() as other:
        assert _stats(other, alice, other_login).status_code == 200  # cached there

        changed = client.post("/api/me/password", json={"currentPassword": PASSWORD, "newPassword": PASSWORD + "!"},
                              headers=alice.auth)
        assert changed.status_code == 204, changed.text

        assert _stats(other, alice, other_login).status_code == 401


def test_a_project_deleted_on_one_gateway_is_gone_on_another_at_once(
    client: httpx.Client, other_gateway: ExtraGateway, alice: Account,
) -> None:
    created = client.post("/api/projects", json={"name": "Short-lived"}, headers=alice.auth)
    assert created.status_code == 201, created.text
    path = f"/api/projects/{created.json()['id']}/stats/summary"
    with other_gateway.client() as other:
        assert other.get(path, headers=alice.auth).status_code == 200  # ownership cached there

        assert client.delete(f"/api/projects/{created.json()['id']}", headers=alice.auth).status_code == 202

        assert other.get(path, headers=alice.auth).status_code == 404
