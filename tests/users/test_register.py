"""Registering an account: the answer, the first project, duplicate emails, bad input, and what
is stored (argon2id hashes, tokens only as SHA-256 hashes)."""

from __future__ import annotations

import re

import pytest

from .helpers import assert_error, bearer, sha256, unique_email

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_register_returns_user_tokens_and_a_first_project(api, register):
    email = unique_email("Reg")
    body = register(name="  Grace Hopper ", email=email)

    assert set(body) >= {"user", "accessToken", "refreshToken", "expiresIn", "project"}
    user = body["user"]
    assert set(user) == {"id", "name", "email", "createdAt"}
    assert isinstance(user["id"], int)
    assert user["name"] == "Grace Hopper"  # trimmed
    assert user["email"] == email  # stored as given
    assert ISO_UTC.match(user["createdAt"])
    assert body["accessToken"].startswith("tme_at_")
    assert body["refreshToken"].startswith("tme_rt_")
    assert body["expiresIn"] == 3600

    project = body["project"]
    assert set(project) == {"id", "teamId", "name", "domain", "retentionDays", "writeKey", "createdAt", "role", "guest"}
    assert project["role"] == "owner"  # of the account's personal team
    assert project["name"] == "Grace Hopper's project"
    assert project["domain"] is None
    assert project["writeKey"].startswith("wk_")

    # the access token works straight away and the project is the user's
    me = api.get("/api/me", headers=bearer(body["accessToken"]))
    assert me.json() == user
    projects = api.get("/api/projects", headers=bearer(body["accessToken"])).json()["projects"]
    assert projects == [project]
    resolved = api.get(f"/internal/write-keys/{project['writeKey']}").json()
    assert resolved == {"projectId": project["id"], "teamId": project["teamId"]}


def _keys(value):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _keys(inner)


def test_no_hash_or_password_is_ever_returned(api):
    secret = "a very secret pw"
    email = unique_email()
    registered = api.post("/api/auth/register", json={"name": "Ada", "email": email, "password": secret})
    logged_in = api.post("/api/auth/login", json={"email": email, "password": secret})
    access = logged_in.json()["accessToken"]
    refreshed = api.post("/api/auth/refresh", json={"refreshToken": logged_in.json()["refreshToken"]})
    answers = [registered, logged_in, refreshed, api.get("/api/me", headers=bearer(access)),
               api.patch("/api/me", json={"name": "Ada L."}, headers=bearer(access))]
    for resp in answers:
        assert resp.status_code in (200, 201), resp.text
        assert not [k for k in _keys(resp.json()) if "password" in k.lower() or "hash" in k.lower()]
        assert "argon2" not in resp.text
        assert secret not in resp.text


def test_duplicate_email_is_refused_case_insensitively(api, register):
    email = unique_email("dup")
    register(email=email)
    again = api.post("/api/auth/register", json={"name": "Other", "email": email.upper(), "password": "password123"})
    error = assert_error(again, 409, "email")
    assert error["code"] == "email_taken"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "x@example.com", "password": "password123"}, "name"),
        ({"name": "   ", "email": "x@example.com", "password": "password123"}, "name"),
        ({"name": "n" * 101, "email": "x@example.com", "password": "password123"}, "name"),
        ({"name": 42, "email": "x@example.com", "password": "password123"}, "name"),
        ({"name": "Ada", "password": "password123"}, "email"),
        ({"name": "Ada", "email": "not-an-email", "password": "password123"}, "email"),
        ({"name": "Ada", "email": "a@b", "password": "password123"}, "email"),
        ({"name": "Ada", "email": "x@example.com"}, "password"),
        ({"name": "Ada", "email": "x@example.com", "password": "short"}, "password"),
        ({"name": "Ada", "email": "x@example.com", "password": "p" * 129}, "password"),
    ],
)
def test_register_rejects_bad_input_naming_the_field(api, payload, field):
    assert_error(api.post("/api/auth/register", json=payload), 422, field)


def test_register_rejects_a_body_that_is_not_a_json_object(api):
    assert assert_error(api.post("/api/auth/register", content=b"{nope"), 400)["code"] == "invalid_json"
    assert assert_error(api.post("/api/auth/register", json=["a"]), 400)["code"] == "invalid_json"
    assert assert_error(api.post("/api/auth/register", content=b""), 400)["code"] == "invalid_json"


def test_register_ignores_unknown_fields(api):
    email = unique_email()
    resp = api.post("/api/auth/register",
                    json={"name": "Ada", "email": email, "password": "password123", "isAdmin": True, "id": 1})
    assert resp.status_code == 201, resp.text
    assert set(resp.json()["user"]) == {"id", "name", "email", "createdAt"}


def test_passwords_are_stored_as_argon2id_hashes(db, register):
    body = register(password="stored-as-a-hash")
    stored = db.fetchval("SELECT password_hash FROM users WHERE id = $1", body["user"]["id"])
    assert stored.startswith("$argon2id$")
    assert "m=19456,t=2,p=1" in stored  # OWASP's recommended argon2id cost
    assert "stored-as-a-hash" not in stored


def test_tokens_are_stored_only_as_sha256_hashes(db, api, register):
    body = register()
    user_id = body["user"]["id"]
    access, refresh = body["accessToken"], body["refreshToken"]

    assert db.fetchval("SELECT count(*) FROM access_tokens WHERE token_hash = $1", sha256(access)) == 1
    assert db.fetchval("SELECT count(*) FROM refresh_tokens WHERE token_hash = $1", sha256(refresh)) == 1

    rows = db.fetch(
        """
        SELECT t::text AS row FROM access_tokens t WHERE user_id = $1
        UNION ALL SELECT r::text FROM refresh_tokens r JOIN auth_sessions s ON s.id = r.session_id WHERE s.user_id = $1
        UNION ALL SELECT s::text FROM auth_sessions s WHERE user_id = $1
        UNION ALL SELECT u::text FROM users u WHERE id = $1
        UNION ALL SELECT p::text FROM projects p WHERE created_by = $1
        """,
        user_id,
    )
    assert len(rows) >= 5
    dump = "\n".join(r["row"] for r in rows)
    for raw in (access, refresh, access.removeprefix("tme_at_"), refresh.removeprefix("tme_rt_")):
        assert raw not in dump
