"""The signed-in user: read and rename, change the password."""

from __future__ import annotations

import logging

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request

from services.shared.api.endpoint import endpoint
from services.shared.errors import InvalidPassword, RateLimited, ValidationFailed
from services.users.bearer import authenticate, client_ip, unauthorized
from services.users.models import User, utcnow
from services.users.public import UserPublic
from services.users.schemas import PasswordChange, UserUpdate
from services.users.state import users_state
from services.users.tokens import Principal, revoke_other_sessions

log = logging.getLogger("tme.users.me")

TAG = "Me"


async def _current_user(db: AsyncSession, principal: Principal) -> User:
    user = await db.get(User, principal.user_id)
    if user is None:
        raise unauthorized("Access token is invalid.")
    return user


@endpoint("GET", "/api/me", tag=TAG, summary="The logged-in user")
async def get_me(request: Request) -> UserPublic:
    async with users_state(request).sessions() as db:
        user = await _current_user(db, await authenticate(request, db))
    return UserPublic.model_validate(user)


@endpoint("PATCH", "/api/me", tag=TAG, summary="Rename the logged-in user")
async def patch_me(request: Request, body: UserUpdate) -> UserPublic:
    state = users_state(request)
    async with state.sessions() as db:
        principal = await authenticate(request, db)
        user = await _current_user(db, principal)
        if body.name is not None and body.name != user.name:
            user.name = body.name
            user.updated_at = utcnow()
            db.add(user)
            await db.commit()
            log.info("user renamed", extra={"user_id": user.id})
    return UserPublic.model_validate(user)


@endpoint("POST", "/api/me/password", tag=TAG, summary="Change password",
          errors=(InvalidPassword, ValidationFailed, RateLimited))
async def change_password(request: Request, body: PasswordChange) -> None:
    """Needs the current password. Logs out every other login of this user."""
    state = users_state(request)
    async with state.sessions() as db:
        principal = await authenticate(request, db)
        user = await _current_user(db, principal)
        # the same throttle as logins: a stolen access token must not brute-force the password
        ip = client_ip(request)
        wait = await state.throttle.retry_after(user.email, ip)
        if wait is not None:
            raise RateLimited(f"Too many wrong passwords; try again in {wait} seconds.",
                              headers={"Retry-After": str(wait)})
        if not await state.passwords.verify(user.password_hash, body.current_password):
            await state.throttle.record_failure(user.email, ip)
            log.info("password change refused: wrong current password", extra={"user_id": user.id})
            raise InvalidPassword("Current password is incorrect.",
                                  fields={"currentPassword": "is incorrect"})
        if body.new_password == body.current_password:
            # a "change" that changes nothing would still log out every other session: say so instead
            raise ValidationFailed("The new password is the same as the current one.",
                                   fields={"newPassword": "must differ from the current password"})
        user.password_hash = await state.passwords.hash(body.new_password)
        user.updated_at = utcnow()
        db.add(user)
        revoked = await revoke_other_sessions(db, principal.user_id, keep=principal.session_id)
        await db.commit()
    log.info("password changed", extra={"user_id": principal.user_id, "revoked_sessions": revoked})


endpoints = [get_me, patch_me, change_password]
