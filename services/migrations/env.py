"""Alembic environment: runs migrations over asyncpg against TME_DATABASE_URL."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from services.shared.db import sqlalchemy_url

config = context.config


def _url() -> str:
    url = config.attributes.get("database_url") or os.environ.get("TME_DATABASE_URL", "")
    if not url:
        raise RuntimeError("TME_DATABASE_URL is not set")
    return sqlalchemy_url(url)


# Any constant: every migrator (the Helm hook Job, init containers, `tme dev`, several replicas
# starting at once) takes this lock first, so only one applies migrations and the others then
# find the schema already at head.
MIGRATION_LOCK_KEY = 7_345_102_231


def _run(connection: Connection) -> None:
    connection.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")
    connection.commit()  # a session lock: it outlives this transaction, until the connection closes
    context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    engine = create_async_engine(_url())
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_main())
