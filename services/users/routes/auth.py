"""Register, log in, refresh, log out."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request

from services.shared.api.endpoint import PUBLIC, endpoint
from services.shared.errors import ApiError, EmailTaken, Forbidden, RateLimited, Unauthorized
from services.users.access import account_required
from services.users.audit_log import audit_sign_in
from services.users.bearer import authenticate, client_ip, unauthorized
from services.users.metrics import auth_event
from services.users.models import Project, User
from services.users.public import Registration, Session
from services.users.schemas import NAME_MAX, LoginRequest, RefreshRequest, RegisterRequest
from services.users.state import users_state
from services.users.teams import create_team
from services.users.tokens import TokenError, new_write_key, revoke_session, rotate, start_session

log = logging.getLogger("tme.users.auth")

TAG = "Auth"

BAD_CREDENTIALS = "Email or password is incorrect."


def email_taken() -> ApiError:
    return EmailTaken("An account with this email already exists.",
                      fields={"email": "is already registered"})


async def find_user_by_email(db: AsyncSession, email: str) -> User | None:
    # lower() on both sides in PostgreSQL: the same folding as the unique index users_email_lower_key
    return (await db.exec(select(User).where(func.lower(User.email) == func.lower(email)))).first()


def first_project_name(user_name: str) -> str:
    name = f"{user_name}'s project"
    return name if len(name) <= NAME_MAX else "My project"


def rate_limited(message: str, wait: int) -> ApiError:
    return RateLimited(message, headers={"Retry-After": str(wait)})


@endpoint("POST", "/api/auth/register", tag=TAG, summary="Create an account", status=201, security=PUBLIC,
          errors=(EmailTaken, RateLimited),
          examples={"body": {"name": "Ada", "email": "ada@example.com", "password": "correct horse"}})
async def register(request: Request, body: RegisterRequest) -> Registration:
    """Creates the user, logs them in, and creates their personal team (they are its owner) with
    a first project in it."""
    state = users_state(request)
    wait = await state.registrations.attempt(client_ip(request))
    if wait is not None:
        auth_event("register_throttled")
        log.warning("registration throttled", extra={"retry_after": wait})
        raise rate_limited(f"Too many registrations from your address; try again in {wait} seconds.", wait)
    async with state.sessions() as db:
        if await find_user_by_email(db, body.email) is not None:
            raise email_taken()
        user = User(name=body.name, email=body.email, password_hash=await state.passwords.hash(body.password))
        db.add(user)
        try:
            await db.flush()
        except IntegrityError:  # the same email registered concurrently
            raise email_taken() from None
        assert user.id is not None
        team = await create_team(db, user.id, body.name, personal=True)
        assert team.id is not None
        project = Project(team_id=team.id, created_by=user.id, name=first_project_name(body.name),
                          write_key=new_write_key())
        db.add(project)
        _, pair = await start_session(db, state.settings, user.id, request.headers.get("user-agent"))
        try:
            await db.commit()
        except IntegrityError:
            raise email_taken() from None
    auth_event("register")
    log.info("user registered", extra={"user_id": user.id, "project_id": project.id})
    return Registration.of_new(user, pair, project)


@endpoint("POST", "/api/auth/login", tag=TAG, summary="Log in", security=PUBLIC, errors=(Unauthorized, RateLimited),
          examples={"body": {"email": "ada@example.com", "password": "correct horse"}})
async def login(request: Request, body: LoginRequest) -> Session:
    """Unknown email and wrong password get the same 401. Repeated failures for an email from one
    address are throttled (429 with Retry-After)."""
    state = users_state(request)
    ip = client_ip(request)
    wait = await state.throttle.retry_after(body.email, ip)
    if wait is not None:
        auth_event("login_throttled")
        log.warning("login throttled", extra={"retry_after": wait})
        raise rate_limited(f"Too many failed logins; try again in {wait} seconds.", wait)
    async with state.sessions() as db:
        user = await find_user_by_email(db, body.email)
        ok = await state.passwords.verify(user.password_hash if user else None, body.password)
        if user is None or not ok:
            await state.throttle.record_failure(body.email, ip)
            auth_event("login_failure")
            log.info("login failed", extra={"user_id": user.id if user else None})
            raise unauthorized(BAD_CREDENTIALS)
        assert user.id is not None
        if state.passwords.needs_rehash(user.password_hash):
            user.password_hash = await state.passwords.hash(body.password)
            db.add(user)
        session_id, pair = await start_session(db, state.settings, user.id, request.headers.get("user-agent"))
        await audit_sign_in(db, request, user)
        await db.commit()
    await state.throttle.reset(body.email, ip)
    auth_event("login_success")
    log.info("login succeeded", extra={"user_id": user.id, "session_id": str(session_id)})
    return Session.of(user, pair)


@endpoint("POST", "/api/auth/refresh", tag=TAG, summary="Exchange a refresh token for a new token pair",
          security=PUBLIC, errors=(Unauthorized,), examples={"body": {"refreshToken": "tme_rt_..."}})
async def refresh(request: Request, body: RefreshRequest) -> Session:
    """The refresh token is single use. Presenting one that was already used revokes the whole login
    (all its tokens) and answers 401."""
    state = users_state(request)
    async with state.sessions() as db:
        try:
            rotated = await rotate(db, state.settings, body.refresh_token)
        except TokenError as exc:
            if exc.reused_session is not None:
                auth_event("refresh_reuse")
                log.warning("refresh token reused; login revoked", extra={"session_id": str(exc.reused_session)})
            raise unauthorized(exc.message) from None
        user = await db.get(User, rotated.user_id)
        if user is None:  # deleted meanwhile (the cascade would have removed the token too)
            raise unauthorized("Refresh token is invalid.")
        await db.commit()
    auth_event("refresh")
    log.info("tokens refreshed", extra={"user_id": rotated.user_id, "session_id": str(rotated.session_id)})
    return Session.of(user, rotated.pair)


@endpoint("POST", "/api/auth/logout", tag=TAG, summary="Log out", errors=(Forbidden,))
async def logout(request: Request) -> None:
    """Revokes this login's access and refresh tokens, effective immediately."""
    state = users_state(request)
    async with state.sessions() as db:
        principal = await authenticate(request, db)
        if principal.session_id is None:
            raise account_required()  # an API key is revoked by an admin, not logged out
        await revoke_session(db, principal.session_id)
        await db.commit()
    auth_event("logout")
    log.info("logged out", extra={"user_id": principal.user_id, "session_id": str(principal.session_id)})


endpoints = [register, login, refresh, logout]
