"""Who is calling: the `Authorization: Bearer <accessToken>` header, checked against the database,
and the client IP the gateway reports."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request

from services.shared.errors import ApiError
from services.users.tokens import Principal, TokenError, verify_access

CLIENT_IP_HEADER = "x-tme-client-ip"


def unauthorized(message: str) -> ApiError:
    return ApiError(401, message, code="unauthorized", headers={"WWW-Authenticate": "Bearer"})


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise unauthorized("Missing Authorization header; send 'Authorization: Bearer <accessToken>'.")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("Authorization header must be 'Bearer <accessToken>'.")
    return token.strip()


async def authenticate(request: Request, db: AsyncSession) -> Principal:
    token = bearer_token(request)
    try:
        return await verify_access(db, token)
    except TokenError as exc:
        raise unauthorized(exc.message) from None


def client_ip(request: Request) -> str:
    forwarded = request.headers.get(CLIENT_IP_HEADER, "").strip()
    if forwarded:
        return forwarded[:64]
    return request.client.host if request.client else "unknown"
