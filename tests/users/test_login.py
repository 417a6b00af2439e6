"""Logging in: the answer, one message for every bad credential, bad input, and the throttle."""

from __future__ import annotations

import pytest

from .helpers import PASSWORD, assert_error, bearer, unique_email


def test_login_returns_user_and_a_new_token_pair(api, register):
    account = register(name="Linus")
    resp = api.post("/api/auth/login", json={"email": account["email"], "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"user", "accessToken", "refreshToken", "expiresIn"}
    assert body["user"] == account["user"]
    assert body["expiresIn"] == 3600
    assert body["accessToken"] != account["accessToken"]
    assert api.get("/api/me", headers=bearer(body["accessToken"])).status_code == 200
    # the registration's login is still valid: logins are independent
    assert api.get("/api/me", headers=bearer(account["accessToken"])).status_code == 200


def test_login_email_is_case_insensitive(api, register):
    account = register(email=unique_email("MixedCase"))
    resp = api.post("/api/auth/login", json={"email": f"  {account['email'].upper()} ", "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    assert resp.json()["user"]["id"] == account["user"]["id"]


def test_wrong_password_and_unknown_email_get_the_same_401(api, register):
    account = register()
    wrong = api.post("/api/auth/login", json={"email": account["email"], "password": "not the password"})
    unknown = api.post("/api/auth/login", json={"email": unique_email("ghost"), "password": "not the password"})
    assert_error(wrong, 401)
    assert_error(unknown, 401)
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"password": "whatever1"}, "email"),
        ({"email": "", "password": "whatever1"}, "email"),
        ({"email": "a@example.com"}, "password"),
        ({"email": "a@example.com", "password": ""}, "password"),
        ({"email": ["a@example.com"], "password": "whatever1"}, "email"),
    ],
)
def test_login_rejects_bad_input_naming_the_field(api, payload, field):
    assert_error(api.post("/api/auth/login", json=payload), 422, field)


def test_repeated_failures_are_throttled_per_email_and_client_ip(api, register):
    account = register()
    email = account["email"]
    ip = {"X-TME-Client-IP": "203.0.113.7"}
    wrong = {"email": email, "password": "wrong-pass"}
    for _ in range(10):
        assert api.post("/api/auth/login", json=wrong, headers=ip).status_code == 401

    throttled = api.post("/api/auth/login", json={"email": email, "password": "wrong-pass"}, headers=ip)
    error = assert_error(throttled, 429)
    assert error["code"] == "rate_limited"
    retry_after = int(throttled.headers["Retry-After"])
    assert 0 < retry_after <= 15 * 60

    # even the right password waits until the window ends
    right = api.post("/api/auth/login", json={"email": email, "password": PASSWORD}, headers=ip)
    assert right.status_code == 429

    # another client IP for the same email is not affected
    other = api.post("/api/auth/login", json={"email": email, "password": PASSWORD},
                     headers={"X-TME-Client-IP": "198.51.100.9"})
    assert other.status_code == 200, other.text


def test_a_successful_login_resets_the_failure_count(api, register):
    account = register()
    email = account["email"]
    ip = {"X-TME-Client-IP": "203.0.113.8"}
    for _ in range(9):
        api.post("/api/auth/login", json={"email": email, "password": "wrong-pass"}, headers=ip)
    assert api.post("/api/auth/login", json={"email": email, "password": PASSWORD}, headers=ip).status_code == 200
    for _ in range(9):
        api.post("/api/auth/login", json={"email": email, "password": "wrong-pass"}, headers=ip)
    assert api.post("/api/auth/login", json={"email": email, "password": PASSWORD}, headers=ip).status_code == 200


def test_auth_events_are_counted_in_metrics(api, register):
    account = register()
    api.post("/api/auth/login", json={"email": account["email"], "password": "wrong-pass"})
    metrics = api.get("/metrics").text
    for event in ("register", "login_failure", "login_success", "login_throttled", "refresh", "refresh_reuse",
                  "logout"):
        assert f'tme_auth_events_total{{event="{event}"}}' in metrics
    failure_line = 'tme_auth_events_total{event="login_failure"}'
    failures = [line for line in metrics.splitlines() if line.startswith(failure_line)]
    assert float(failures[0].split()[-1]) >= 1


def test_a_hash_made_with_older_parameters_is_upgraded_on_login(api, db, register):
    from argon2 import PasswordHasher

    account = register()
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    db.execute("UPDATE users SET password_hash = $1 WHERE id = $2", weak, account["user"]["id"])

    assert api.post("/api/auth/login", json={"email": account["email"], "password": PASSWORD}).status_code == 200
    stored = db.fetchval("SELECT password_hash FROM users WHERE id = $1", account["user"]["id"])
    assert stored.startswith("$argon2id$") and "m=19456,t=2,p=1" in stored
    assert api.post("/api/auth/login", json={"email": account["email"], "password": PASSWORD}).status_code == 200
