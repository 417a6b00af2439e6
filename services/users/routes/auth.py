"""Register, log in, refresh, log out."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.shared.errors import ApiError, read_json_object
from services.shared.jsonutil import JSONResponse
from services.shared.validation import parse_model
from services.users.bearer import authenticate, client_ip, unauthorized
from services.users.metrics import auth_event
from services.users.models import Project, User
from services.users.schemas import NAME_MAX, LoginIn, RefreshIn, RegisterIn
from services.users.state import users_state
from services.users.tokens import TokenError, new_write_key, revoke_session, rotate, start_session
from services.users.views import auth_json, project_json

log = logging.getLogger("tme.users.auth")

BAD_CREDENTIALS = "Email or password is incorrect."


def email_taken() -> ApiError:
    return ApiError(409, "An account with this email already exists.", code="email_taken",
                    fields={"email": "is already registered"})


async def find_user_by_email(db: AsyncSession, email: str) -> User | None:
    # lower() on both sides in PostgreSQL: the same folding as the unique index users_email_lower_key
    return (await db.exec(select(User).where(func.lower(User.email) == func.lower(email)))).first()


def first_project_name(user_name: str) -> str:
    name = f"{user_name}'s project"
    return name if len(name) <= NAME_MAX else "My project"


def rate_limited(message: str, wait: int) -> ApiError:
    return ApiError(429, message, code="rate_limited", headers={"Retry-After": str(wait)})


async def register(request: Request) -> Response:
    body = parse_model(RegisterIn, await read_json_object(request))
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
        project = Project(owner_id=user.id, name=first_project_name(body.name), write_key=new_write_key())
        db.add(project)
        _, pair = await start_session(db, state.settings, user.id, request.headers.get("user-agent"))
        try:
            await db.commit()
        except IntegrityError:
            raise email_taken() from None
    auth_event("register")
    log.info("user registered", extra={"user_id": user.id, "project_id": project.id})
    return JSONResponse({**auth_json(user, pair), "project": project_json(project)}, status_code=201)


async def login(request: Request) -> Response:
    body = parse_model(LoginIn, await read_json_object(request))
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
        await db.commit()
    await state.throttle.reset(body.email, ip)
    auth_event("login_success")
    log.info("login succeeded", extra={"user_id": user.id, "session_id": str(session_id)})
    return JSONResponse(auth_json(user, pair))


async def refresh(request: Request) -> Response:
    body = parse_model(RefreshIn, await read_json_object(request))
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
    return JSONResponse(auth_json(user, rotated.pair))


async def logout(request: Request) -> Response:
    state = users_state(request)
    async with state.sessions() as db:
        principal = await authenticate(request, db)
        await revoke_session(db, principal.session_id)
        await db.commit()
    auth_event("logout")
    log.info("logged out", extra={"user_id": principal.user_id, "session_id": str(principal.session_id)})
    return Response(status_code=204)


routes = [
    Route("/api/auth/register", register, methods=["POST"]),
    Route("/api/auth/login", login, methods=["POST"]),
    Route("/api/auth/refresh", refresh, methods=["POST"]),
    Route("/api/auth/logout", logout, methods=["POST"]),
]
