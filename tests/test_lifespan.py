"""A service's lifespan (services/shared/app.py): what its start-up opened is closed again when
the start-up fails halfway, and its background loops (services/shared/background.py) outlive
failing steps and stop with the service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

import asyncpg
import pytest
import redis.asyncio as aioredis
from conftest import Database
from prometheus_client import REGISTRY

from services.shared.app import create_service_app
from services.shared.background import BackgroundLoop
from services.shared.db import create_pool
from services.shared.embedded import free_port
from services.shared.probes import Probes, pool_check
from services.shared.redis import create_redis
from services.shared.settings import ServiceSettings
from services.tracking.rollups.job import rollup_loop
from services.tracking.settings import TrackingSettings


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="&".join(q for q in (parts.query, urlencode(params)) if q)))


async def poll(count: Callable[[], Awaitable[int]], expected: int, what: str) -> None:
    """Wait until `count()` is `expected` (a server notices a closed connection a moment later)."""
    try:
        async with asyncio.timeout(30):
            while await count() != expected:  # noqa: ASYNC110 -- polling what the servers report
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"{what}: still {await count()}, expected {expected}") from None


@pytest.fixture
def own_logging() -> Iterator[None]:
    """create_service_app configures the process's logging; the test process gets its own back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@dataclass
class HalfwayState:
    pool: asyncpg.Pool
    redis: aioredis.Redis

    def probes(self) -> Probes:
        return Probes(checks={"postgres": pool_check(self.pool), "redis": self.redis.ping})


def test_a_service_whose_start_up_fails_halfway_closes_what_it_had_opened(
        database_url: str, redis_url: str, db: Database, own_logging: None) -> None:
    """Its database pool, its Redis connection and a background loop were open when its second
    database turned out to be unreachable: the start-up fails with that error, and nothing it
    had opened is left behind."""
    name = f"tme-halfway-{uuid.uuid4().hex[:8]}"
    unreachable = f"postgresql://tme@127.0.0.1:{free_port()}/tme"  # nothing listens there
    loops: list[BackgroundLoop] = []

    async def backends() -> int:
        return int(await asyncio.to_thread(db.fetchval, "SELECT count(*) FROM pg_stat_activity "
                                                        "WHERE application_name = $1", name))

    async def scenario() -> None:
        probe = aioredis.Redis.from_url(redis_url)

        async def redis_clients() -> int:
            return sum(1 for client in await probe.client_list() if client.get("name") == name)

        async def build(stack: contextlib.AsyncExitStack) -> HalfwayState:
            pool = await create_pool(with_query(database_url, application_name=name), min_size=2, max_size=2)
            stack.push_async_callback(pool.close)
            redis = create_redis(with_query(redis_url, client_name=name))
            stack.push_async_callback(redis.aclose)
            await redis.ping()
            loops.append(await stack.enter_async_context(
                BackgroundLoop("halfway", "pings", redis.ping, interval=0.05)))
            assert (await backends(), await redis_clients(), loops[0].alive) == (2, 1, True)
            await create_pool(unreachable)  # the start-up fails here
            return HalfwayState(pool, redis)

        app = create_service_app(settings=ServiceSettings(service_name="halfway", log_level="WARNING"),
                                 routes=[], build=build)
        try:
            with pytest.raises(OSError):
                async with app.router.lifespan_context(app):
                    pytest.fail("the start-up should have failed")
            assert loops and not loops[0].alive
            await poll(backends, 0, "PostgreSQL connections of the pool")
            await poll(redis_clients, 0, "Redis connections of the client")
        finally:
            await probe.aclose()

    asyncio.run(scenario())


def test_a_background_loop_outlives_failing_steps_and_stops_with_the_service(database_url: str) -> None:
    """The rollup job against a database that does not exist: every run fails and is counted,
    and the job tries again (after a back-off) until the service stops it."""
    missing = urlunsplit(urlsplit(database_url)._replace(path=f"/missing_{uuid.uuid4().hex[:8]}"))
    settings = TrackingSettings(database_url=missing, rollup_interval_seconds=0.01)

    def failures() -> float:
        return REGISTRY.get_sample_value("tme_background_loop_failures_total",
                                         {"service": "tracking", "loop": "rollups"}) or 0.0

    def errors() -> float:
        return REGISTRY.get_sample_value("tme_rollup_runs_total", {"outcome": "error"}) or 0.0

    async def scenario() -> None:
        before, errors_before = failures(), errors()
        async with rollup_loop(settings) as job:
            async with asyncio.timeout(60):
                while failures() < before + 2:  # noqa: ASYNC110 -- polling a metric the loop moves
                    await asyncio.sleep(0.05)
            assert job.alive
        assert not job.alive
        assert errors() - errors_before == failures() - before >= 2

    asyncio.run(scenario())
