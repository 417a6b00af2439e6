"""PostgreSQL access: an asyncpg pool for hot paths (ingest, analytics) and a SQLModel async
engine (SQLAlchemy over asyncpg) for the account data."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import orjson
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession


def plain_url(url: str) -> str:
    """`postgresql://...` as asyncpg/libpq want it (drops a SQLAlchemy driver suffix)."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme == "postgres":
        scheme = "postgresql"
    return urlunsplit((scheme, *parts[1:]))


def sqlalchemy_url(url: str) -> str:
    parts = urlsplit(plain_url(url))
    return urlunsplit(("postgresql+asyncpg", *parts[1:]))


async def _init_connection(conn: asyncpg.Connection) -> None:
    """JSON columns read with orjson: a number beyond 64 bits (a property of 1e20, which PostgreSQL
    keeps as the integer 100000000000000000000) comes back as a float, as JSON clients read it,
    not as a Python int that no answer could serialise."""
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=orjson.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=orjson.loads, schema="pg_catalog")


async def create_pool(url: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        plain_url(url), min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=60
    )
    assert pool is not None
    return pool


@asynccontextmanager
async def locked_connection(url: str, key: int, *, wait: bool = False) -> AsyncIterator[asyncpg.Connection | None]:
    """A connection of its own holding the session-level advisory lock `key` (the work it guards
    runs at most once at a time across processes and pods), or None when another holds it; with
    `wait`, after waiting for it. Unlocked and closed on exit."""
    conn = await asyncpg.connect(plain_url(url))
    try:
        if wait:
            await conn.execute("SELECT pg_advisory_lock($1)", key)
        elif not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
            yield None
            return
        try:
            yield conn
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", key)
    finally:
        await conn.close()


def create_engine(url: str, *, pool_size: int = 5) -> AsyncEngine:
    return create_async_engine(sqlalchemy_url(url), pool_size=pool_size, pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)



async def session_connection(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under a SQLModel session, inside the session's transaction: for
    shared asyncpg code (services/lifecycle/jobs.py) in a service that uses SQLModel. SQLAlchemy
    begins its transaction lazily, at its first statement: one is sent when none was yet, so that
    what goes to the driver connection runs in the session's transaction, committed with it."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    driver = cast(asyncpg.Connection, raw.driver_connection)
    if not driver.is_in_transaction():
        await conn.exec_driver_sql("SELECT 1")
    return driver
