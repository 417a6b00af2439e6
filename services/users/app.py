"""Users service: accounts, login sessions and tokens, projects and write keys."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import text
from starlette.applications import Starlette

from services.shared.app import create_service_app, redis_check
from services.shared.db import create_engine, session_factory
from services.shared.redis import create_redis
from services.users.cleanup import cleanup_loop
from services.users.passwords import Passwords
from services.users.routes import all_routes
from services.users.settings import UsersSettings
from services.users.state import UsersState
from services.users.throttle import LoginThrottle, RegistrationLimit


async def postgres_check(app: Starlette) -> None:
    state: UsersState = app.state.users
    async with state.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


def create_app(settings: UsersSettings | None = None) -> Starlette:
    settings = settings or UsersSettings()
    settings.require("database_url", "redis_url", "internal_token")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url, pool_size=settings.db_pool_max)
        redis = create_redis(settings.redis_url)
        app.state.redis = redis
        app.state.engine = engine  # pool metrics (shared/monitor.py)
        app.state.users = UsersState(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            redis=redis,
            passwords=await asyncio.to_thread(Passwords, settings),
            throttle=LoginThrottle.from_settings(redis, settings),
            registrations=RegistrationLimit.from_settings(redis, settings),
        )
        cleanup = None
        if settings.token_cleanup_interval_seconds > 0:
            cleanup = asyncio.create_task(cleanup_loop(
                engine, interval_seconds=settings.token_cleanup_interval_seconds,
                refresh_days=settings.refresh_token_ttl_days))
        try:
            yield
        finally:
            if cleanup is not None:
                cleanup.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await cleanup
            await redis.aclose()
            await engine.dispose()

    return create_service_app(settings=settings, routes=all_routes(), lifespan=lifespan,
                              ready_checks={"postgres": postgres_check, "redis": redis_check}, internal_only=True)
