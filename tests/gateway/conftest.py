"""Gateway test helpers: accounts made through the public API, and extra gateway processes
wired to a stand-in upstream or to closed ports."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import unique_email
from schema_check import schema_hooks

from services.devstack import DevStack, ServiceProcess
from services.shared.embedded import free_port, port_open

PASSWORD = "correct horse battery staple"


@dataclass
class Account:
    email: str
    password: str
    user: dict[str, Any]
    project: dict[str, Any]
    access_token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    @property
    def project_id(self) -> int:
        """The first project's id (registration makes one)."""
        return int(self.project["id"])

    @property
    def write_key(self) -> str:
        return str(self.project["writeKey"])

    @property
    def team_id(self) -> int:
        """The personal team's id (registration makes one, owning the first project)."""
        return int(self.project["teamId"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register(client: httpx.Client, name: str = "Ada") -> Account:
    email = unique_email(name.lower())
    response = client.post("/api/auth/register", json={"name": name, "email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    body = response.json()
    return Account(email, PASSWORD, body["user"], body["project"], body["accessToken"], body["refreshToken"])


def login(client: httpx.Client, account: Account) -> str:
    response = client.post("/api/auth/login", json={"email": account.email, "password": account.password})
    assert response.status_code == 200, response.text
    return str(response.json()["accessToken"])


@pytest.fixture
def alice(client: httpx.Client) -> Account:
    return register(client, "Alice")


@pytest.fixture
def bob(client: httpx.Client) -> Account:
    return register(client, "Bob")


class ExtraGateway:
    """Another gateway process on a free port, with its own TME_* overrides. Its clients check every
    answer against the OpenAPI document, unless `checked=False` (upstreams that are stand-ins)."""

    def __init__(self, stack: DevStack, env: dict[str, str], *, checked: bool = True) -> None:
        self.lines: list[str] = []
        self.checked = checked
        port = free_port()
        self.process = ServiceProcess("gateway", port, {**stack.service_env("gateway"), "TME_PORT": str(port), **env},
                                      lambda _name, line: self.lines.append(line))
        self.url = self.process.url

    def __enter__(self) -> ExtraGateway:
        self.process.start()
        self.process.wait_healthy(timeout=60)
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.stop()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, event_hooks=schema_hooks() if self.checked else None)


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    """The stand-in upstream (tests/gateway/echo_upstream.py) on a free port."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("echo_upstream.py")), str(port)],
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not port_open(port):
            assert proc.poll() is None, "echo upstream exited while starting"
            assert time.monotonic() < deadline, "echo upstream did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def echo_gateway(stack: DevStack, echo_url: str) -> Iterator[ExtraGateway]:
    """A gateway whose users and tracking upstreams are the echo server; upstream timeout 1 s;
    the dashboard API allows CORS from https://dash.example.com. The echo's answers are not the
    API's: they are not checked against the OpenAPI document."""
    env = {"TME_USERS_URL": echo_url, "TME_TRACKING_URL": echo_url, "TME_UPSTREAM_TIMEOUT_SECONDS": "1",
           "TME_CORS_ORIGINS": "https://dash.example.com", "TME_LOG_LEVEL": "WARNING",
           "TME_WORKERS": "1"}  # one process: the tests count the lookups its token cache saves
    with ExtraGateway(stack, env, checked=False) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def down_gateway(stack: DevStack) -> Iterator[ExtraGateway]:
    """A gateway whose users and tracking services are unreachable (closed ports)."""
    env = {"TME_USERS_URL": f"http://127.0.0.1:{free_port()}", "TME_TRACKING_URL": f"http://127.0.0.1:{free_port()}"}
    with ExtraGateway(stack, env) as gateway:
        yield gateway
