"""What the users service keeps for its lifetime (built in the app lifespan), typed."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request

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


def users_state(request: Request) -> UsersState:
    state: UsersState = request.app.state.users
    return state
