"""Fixtures: the whole stack, real PostgreSQL and Redis, real service processes over real HTTP.

One stack per test session (embedded PostgreSQL and Redis on free ports, migrations applied,
the four services started as `python -m services.<name>`). Logs go to tests/.logs/stack.log.
Set TME_TEST_DATABASE_URL / TME_TEST_REDIS_URL to run against external servers instead."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from schema_check import schema_hooks, unchecked

from services.devstack import DevStack
from services.shared.embedded import free_port
from services.shared.internal_auth import internal_headers

LOG_DIR = Path(__file__).parent / ".logs"
# the stacks the tests start share one internal token (DevStack takes it from the environment),
# so tests that call users or tracking directly, as the gateway does, can send it
os.environ.setdefault("TME_INTERNAL_TOKEN", uuid.uuid4().hex)
INTERNAL = internal_headers(os.environ["TME_INTERNAL_TOKEN"])


class FileSink:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(path, "a", buffering=1)

    def __call__(self, name: str, line: str) -> None:
        self.file.write(f"{name:<10} | {line}\n")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    data_dir = tmp_path_factory.mktemp("stack")
    ports = {name: free_port() for name in ("gateway", "users", "tracking", "subscriber")}
    dev = DevStack(
        data_dir,
        ports=ports,
        database_url=os.environ.get("TME_TEST_DATABASE_URL") or None,
        redis_url=os.environ.get("TME_TEST_REDIS_URL") or None,
        pg_port=free_port(),
        redis_port=free_port(),
        sink=FileSink(LOG_DIR / "stack.log"),
        # the suite registers hundreds of accounts from 127.0.0.1; the per-address registration
        # limit is tested on a users process of its own (tests/users/test_throttles.py)
        extra_env={"TME_LOG_LEVEL": "INFO", "TME_REGISTER_MAX_PER_ADDRESS": "1000000"},
    )
    try:
        dev.start()
        yield dev
    finally:
        dev.stop()


@pytest.fixture(scope="session")
def gateway_url(stack: DevStack) -> str:
    return stack.gateway_url


@pytest.fixture(scope="session")
def users_url(stack: DevStack) -> str:
    return stack.services["users"].url


@pytest.fixture(scope="session")
def tracking_url(stack: DevStack) -> str:
    return stack.services["tracking"].url


@pytest.fixture(scope="session")
def database_url(stack: DevStack) -> str:
    return stack.database_url


@pytest.fixture(scope="session")
def redis_url(stack: DevStack) -> str:
    return stack.redis_url


@pytest.fixture
def client(gateway_url: str) -> Iterator[httpx.Client]:
    """An HTTP client pointed at the public gateway; every answer is checked against the OpenAPI
    document the gateway serves (tests/schema_check.py)."""
    with httpx.Client(base_url=gateway_url, timeout=30, event_hooks=schema_hooks()) as c:
        yield c


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "unchecked_responses(reason): the test sends requests the OpenAPI "
                                       "document deliberately lacks; the gateway's answers are not checked")


@pytest.fixture(autouse=True)
def _unchecked_responses(request: pytest.FixtureRequest) -> Iterator[None]:
    """`@pytest.mark.unchecked_responses("why")` turns the answers' schema check off for one test."""
    if request.node.get_closest_marker("unchecked_responses") is None:
        yield
    else:
        with unchecked():
            yield


class Database:
    """Synchronous helper over a real asyncpg connection, for tests that look at rows."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def _run(self, method: str, query: str, *args: Any) -> Any:
        conn = await asyncpg.connect(self.url)
        try:
            return await getattr(conn, method)(query, *args)
        finally:
            await conn.close()

    def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        return asyncio.run(self._run("fetch", query, *args))

    def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        return asyncio.run(self._run("fetchrow", query, *args))

    def fetchval(self, query: str, *args: Any) -> Any:
        return asyncio.run(self._run("fetchval", query, *args))

    def execute(self, query: str, *args: Any) -> str:
        return asyncio.run(self._run("execute", query, *args))


@pytest.fixture(scope="session")
def db(database_url: str) -> Database:
    return Database(database_url)


def database_at(db: Database, database_url: str, revision: str, prefix: str = "upgrade") -> Database:
    """A new database on the test server, migrated to `revision` with the real `tme migrate`: rows
    inserted in it are those an earlier release stored, before the next migrations run."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    db.execute(f"CREATE DATABASE {name}")
    old = Database(database_url.rsplit("/", 1)[0] + f"/{name}")
    migrate(old.url, revision)
    return old


def migrate(url: str, revision: str = "head") -> None:
    subprocess.run([sys.executable, "-m", "services.cli", "migrate", revision], check=True, timeout=120,
                   env={**os.environ, "TME_DATABASE_URL": url}, stdout=subprocess.DEVNULL)


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"



@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """In CI a test that cannot run must fail loudly, never skip quietly."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI (CI=true forbids skips): {report.longrepr}"
