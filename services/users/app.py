"""Users service: accounts, login sessions and tokens, projects and write keys."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette

from services.shared.app import create_service_app, postgres_check
from services.shared.db import create_pool
from services.users.settings import UsersSettings


def create_app(settings: UsersSettings | None = None) -> Starlette:
    settings = settings or UsersSettings()
    settings.require("database_url")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.pool = await create_pool(settings.database_url, min_size=settings.db_pool_min,
                                           max_size=settings.db_pool_max)
        try:
            yield
        finally:
            await app.state.pool.close()

    return create_service_app(settings=settings, routes=[], lifespan=lifespan,
                              ready_checks={"postgres": postgres_check})
