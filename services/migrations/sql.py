"""Run a multi-statement SQL script inside an Alembic migration.

asyncpg prepares each statement, which refuses several commands at once; its plain
`execute()` without arguments uses the simple query protocol, which runs a whole script
(functions with $$ bodies included) in the migration's transaction."""

from __future__ import annotations

import asyncpg
from alembic import op
from sqlalchemy.util import await_


def driver_connection() -> asyncpg.Connection:
    """The asyncpg connection under the migration's SQLAlchemy connection (its asyncpg dialect)."""
    conn = op.get_bind().connection.driver_connection
    assert isinstance(conn, asyncpg.Connection)
    return conn


def run_script(sql: str) -> None:
    await_(driver_connection().execute(sql))
