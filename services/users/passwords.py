"""argon2id password hashing (argon2-cffi), run off the event loop.

Unknown emails are checked against a dummy hash so a login takes as long whether or not the
account exists; hashes made with older cost parameters are upgraded on the next good login."""

from __future__ import annotations

import asyncio
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import VerificationError

from services.users.settings import UsersSettings


class Passwords:
    def __init__(self, settings: UsersSettings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=Type.ID,
        )
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    def _verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerificationError, ValueError):  # ValueError: a malformed stored hash
            return False

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when `password` matches; with no stored hash, spend the same time and say no."""
        if stored_hash is None:
            await asyncio.to_thread(self._verify, self._dummy_hash, password)
            return False
        return await asyncio.to_thread(self._verify, stored_hash, password)

    def needs_rehash(self, stored_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except ValueError:
            return True
