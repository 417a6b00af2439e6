"""What the users service keeps for its lifetime (built in the app lifespan, services/users/app.py),
typed, and what its `/readyz` and dependency monitor check: the engine and Redis client its
requests use."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request

from services.shared.app import state_of
from services.shared.probes import Probes, engine_check, engine_usage
from services.users.passwords import Passwords
from services.users.settings import UsersSettings
from services.users.throttle import LoginThrottle, RegistrationLimit


@dataclass
class UsersState:
    settings: UsersSettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: aioredis.Redis
    passwords: Passwords
    throttle: LoginThrottle
    registrations: RegistrationLimit

    def probes(self) -> Probes:
        return Probes(checks={"postgres": engine_check(self.engine), "redis": self.redis.ping},
                      pool=engine_usage(self.engine), redis=self.redis)


def users_state(request: Request) -> UsersState:
    return state_of(request.app, UsersState)
