"""Fixtures of the data lifecycle tests, some shared with the tracking tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from tracking.conftest import rollup_url  # noqa: F401  (a tracking instance answering from rollups whatever the size)


@pytest.fixture(scope="session")
def rds(redis_url: str) -> Iterator[redis.Redis]:
    """A Redis client of the stack's Redis (dead letters, shared write keys)."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()
