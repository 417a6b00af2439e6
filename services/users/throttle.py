"""Login throttle: failed logins per (email, client IP) in a fixed Redis window.

After `max_failures` failures within `window_seconds` (counted from the first failure),
further attempts are refused with the seconds left until the window ends."""

from __future__ import annotations

import hashlib
import logging

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger("tme.users.throttle")


class LoginThrottle:
    def __init__(self, redis: aioredis.Redis, *, max_failures: int, window_seconds: int) -> None:
        self.redis = redis
        self.max_failures = max_failures
        self.window_seconds = window_seconds

    @staticmethod
    def _key(email: str, ip: str) -> str:
        # hashed: no email addresses in Redis key names
        digest = hashlib.sha256(f"{email.strip().lower()}|{ip}".encode()).hexdigest()
        return f"tme:login-failures:{digest}"

    async def retry_after(self, email: str, ip: str) -> int | None:
        """Seconds to wait when this email + IP is throttled, else None."""
        key = self._key(email, ip)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                count, ttl = await pipe.get(key).ttl(key).execute()
        except RedisError:  # fail open: a Redis outage must not lock everyone out
            log.warning("login throttle unavailable (redis error); allowing the attempt")
            return None
        if count is None or int(count) < self.max_failures:
            return None
        return max(int(ttl), 1)

    async def record_failure(self, email: str, ip: str) -> None:
        key = self._key(email, ip)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                await pipe.set(key, 0, ex=self.window_seconds, nx=True).incr(key).execute()
        except RedisError:
            log.warning("login throttle unavailable (redis error); failure not counted")

    async def reset(self, email: str, ip: str) -> None:
        try:
            await self.redis.delete(self._key(email, ip))
        except RedisError:
            log.warning("login throttle unavailable (redis error); counter not reset")
