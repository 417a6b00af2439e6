"""The signed-in user: read, rename, change the password."""

from __future__ import annotations

import pytest

from .helpers import PASSWORD, assert_error, bearer


def test_get_me_returns_the_user(api, register):
    account = register(name="Barbara")
    resp = api.get("/api/me", headers=bearer(account["accessToken"]))
    assert resp.status_code == 200
    assert resp.json() == account["user"]
    assert_error(api.get("/api/me"), 401)


def test_patch_me_renames_the_user(api, register):
    account = register(name="Old Name")
    headers = bearer(account["accessToken"])
    resp = api.patch("/api/me", json={"name": "  New Name  ", "email": "ignored@example.com"}, headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {**account["user"], "name": "New Name"}
    assert api.get("/api/me", headers=headers).json()["name"] == "New Name"
    # an empty patch changes nothing
    assert api.patch("/api/me", json={}, headers=headers).json()["name"] == "New Name"


@pytest.mark.parametrize("payload", [{"name": ""}, {"name": "   "}, {"name": "x" * 101}, {"name": None}, {"name": 7}])
def test_patch_me_rejects_a_bad_name(api, register, payload):
    account = register()
    assert_error(api.patch("/api/me", json=payload, headers=bearer(account["accessToken"])), 422, "name")


def test_patch_me_requires_auth(api):
    assert_error(api.patch("/api/me", json={"name": "x"}), 401)


def test_changing_the_password_keeps_this_login_and_ends_the_others(api, register, login):
    account = register()
    other = login(account["email"])
    headers = bearer(account["accessToken"])

    resp = api.post("/api/me/password", json={"currentPassword": PASSWORD, "newPassword": "brand new secret"},
                    headers=headers)
    assert resp.status_code == 204, resp.text

    assert api.get("/api/me", headers=headers).status_code == 200  # the current login still works
    assert api.post("/api/auth/refresh", json={"refreshToken": account["refreshToken"]}).status_code == 200
    assert api.get("/api/me", headers=bearer(other["accessToken"])).status_code == 401
    assert api.post("/api/auth/refresh", json={"refreshToken": other["refreshToken"]}).status_code == 401

    new = api.post("/api/auth/login", json={"email": account["email"], "password": "brand new secret"})
    assert new.status_code == 200
    assert_error(api.post("/api/auth/login", json={"email": account["email"], "password": PASSWORD}), 401)


def test_a_wrong_current_password_is_refused(api, register):
    account = register()
    headers = bearer(account["accessToken"])
    resp = api.post("/api/me/password", json={"currentPassword": "not it at all", "newPassword": "brand new secret"},
                    headers=headers)
    assert_error(resp, 422, "currentPassword")
    # nothing changed
    assert api.post("/api/auth/login", json={"email": account["email"], "password": PASSWORD}).status_code == 200


def test_a_new_password_equal_to_the_current_one_is_refused(api, register, login):
    account = register()
    other = login(account["email"])
    resp = api.post("/api/me/password", json={"currentPassword": PASSWORD, "newPassword": PASSWORD},
                    headers=bearer(account["accessToken"]))
    assert_error(resp, 422, "newPassword")
    assert resp.json()["error"]["fields"]["newPassword"] == "must differ from the current password"
    # nothing happened: the other login goes on, the password is the same
    assert api.get("/api/me", headers=bearer(other["accessToken"])).status_code == 200
    assert api.post("/api/auth/login", json={"email": account["email"], "password": PASSWORD}).status_code == 200


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"newPassword": "brand new secret"}, "currentPassword"),
        ({"currentPassword": PASSWORD}, "newPassword"),
        ({"currentPassword": PASSWORD, "newPassword": "short"}, "newPassword"),
        ({"currentPassword": PASSWORD, "newPassword": "n" * 129}, "newPassword"),
    ],
)
def test_password_change_rejects_bad_input(api, register, payload, field):
    account = register()
    assert_error(api.post("/api/me/password", json=payload, headers=bearer(account["accessToken"])), 422, field)


def test_password_change_requires_auth(api):
    assert_error(api.post("/api/me/password", json={"currentPassword": "a", "newPassword": "bbbbbbbb"}), 401)
