"""Plain helpers for the users-service tests."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import httpx

PASSWORD = "correct horse battery"


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sha256(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def assert_error(resp: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    """The shared error shape, naming `field` in `fields` when given."""
    assert resp.status_code == status, resp.text
    error: dict[str, Any] = resp.json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["message"]
    if field is not None:
        assert field in error["fields"], error
    return error
