"""The signed-in user: read and rename, change the password."""

from __future__ import annotations

import logging

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.shared.errors import ApiError, read_json_object
from services.shared.jsonutil import JSONResponse
from services.shared.validation import parse_model
from services.users.bearer import authenticate, client_ip, unauthorized
from services.users.models import User, utcnow
from services.users.schemas import MePatch, PasswordChangeIn
from services.users.state import users_state
from services.users.tokens import Principal, revoke_other_sessions
from services.users.views import user_json

log = logging.getLogger("tme.users.me")


async def _current_user(db: AsyncSession, principal: Principal) -> User:
    user = await db.get(User, principal.user_id)
    if user is None:
        raise unauthorized("Access token is invalid.")
    return user


async def get_me(request: Request) -> Response:
    async with users_state(request).sessions() as db:
        user = await _current_user(db, await authenticate(request, db))
    return JSONResponse(user_json(user))


async def patch_me(request: Request) -> Response:
    state = users_state(request)
    async with state.sessions() as db:
        principal = await authenticate(request, db)
        body = parse_model(MePatch, await read_json_object(request))
        user = await _current_user(db, principal)
        if body.name is not None and body.name != user.name:
            user.name = body.name
            user.updated_at = utcnow()
            db.add(user)
            await db.commit()
            log.info("user renamed", extra={"user_id": user.id})
    return JSONResponse(user_json(user))


async def change_password(request: Request) -> Response:
    state = users_state(request)
    async with state.sessions() as db:
        principal = await authenticate(request, db)
        body = parse_model(PasswordChangeIn, await read_json_object(request))
        user = await _current_user(db, principal)
        # the same throttle as logins: a stolen access token must not brute-force the password
        ip = client_ip(request)
        wait = await state.throttle.retry_after(user.email, ip)
        if wait is not None:
            raise ApiError(429, f"Too many wrong passwords; try again in {wait} seconds.", code="rate_limited",
                           headers={"Retry-After": str(wait)})
        if not await state.passwords.verify(user.password_hash, body.current_password):
            await state.throttle.record_failure(user.email, ip)
            log.info("password change refused: wrong current password", extra={"user_id": user.id})
            raise ApiError(422, "Current password is incorrect.", code="invalid_password",
                           fields={"currentPassword": "is incorrect"})
        if body.new_password == body.current_password:
            # a "change" that changes nothing would still log out every other session: say so instead
            raise ApiError(422, "The new password is the same as the current one.", code="validation_error",
                           fields={"newPassword": "must differ from the current password"})
        user.password_hash = await state.passwords.hash(body.new_password)
        user.updated_at = utcnow()
        db.add(user)
        revoked = await revoke_other_sessions(db, principal.user_id, keep=principal.session_id)
        await db.commit()
    log.info("password changed", extra={"user_id": principal.user_id, "revoked_sessions": revoked})
    return Response(status_code=204)


routes = [
    Route("/api/me", get_me, methods=["GET"]),
    Route("/api/me", patch_me, methods=["PATCH"]),
    Route("/api/me/password", change_password, methods=["POST"]),
]
