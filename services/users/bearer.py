"""Who is calling: the `Authorization: Bearer <accessToken>` header, checked against the database,
and the client IP the gateway reports."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request

from services.shared.api.bearer import bearer_token, unauthorized
from services.users.tokens import Principal, TokenError, verify_access

__all__ = ["CLIENT_IP_HEADER", "authenticate", "client_ip", "unauthorized"]

CLIENT_IP_HEADER = "x-tme-client-ip"


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
