"""Tokens: refresh rotation and reuse detection, expiry, logout, and the internal verify route."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
from conftest import INTERNAL

from .helpers import PASSWORD, assert_error, bearer, sha256


def refresh(api, token):
    return api.post("/api/auth/refresh", json={"refreshToken": token})


def me_status(api, access_token):
    return api.get("/api/me", headers=bearer(access_token)).status_code


def test_refresh_rotates_the_pair_and_the_old_refresh_token_stops_working(api, register):
    account = register()
    first = refresh(api, account["refreshToken"])
    assert first.status_code == 200, first.text
    body = first.json()
    assert set(body) == {"user", "accessToken", "refreshToken", "expiresIn"}
    assert body["user"] == account["user"]
    assert body["refreshToken"] != account["refreshToken"]
    assert body["accessToken"] != account["accessToken"]
    assert me_status(api, body["accessToken"]) == 200

    # the new refresh token works once more
    second = refresh(api, body["refreshToken"])
    assert second.status_code == 200, second.text
    assert me_status(api, second.json()["accessToken"]) == 200


def test_reusing_a_refresh_token_revokes_the_whole_login(api, register, login):
    account = register()
    other_login = login(account["email"])
    rotated = refresh(api, account["refreshToken"]).json()
    newest = refresh(api, rotated["refreshToken"]).json()
    assert me_status(api, newest["accessToken"]) == 200

    # someone replays the first (already used) refresh token
    assert_error(refresh(api, account["refreshToken"]), 401)

    # every token of that login is dead now, including the newest pair
    assert me_status(api, newest["accessToken"]) == 401
    assert me_status(api, rotated["accessToken"]) == 401
    assert_error(refresh(api, newest["refreshToken"]), 401)
    assert api.get("/internal/auth/verify", headers=bearer(newest["accessToken"])).status_code == 401

    # another login of the same user is untouched
    assert me_status(api, other_login["accessToken"]) == 200
    assert refresh(api, other_login["refreshToken"]).status_code == 200


def test_unknown_or_malformed_refresh_tokens_are_refused(api):
    assert_error(refresh(api, "tme_rt_doesnotexist"), 401)
    assert_error(refresh(api, "garbage"), 401)
    assert_error(api.post("/api/auth/refresh", json={}), 422, "refreshToken")
    assert_error(api.post("/api/auth/refresh", json={"refreshToken": ""}), 422, "refreshToken")
    assert_error(api.post("/api/auth/refresh", json={"refreshToken": 12}), 422, "refreshToken")


def test_an_expired_access_token_is_refused_with_a_message_saying_so(api, db, register):
    account = register()
    db.execute("UPDATE access_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
               sha256(account["accessToken"]))
    resp = api.get("/api/me", headers=bearer(account["accessToken"]))
    error = assert_error(resp, 401)
    assert error["code"] == "unauthorized"
    assert "expired" in error["message"].lower()
    assert api.get("/internal/auth/verify", headers=bearer(account["accessToken"])).status_code == 401

    # the refresh token still gets a fresh pair
    renewed = refresh(api, account["refreshToken"])
    assert renewed.status_code == 200
    assert me_status(api, renewed.json()["accessToken"]) == 200


def test_an_invalid_access_token_is_refused_with_a_message_saying_so(api):
    for headers in ({"Authorization": "Bearer tme_at_made-up"}, {"Authorization": "Bearer nonsense"}):
        error = assert_error(api.get("/api/me", headers=headers), 401)
        assert "invalid" in error["message"].lower()
    assert_error(api.get("/api/me"), 401)
    assert_error(api.get("/api/me", headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401)


def test_an_expired_refresh_token_is_refused(api, db, register):
    account = register()
    db.execute("UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
               sha256(account["refreshToken"]))
    error = assert_error(refresh(api, account["refreshToken"]), 401)
    assert "expired" in error["message"].lower()


def test_logout_ends_the_login(api, register, login):
    account = register()
    other = login(account["email"])
    resp = api.post("/api/auth/logout", headers=bearer(account["accessToken"]))
    assert resp.status_code == 204
    assert me_status(api, account["accessToken"]) == 401
    assert_error(refresh(api, account["refreshToken"]), 401)
    assert me_status(api, other["accessToken"]) == 200  # only that login ends
    # logging out again with the dead token is refused
    assert_error(api.post("/api/auth/logout", headers=bearer(account["accessToken"])), 401)


def test_logout_requires_an_access_token(api):
    assert_error(api.post("/api/auth/logout"), 401)
    assert_error(api.post("/api/auth/logout", headers=bearer("tme_at_nope")), 401)


def test_internal_verify_describes_the_token(api, db, register):
    account = register()
    resp = api.get("/internal/auth/verify", headers=bearer(account["accessToken"]))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"userId", "sessionId", "expiresAt", "apiKeyId"}
    assert body["apiKeyId"] is None
    assert body["userId"] == account["user"]["id"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", body["expiresAt"])
    stored_session = db.fetchval("SELECT session_id::text FROM access_tokens WHERE token_hash = $1",
                                 sha256(account["accessToken"]))
    assert body["sessionId"] == stored_session
    assert_error(api.get("/internal/auth/verify"), 401)


def test_login_after_logout_works(api, register, login):
    account = register()
    api.post("/api/auth/logout", headers=bearer(account["accessToken"]))
    fresh = login(account["email"], PASSWORD)
    assert me_status(api, fresh["accessToken"]) == 200


def test_the_same_refresh_token_used_twice_at_once_counts_as_reuse(users_url, register):

    account = register()

    def use(_: int) -> httpx.Response:
        with httpx.Client(base_url=users_url, timeout=30, headers=INTERNAL) as client:
            return client.post("/api/auth/refresh", json={"refreshToken": account["refreshToken"]})

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(use, range(2)))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 401], [r.text for r in results]
    winner = next(r for r in results if r.status_code == 200).json()
    with httpx.Client(base_url=users_url, timeout=30, headers=INTERNAL) as client:
        assert client.get("/api/me", headers=bearer(winner["accessToken"])).status_code == 401
