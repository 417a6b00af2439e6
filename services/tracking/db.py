"""Running analytics SQL on the service's asyncpg pool with a time limit: a query that runs
too long is cancelled and answered with a 503 that says so, never a 500."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.shared.errors import ApiError, QueryTimeout


class Db:
    def __init__(self, pool: asyncpg.Pool, timeout: float) -> None:
        self.pool = pool
        self.timeout = timeout

    async def fetch(self, sql: str, args: list[Any]) -> list[asyncpg.Record]:
        try:
            async with self.pool.acquire() as conn:
                return await conn.fetch(sql, *args, timeout=self.timeout)
        except (TimeoutError, asyncpg.QueryCanceledError):
            raise too_slow() from None

    async def fetchrow(self, sql: str, args: list[Any]) -> asyncpg.Record | None:
        rows = await self.fetch(sql, args)
        return rows[0] if rows else None


def too_slow() -> ApiError:
    return QueryTimeout("The query took too long; narrow the range or the filters.")
