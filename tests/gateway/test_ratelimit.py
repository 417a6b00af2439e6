"""Per-write-key ingest rate limit: one project's key that sends too much gets 429 with
Retry-After in the shared error shape, and other projects' events still land."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.devstack import DevStack
from services.gateway.ingest.ratelimit import IngestRateLimit
from services.shared.errors import ApiError

from .conftest import Account, ExtraGateway


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _event() -> dict[str, Any]:
    return {"eventName": "Clicked", "userId": "u-1", "messageId": str(uuid.uuid4())}


def _send(client: httpx.Client, key: str, events: int) -> httpx.Response:
    return client.post("/api/track", json={"apiKey": key, "batch": [_event() for _ in range(events)]})


def test_a_bucket_lets_a_burst_through_then_the_rate() -> None:
    clock = Clock()
    limit = IngestRateLimit(rate=10, burst=20, max_keys=100, clock=clock)
    limit.take(1, 20)  # the whole burst at once
    with pytest.raises(ApiError) as refused:
        limit.take(1, 5)
    assert refused.value.status == 429 and refused.value.code == "rate_limited"
    assert refused.value.headers["Retry-After"] == "1"  # 5 events at 10/s: within a second
    limit.take(2, 20)  # another project has its own bucket
    clock.now += 0.5
    limit.take(1, 5)  # refilled 5 in half a second
    with pytest.raises(ApiError):
        limit.take(1, 1)
    clock.now += 100
    limit.take(1, 500)  # a batch larger than the burst costs a full bucket, once full


def test_a_refused_request_takes_nothing_and_a_zero_rate_is_no_limit() -> None:
    clock = Clock()
    limit = IngestRateLimit(rate=1, burst=10, max_keys=100, clock=clock)
    limit.take(1, 8)
    with pytest.raises(ApiError) as refused:
        limit.take(1, 5)
    assert refused.value.headers["Retry-After"] == "3"
    limit.take(1, 2)  # the refused 5 were not spent
    unlimited = IngestRateLimit(rate=0, burst=1, max_keys=1, clock=clock)
    for project in range(1000):
        unlimited.take(project, 10_000)


def test_the_buckets_are_bounded() -> None:
    clock = Clock()
    limit = IngestRateLimit(rate=1, burst=10, max_keys=3, clock=clock)
    for project in range(50):
        limit.take(project, 1)
    assert len(limit._buckets) <= 3


@pytest.fixture(scope="module")
def limited_gateway(stack: DevStack) -> Iterator[ExtraGateway]:
    """A gateway letting each write key send 5 events/s, bursts of 10 (one process)."""
    env = {"TME_INGEST_RATE_PER_KEY": "5", "TME_INGEST_RATE_BURST": "10", "TME_WORKERS": "1"}
    with ExtraGateway(stack, env) as gateway:
        yield gateway


def test_a_flooding_write_key_gets_429_and_other_projects_still_land(
    limited_gateway: ExtraGateway, alice: Account, bob: Account,
) -> None:
    with limited_gateway.client() as client:
        assert _send(client, alice.project["writeKey"], 10).status_code == 200  # the burst
        flooded = _send(client, alice.project["writeKey"], 3)
        assert flooded.status_code == 429, flooded.text
        assert flooded.json()["error"]["code"] == "rate_limited"
        assert "events per second" in flooded.json()["error"]["message"]
        assert int(flooded.headers["Retry-After"]) >= 1
        assert flooded.headers["Access-Control-Allow-Origin"] == "*"  # a browser SDK can read it and back off

        other = _send(client, bob.project["writeKey"], 10)
        assert other.status_code == 200 and other.json()["accepted"] == 10
        assert client.get("/healthz").status_code == 200
