"""The signed-in user: read and rename, change the password, delete the account."""

from __future__ import annotations

import logging

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request

from services.shared.api.endpoint import endpoint
from services.shared.errors import Conflict, Forbidden, InvalidPassword, RateLimited, ValidationFailed
from services.users.access import account_id
from services.users.bearer import authenticate, client_ip, unauthorized
from services.users.models import User, utcnow
from services.users.project_deletion import LastOwner, delete_account
from services.users.public import AccountDeletion, DataJob, UserPublic
from services.users.schemas import AccountDelete, DeletionQuery, PasswordChange, UserUpdate
from services.users.state import UsersState, users_state
from services.users.tokens import Principal, revoke_other_sessions

log = logging.getLogger("tme.users.me")

TAG = "Me"


async def _current_user(db: AsyncSession, principal: Principal) -> User:
    user = await db.get(User, account_id(principal))  # an API key is refused: 403
    if user is None:
        raise unauthorized("Access token is invalid.")
    return user


async def _confirm_password(state: UsersState, request: Request, user: User, password: str, *, field: str,
                            action: str) -> None:
    """The user's own password, checked under the same throttle as logins: a stolen access token
    must not brute-force it. A wrong one is InvalidPassword naming `field`."""
    ip = client_ip(request)
    wait = await state.throttle.retry_after(user.email, ip)
    if wait is not None:
        raise RateLimited(f"Too many wrong passwords; try again in {wait} seconds.",
                          headers={"Retry-After": str(wait)})
    if not await state.passwords.verify(user.password_hash, password):
        await state.throttle.record_failure(user.email, ip)
        log.info("%s refused: wrong password", action, extra={"user_id": user.id})
        raise InvalidPassword("Current password is incorrect.", fields={field: "is incorrect"})


@endpoint("GET", "/api/me", tag=TAG, summary="The logged-in user", errors=(Forbidden,))
async def get_me(request: Request) -> UserPublic:
    async with users_state(request).sessions() as db:
        user = await _current_user(db, await authenticate(request, db))
    return UserPublic.model_validate(user)


@endpoint("PATCH", "/api/me", tag=TAG, summary="Rename the logged-in user", errors=(Forbidden,))
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
          errors=(InvalidPassword, ValidationFailed, RateLimited, Forbidden))
async def change_password(request: Request, body: PasswordChange) -> None:
    """Needs the current password. Logs out every other login of this user."""
    state = users_state(request)
    async with state.sessions() as db:
        principal = await authenticate(request, db)
        user = await _current_user(db, principal)
        await _confirm_password(state, request, user, body.current_password, field="currentPassword",
                                action="password change")
        if body.new_password == body.current_password:
            # a "change" that changes nothing would still log out every other session: say so instead
            raise ValidationFailed("The new password is the same as the current one.",
                                   fields={"newPassword": "must differ from the current password"})
        user.password_hash = await state.passwords.hash(body.new_password)
        user.updated_at = utcnow()
        db.add(user)
        assert user.id is not None and principal.session_id is not None
        revoked = await revoke_other_sessions(db, user.id, keep=principal.session_id)
        await db.commit()
    log.info("password changed", extra={"user_id": principal.user_id, "revoked_sessions": revoked})


@endpoint("DELETE", "/api/me", tag=TAG, summary="Delete my account", status=202,
          errors=(InvalidPassword, RateLimited, Conflict, Forbidden))
async def delete_me(request: Request, body: AccountDelete, query: DeletionQuery) -> AccountDeletion:
    """Needs the password. The account is deleted at once with every login and token (they answer
    401 from now on), and so is each of its projects, as `DELETE /api/projects/{projectId}` does:
    their write keys are refused and their data is deleted by the data jobs answered. That holds for
    the projects of the teams you are the only member of (your personal team, usually): from the
    other teams you are removed, and their projects stay. If you are the last owner of a team with
    other members, the answer is 409: make someone else an owner, or delete the team, first."""
    state = users_state(request)
    async with state.sessions() as db:
        principal = await authenticate(request, db)
        user = await _current_user(db, principal)
        await _confirm_password(state, request, user, body.password, field="password", action="account deletion")
        assert user.id is not None
        try:
            jobs = await delete_account(db, user.id, client=query.client)
        except LastOwner as exc:
            raise Conflict(f"You are the last owner of the team {exc.team_name!r}, which has other members: "
                           "make one of them an owner, or delete the team, first.") from None
        await db.commit()
    log.info("account deleted", extra={"user_id": principal.user_id, "jobs": [j.id for j in jobs]})
    return AccountDeletion(jobs=[DataJob.model_validate(job) for job in jobs])


endpoints = [get_me, patch_me, change_password, delete_me]
