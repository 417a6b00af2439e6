"""Users service: accounts, login sessions and tokens, projects and write keys."""

from __future__ import annotations

import asyncio
import contextlib

from starlette.applications import Starlette

from services.shared.app import create_service_app
from services.shared.db import create_engine, session_factory
from services.shared.redis import create_redis
from services.users.cleanup import cleanup_loop
from services.users.passwords import Passwords
from services.users.routes import all_routes
from services.users.settings import UsersSettings
from services.users.state import UsersState
from services.users.throttle import LoginThrottle, RegistrationLimit


async def open_state(stack: contextlib.AsyncExitStack, settings: UsersSettings) -> UsersState:
    """The service's resources and loops, entered into `stack` (closed in reverse on exit)."""
    engine = create_engine(settings.database_url, pool_size=settings.db_pool_max)
    stack.push_async_callback(engine.dispose)
    redis = create_redis(settings.redis_url)
    stack.push_async_callback(redis.aclose)
    state = UsersState(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        redis=redis,
        passwords=await asyncio.to_thread(Passwords, settings),
        throttle=LoginThrottle.from_settings(redis, settings),
        registrations=RegistrationLimit.from_settings(redis, settings),
    )
    if settings.token_cleanup_interval_seconds > 0:
        await stack.enter_async_context(cleanup_loop(engine, settings))
    return state


def create_app(settings: UsersSettings | None = None) -> Starlette:
    settings = settings or UsersSettings()
    settings.require("database_url", "redis_url", "internal_token")
    config = settings

    async def build(stack: contextlib.AsyncExitStack) -> UsersState:
        return await open_state(stack, config)

    return create_service_app(settings=settings, routes=all_routes(), build=build, internal_only=True)
