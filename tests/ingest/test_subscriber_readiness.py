"""The subscriber's /readyz checks the connections it really works through: its writer's
PostgreSQL connection (no pool is kept for the check) and the Redis client its consumer reads
with. A subscriber of its own runs here, on a database and a Redis database of its own, so that
the shared stack's stream and database are left alone."""

from __future__ import annotations

from typing import Any

import httpx
import redis
from conftest import Database, database_at

from services.devstack import DevStack
from services.shared.embedded import free_port
from services.shared.redis import DEAD_LETTER_STREAM, EVENTS_STREAM

from .helpers import wait_until

OWN_REDIS_DB = 5  # the stack uses database 0


def readiness(url: str) -> tuple[int, dict[str, Any]]:
    response = httpx.get(f"{url}/readyz", timeout=10)
    return response.status_code, response.json()["checks"]


def test_readiness_answers_503_while_the_writers_database_is_unreachable(stack: DevStack, db: Database,
                                                                           database_url: str, redis_url: str) -> None:
    own = database_at(db, database_url, "head", prefix="readiness")
    name = own.url.rsplit("/", 1)[1]
    own_redis = f"{redis_url.rsplit('/', 1)[0]}/{OWN_REDIS_DB}"
    subscriber = stack.start_service("subscriber", key="subscriber-readiness", port=free_port(),
                                     env={"TME_DATABASE_URL": own.url, "TME_REDIS_URL": own_redis})
    try:
        wait_until(lambda: readiness(subscriber.url)[0] == 200, 30, "the subscriber to be ready")
        assert readiness(subscriber.url) == (200, {"postgres": "ok", "redis": "ok", "consumer": "ok"})
        # its one connection to the database is the writer's
        assert db.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = $1", name) == 1

        db.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        wait_until(lambda: readiness(subscriber.url)[0] == 503, 30, "the subscriber to be unready")
        status, checks = readiness(subscriber.url)
        assert status == 503
        assert checks["postgres"].startswith("unavailable: ")
        assert (checks["redis"], checks["consumer"]) == ("ok", "ok")

        db.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        wait_until(lambda: readiness(subscriber.url)[0] == 200, 30, "the subscriber to be ready again")
    finally:
        subscriber.stop()
        del stack.services["subscriber-readiness"]
        db.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        with redis.Redis.from_url(own_redis) as rds:
            rds.delete(EVENTS_STREAM, DEAD_LETTER_STREAM)
