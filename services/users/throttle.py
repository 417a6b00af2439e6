"""Login and registration throttles: fixed Redis windows, shared by every users process and pod.

Failed logins are counted three ways, each in its own window (counted from its first failure):
- per email and client address (`login_max_failures`): one source guessing one account;
- per email from anywhere (`login_max_failures_per_account`): guessing spread over many
  addresses. Higher than the first, so someone else's failures do not lock the owner out at
  once; beyond it the owner waits too (the price of stopping distributed guessing);
- per client address for any email (`login_max_failures_per_address`): one source trying many
  accounts.
A login is refused (429) while any of them is full, with the seconds until the longest full
window ends; a successful login clears the first two (not the address's: a valid account of the
attacker's own must not wipe its count).

Registrations are counted per client address (`register_max_per_address` per
`register_window_seconds`), every attempt with a valid body, so they cannot be used to mass-create
accounts or to probe which emails are registered.

The client address is the one the gateway reports (X-TME-Client-IP: uvicorn's right-most
untrusted X-Forwarded-For hop, services/shared/serve.py). Keys are hashed: no email address or
IP in Redis key names. A Redis outage fails open: it must not lock everyone out."""

from __future__ import annotations

import hashlib
import logging

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from services.users.settings import UsersSettings

log = logging.getLogger("tme.users.throttle")


def _key(kind: str, *parts: str) -> str:
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()
    return f"tme:{kind}:{digest}"


def _email(email: str) -> str:
    return email.strip().lower()


async def _wait(redis: aioredis.Redis, limits: list[tuple[str, int]]) -> int | None:
    """Seconds until every full counter of `limits` ([(key, limit)]) has expired, else None."""
    async with redis.pipeline(transaction=False) as pipe:
        for key, _ in limits:
            pipe.get(key)
            pipe.ttl(key)
        replies = await pipe.execute()
    waits = [max(int(ttl), 1) for (_, limit), count, ttl in zip(limits, replies[::2], replies[1::2], strict=True)
             if count is not None and int(count) >= limit]
    return max(waits) if waits else None


async def _count(redis: aioredis.Redis, keys: list[str], window_seconds: int) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        for key in keys:
            pipe.set(key, 0, ex=window_seconds, nx=True)
            pipe.incr(key)
        await pipe.execute()


class LoginThrottle:
    def __init__(self, redis: aioredis.Redis, *, max_failures: int, window_seconds: int,
                 max_failures_per_account: int, max_failures_per_address: int) -> None:
        self.redis = redis
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self.max_failures_per_account = max_failures_per_account
        self.max_failures_per_address = max_failures_per_address

    @classmethod
    def from_settings(cls, redis: aioredis.Redis, settings: UsersSettings) -> LoginThrottle:
        return cls(redis, max_failures=settings.login_max_failures, window_seconds=settings.login_window_seconds,
                   max_failures_per_account=settings.login_max_failures_per_account,
                   max_failures_per_address=settings.login_max_failures_per_address)

    def _limits(self, email: str, ip: str) -> list[tuple[str, int]]:
        return [(_key("login-failures", _email(email), ip), self.max_failures),
                (_key("login-failures-account", _email(email)), self.max_failures_per_account),
                (_key("login-failures-address", ip), self.max_failures_per_address)]

    async def retry_after(self, email: str, ip: str) -> int | None:
        """Seconds to wait when this email, this address or both together are throttled, else None."""
        try:
            return await _wait(self.redis, self._limits(email, ip))
        except RedisError:
            log.warning("login throttle unavailable (redis error); allowing the attempt")
            return None

    async def record_failure(self, email: str, ip: str) -> None:
        try:
            await _count(self.redis, [key for key, _ in self._limits(email, ip)], self.window_seconds)
        except RedisError:
            log.warning("login throttle unavailable (redis error); failure not counted")

    async def reset(self, email: str, ip: str) -> None:
        try:
            await self.redis.delete(*[key for key, _ in self._limits(email, ip)[:2]])
        except RedisError:
            log.warning("login throttle unavailable (redis error); counter not reset")


class RegistrationLimit:
    def __init__(self, redis: aioredis.Redis, *, max_per_address: int, window_seconds: int) -> None:
        self.redis = redis
        self.max_per_address = max_per_address
        self.window_seconds = window_seconds

    @classmethod
    def from_settings(cls, redis: aioredis.Redis, settings: UsersSettings) -> RegistrationLimit:
        return cls(redis, max_per_address=settings.register_max_per_address,
                   window_seconds=settings.register_window_seconds)

    async def attempt(self, ip: str) -> int | None:
        """Count one registration from `ip`; the seconds to wait when it is one too many, else None."""
        key = _key("registrations", ip)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(key, 0, ex=self.window_seconds, nx=True)
                pipe.incr(key)
                pipe.ttl(key)
                _, count, ttl = await pipe.execute()
        except RedisError:
            log.warning("registration limit unavailable (redis error); allowing the attempt")
            return None
        return max(int(ttl), 1) if int(count) > self.max_per_address else None
