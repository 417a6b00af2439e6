"""Login and registration limits: failed logins per account (from any address) and per client
address (for any account), registrations per address, and a client that cannot choose its
address through the gateway by writing X-Forwarded-For.

These run on users processes of their own with small limits and their own Redis database
(the suite's stack registers hundreds of accounts from 127.0.0.1 and lifts the registration
limit)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from conftest import INTERNAL
from schema_check import schema_hooks

from services.devstack import DevStack, ServiceProcess
from services.shared.embedded import free_port

from .helpers import PASSWORD, assert_error, unique_email

LIMITS = {"TME_LOGIN_MAX_FAILURES": "2", "TME_LOGIN_MAX_FAILURES_PER_ACCOUNT": "4",
          "TME_LOGIN_MAX_FAILURES_PER_ADDRESS": "5", "TME_REGISTER_MAX_PER_ADDRESS": "3"}


def _address() -> str:
    return f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"  # a fresh documentation address


def _own_redis_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


@pytest.fixture(scope="module")
def limited_users(stack: DevStack) -> Iterator[ServiceProcess]:
    port = free_port()
    env = {**stack.service_env("users"), "TME_PORT": str(port), "TME_REDIS_URL": _own_redis_db(stack.redis_url, 3),
           "TME_LOG_LEVEL": "WARNING", **LIMITS}
    process = ServiceProcess("users", port, env, lambda _name, _line: None)
    process.start()
    try:
        process.wait_healthy(timeout=60)
        yield process
    finally:
        process.stop()


@pytest.fixture
def users(limited_users: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=limited_users.url, timeout=30, headers=INTERNAL) as client:
        yield client


def _register(users: httpx.Client) -> str:
    email = unique_email("throttle")
    response = users.post("/api/auth/register", json={"name": "T", "email": email, "password": PASSWORD},
                          headers={"X-TME-Client-IP": _address()})
    assert response.status_code == 201, response.text
    return email


def _login(users: httpx.Client, email: str, password: str, address: str) -> httpx.Response:
    return users.post("/api/auth/login", json={"email": email, "password": password},
                      headers={"X-TME-Client-IP": address})


def test_failures_from_many_addresses_lock_the_account(users: httpx.Client) -> None:
    email = _register(users)
    for _ in range(4):  # one failure from each of four addresses: no single address is throttled
        assert _login(users, email, "wrong-pass", _address()).status_code == 401
    throttled = _login(users, email, "wrong-pass", _address())
    error = assert_error(throttled, 429)
    assert error["code"] == "rate_limited"
    assert 0 < int(throttled.headers["Retry-After"]) <= 15 * 60
    assert _login(users, email, PASSWORD, _address()).status_code == 429  # until the window ends
    assert users.get("/healthz").status_code == 200


def test_a_successful_login_clears_the_account_count(users: httpx.Client) -> None:
    email = _register(users)
    for _ in range(3):
        assert _login(users, email, "wrong-pass", _address()).status_code == 401
    assert _login(users, email, PASSWORD, _address()).status_code == 200
    for _ in range(3):
        assert _login(users, email, "wrong-pass", _address()).status_code == 401
    assert _login(users, email, PASSWORD, _address()).status_code == 200


def test_one_address_trying_many_accounts_is_throttled(users: httpx.Client) -> None:
    address = _address()
    real = _register(users)
    for _ in range(5):
        assert _login(users, unique_email("guess"), "wrong-pass", address).status_code == 401
    assert_error(_login(users, unique_email("guess"), "wrong-pass", address), 429)
    # even a right password waits from that address (its count is not cleared by a success)...
    assert _login(users, real, PASSWORD, address).status_code == 429
    # ...while the account works from anywhere else
    assert _login(users, real, PASSWORD, _address()).status_code == 200


def test_registrations_are_limited_per_address(users: httpx.Client) -> None:
    address = _address()
    for _ in range(3):
        created = users.post("/api/auth/register", json={"name": "R", "email": unique_email("reg"),
                                                         "password": PASSWORD},
                             headers={"X-TME-Client-IP": address})
        assert created.status_code == 201, created.text
    refused = users.post("/api/auth/register", json={"name": "R", "email": unique_email("reg"), "password": PASSWORD},
                         headers={"X-TME-Client-IP": address})
    error = assert_error(refused, 429)
    assert error["code"] == "rate_limited"
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    other = users.post("/api/auth/register", json={"name": "R", "email": unique_email("reg"), "password": PASSWORD},
                       headers={"X-TME-Client-IP": _address()})
    assert other.status_code == 201, other.text


@pytest.fixture(scope="module")
def gateway_to_limited_users(stack: DevStack, limited_users: ServiceProcess) -> Iterator[str]:
    """A gateway (default trusted proxies: none) in front of the limited users service."""
    port = free_port()
    env = {**stack.service_env("gateway"), "TME_PORT": str(port), "TME_USERS_URL": limited_users.url,
           "TME_WORKERS": "1", "TME_LOG_LEVEL": "WARNING"}
    env.pop("TME_FORWARDED_ALLOW_IPS", None)
    process = ServiceProcess("gateway", port, env, lambda _name, _line: None)
    process.start()
    try:
        process.wait_healthy(timeout=60)
        yield process.url
    finally:
        process.stop()


def test_a_client_cannot_escape_the_limits_by_writing_x_forwarded_for(gateway_to_limited_users: str) -> None:
    email = unique_email("xff")
    with httpx.Client(base_url=gateway_to_limited_users, timeout=30, event_hooks=schema_hooks()) as client:
        registered = client.post("/api/auth/register", json={"name": "X", "email": email, "password": PASSWORD},
                                 headers={"X-Forwarded-For": _address()})
        assert registered.status_code == 201, registered.text
        answers = [client.post("/api/auth/login", json={"email": email, "password": "wrong-pass"},
                               headers={"X-Forwarded-For": f"{_address()}, {_address()}"}).status_code
                   for _ in range(3)]
        assert answers == [401, 401, 429]  # the same client each time: 2 failures per email + address
        assert client.get("/healthz").status_code == 200
