"""Fixtures for the users-service tests: they talk HTTP straight to the users service."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from conftest import INTERNAL

from .helpers import PASSWORD, unique_email


@pytest.fixture
def api(users_url: str) -> Iterator[httpx.Client]:
    """A client of the users service as the gateway calls it (with the internal token)."""
    with httpx.Client(base_url=users_url, timeout=30, headers=INTERNAL) as client:
        yield client


@pytest.fixture
def register(api: httpx.Client) -> Callable[..., dict[str, Any]]:
    """Register a fresh account; returns the 201 body plus the email and password used."""

    def _register(name: str = "Ada", email: str | None = None, password: str = PASSWORD) -> dict[str, Any]:
        email = email or unique_email()
        resp = api.post("/api/auth/register", json={"name": name, "email": email, "password": password})
        assert resp.status_code == 201, resp.text
        return {**resp.json(), "email": email, "password": password}

    return _register


@pytest.fixture
def login(api: httpx.Client) -> Callable[..., dict[str, Any]]:
    """Log in (a new login session); returns the 200 body."""

    def _login(email: str, password: str = PASSWORD, **headers: str) -> dict[str, Any]:
        resp = api.post("/api/auth/login", json={"email": email, "password": password}, headers=headers)
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body

    return _login
