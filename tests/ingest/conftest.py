"""Fixtures of the ingest tests: a fresh project (write key) per test, a Redis client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis

from .helpers import Project, new_project


@pytest.fixture
def project(client: httpx.Client) -> Project:
    return new_project(client)


@pytest.fixture(scope="session")
def rds(redis_url: str) -> Iterator[redis.Redis]:
    r = redis.Redis.from_url(redis_url)
    yield r
    r.close()
