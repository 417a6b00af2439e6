"""Accounts and projects through the public gateway, served by the real users service."""

from __future__ import annotations

import httpx
from conftest import unique_email

from .conftest import PASSWORD, Account, bearer, register

SECRETS = ("password_hash", "passwordhash", "$argon2", PASSWORD.lower())


def test_register_login_refresh_me_and_projects_round_trip(client: httpx.Client) -> None:
    email = unique_email("roundtrip")
    created = client.post("/api/auth/register", json={"name": "Round Trip", "email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["user"]["email"] == email and body["user"]["name"] == "Round Trip"
    assert body["expiresIn"] == 3600
    assert body["accessToken"].startswith("tme_at_") and body["refreshToken"].startswith("tme_rt_")
    assert body["project"]["writeKey"].startswith("wk_")
    assert created.headers.get("x-request-id")

    logged_in = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert logged_in.status_code == 200, logged_in.text
    assert logged_in.json()["user"]["id"] == body["user"]["id"]

    refreshed = client.post("/api/auth/refresh", json={"refreshToken": logged_in.json()["refreshToken"]})
    assert refreshed.status_code == 200, refreshed.text
    access = refreshed.json()["accessToken"]
    assert access != logged_in.json()["accessToken"]

    me = client.get("/api/me", headers=bearer(access))
    assert me.status_code == 200, me.text
    assert me.json() == body["user"]

    new_project = client.post("/api/projects", json={"name": "Shop", "domain": "shop.example.com"},
                              headers=bearer(access))
    assert new_project.status_code == 201, new_project.text
    assert new_project.json()["name"] == "Shop"

    listed = client.get("/api/projects", headers=bearer(access))
    assert listed.status_code == 200, listed.text
    ids = {p["id"] for p in listed.json()["projects"]}
    assert ids == {body["project"]["id"], new_project.json()["id"]}


def test_login_with_a_wrong_password_is_refused_with_the_shared_error_shape(client: httpx.Client,
                                                                            alice: Account) -> None:
    response = client.post("/api/auth/login", json={"email": alice.email, "password": "not the password"})
    assert response.status_code == 401
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"}


def test_no_response_through_the_gateway_ever_contains_a_password_hash(client: httpx.Client) -> None:
    account = register(client, "Hashless")
    auth = account.auth
    pid = account.project["id"]
    responses = [
        client.post("/api/auth/register", json={"name": "Dup", "email": account.email, "password": PASSWORD}),
        client.post("/api/auth/login", json={"email": account.email, "password": PASSWORD}),
        client.post("/api/auth/login", json={"email": account.email, "password": "wrong password!"}),
        client.post("/api/auth/refresh", json={"refreshToken": account.refresh_token}),
        client.get("/api/me", headers=auth),
        client.patch("/api/me", json={"name": "Renamed"}, headers=auth),
        client.get("/api/projects", headers=auth),
        client.get(f"/api/projects/{pid}", headers=auth),
        client.patch(f"/api/projects/{pid}", json={"name": "Renamed project"}, headers=auth),
        client.post(f"/api/projects/{pid}/rotate-key", headers=auth),
        client.post("/api/me/password", json={"currentPassword": "wrong password!", "newPassword": "x" * 12},
                    headers=auth),
    ]
    for response in responses:
        text = response.text.lower()
        assert not any(secret in text for secret in SECRETS), (response.request.url, response.text)
        assert response.status_code < 500, (response.request.url, response.text)
