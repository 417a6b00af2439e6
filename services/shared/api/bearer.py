"""The `Authorization: Bearer <token>` header, read the same way by every service."""

from __future__ import annotations

from starlette.requests import Request

from services.shared.errors import ApiError, Unauthorized


def unauthorized(message: str) -> ApiError:
    return Unauthorized(message, headers={"WWW-Authenticate": "Bearer"})


def bearer_token(request: Request) -> str:
    """The token, or a 401 that says what is wrong with the header."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise unauthorized("Missing Authorization header; send 'Authorization: Bearer <accessToken>'.")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("Authorization header must be 'Bearer <accessToken>'.")
    return token.strip()
