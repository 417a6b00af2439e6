"""Run a multi-statement SQL script inside an Alembic migration.

asyncpg prepares each statement, which refuses several commands at once; its plain
`execute()` without arguments uses the simple query protocol, which runs a whole script
(functions with $$ bodies included) in the migration's transaction."""

from __future__ import annotations

from alembic import op
from sqlalchemy.util import await_


def run_script(sql: str) -> None:
    driver_conn = op.get_bind().connection.dbapi_connection.driver_connection  # type: ignore[union-attr]
    await_(driver_conn.execute(sql))
