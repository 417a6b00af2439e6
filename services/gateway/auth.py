"""Who is calling, and may they see this project?

A Bearer access token is checked with the users service (`/internal/auth/verify`) and project
ownership with `/internal/projects/{id}`. Both answers are cached for a few seconds
(`TME_AUTH_CACHE_TTL_SECONDS`, bounded size) so a dashboard page with many widgets costs one
round trip, and the gateway forgets a token at once when it proxies a logout or password change.
The cache is per process; the gateway that proxied the change broadcasts it through Redis
(services/gateway/broadcast.py), so every other gateway process and pod forgets it at once too."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from dataclasses import dataclass

import httpx
from pydantic import ValidationError
from starlette.requests import Request

from services.gateway.cache import TtlCache
from services.gateway.proxy import request_id
from services.gateway.settings import GatewaySettings
from services.shared.errors import ApiError, NotFound, Unauthorized, UpstreamUnavailable
from services.shared.internal_api import ProjectOwner, TokenCheck

log = logging.getLogger("tme.gateway.auth")

MAX_TOKEN_LENGTH = 512
MAX_PROJECT_ID = 2**63 - 1  # PostgreSQL bigint
_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="tme"'}


@dataclass(frozen=True)
class Identity:
    user_id: int
    session_id: str


def bearer_token(request: Request) -> str | None:
    """The token of a well-formed `Authorization: Bearer <token>` header, else None."""
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH or " " in token:
        return None
    return token


def _token_key(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()  # the cache never holds a usable token


def token_digest(token: str) -> str:
    """What a revocation broadcast carries instead of the token."""
    return _token_key(token).hex()


def unauthorized(message: str = "A valid access token is required (Authorization: Bearer <token>).") -> ApiError:
    return Unauthorized(message, headers=_UNAUTHORIZED_HEADERS)


def project_not_found() -> ApiError:
    return NotFound("Project not found.")


def _unavailable() -> ApiError:
    return UpstreamUnavailable("Authentication is temporarily unavailable; try again shortly.")


class Authenticator:
    def __init__(self, users: httpx.AsyncClient, settings: GatewaySettings) -> None:
        self.users = users
        self.timeout = settings.auth_timeout_seconds
        self.tokens: TtlCache[bytes, Identity] = TtlCache(settings.auth_cache_ttl_seconds,
                                                          settings.auth_cache_max_entries)
        self.owners: TtlCache[int, int] = TtlCache(settings.auth_cache_ttl_seconds, settings.auth_cache_max_entries)
        self._pending: dict[bytes, asyncio.Future[Identity]] = {}
        self._project_generation = 0
        self._generation = 0  # bumped on every revocation, so an answer that raced with it is not cached

    async def _get(self, request: Request, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        try:
            return await self.users.get(path, headers={**(headers or {}), "x-request-id": request_id(request)},
                                        timeout=self.timeout)
        except httpx.HTTPError as exc:
            log.warning("users service unreachable for %s: %s", path, type(exc).__name__)
            raise _unavailable() from None

    async def identify(self, request: Request) -> Identity:
        """The verified caller, or a 401. Concurrent requests with the same new token share one check."""
        token = bearer_token(request)
        if token is None:
            raise unauthorized()
        key = _token_key(token)
        cached = self.tokens.get(key)
        if cached is not None:
            return cached
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._verify(request, token, key))
            self._pending[key] = pending
            pending.add_done_callback(lambda done: self._settled(key, done))
        return await asyncio.shield(pending)

    def _settled(self, key: bytes, done: asyncio.Future[Identity]) -> None:
        if self._pending.get(key) is done:
            del self._pending[key]
        if not done.cancelled():
            done.exception()  # retrieved here, so a check nobody waits for any more is not reported as lost

    async def _verify(self, request: Request, token: str, key: bytes) -> Identity:
        generation = self._generation
        response = await self._get(request, "/internal/auth/verify", {"authorization": f"Bearer {token}"})
        if response.status_code in (401, 403, 404):
            raise unauthorized("The access token is invalid or expired.")
        if response.status_code != 200:
            log.warning("users /internal/auth/verify answered %s", response.status_code)
            raise _unavailable()
        try:
            check = TokenCheck.model_validate_json(response.content)
        except ValidationError:
            log.error("users /internal/auth/verify answered an unexpected body")
            raise _unavailable() from None
        identity = Identity(user_id=check.user_id, session_id=check.session_id)
        if generation == self._generation:  # nothing was revoked while we asked: safe to remember
            self.tokens.set(key, identity, max_age=(check.expires_at - dt.datetime.now(dt.UTC)).total_seconds())
        return identity

    async def require_project(self, request: Request, identity: Identity, project_id: int) -> None:
        """404 unless the caller owns the project (a stranger's project looks like a missing one)."""
        if not 1 <= project_id <= MAX_PROJECT_ID:
            raise project_not_found()
        owner = self.owners.get(project_id)
        if owner is None:
            generation = self._project_generation
            response = await self._get(request, f"/internal/projects/{project_id}")
            if response.status_code == 404:
                raise project_not_found()
            if response.status_code != 200:
                log.warning("users /internal/projects answered %s", response.status_code)
                raise _unavailable()
            try:
                owner = ProjectOwner.model_validate_json(response.content).owner_id
            except ValidationError:
                log.error("users /internal/projects answered an unexpected body")
                raise _unavailable() from None
            if generation == self._project_generation:
                self.owners.set(project_id, owner)
        if owner != identity.user_id:
            raise project_not_found()

    # -- forgetting: called after the gateway proxied a change that revokes tokens --------
    def _revoked(self) -> None:
        self._generation += 1
        self._pending.clear()  # checks already under way may predate the revocation: later callers ask anew

    # The values are strings: they also arrive as broadcast messages from other gateway processes.
    def forget_token(self, token: str) -> None:
        self.forget_token_digest(token_digest(token))

    def forget_token_digest(self, digest: str) -> None:
        self._revoked()
        self.tokens.delete(bytes.fromhex(digest))

    def forget_session(self, session_id: str) -> None:
        self._revoked()
        self.tokens.delete_where(lambda identity: identity.session_id == session_id)

    def forget_user(self, user_id: str | int) -> None:
        uid = int(user_id)
        self._revoked()
        self.tokens.delete_where(lambda identity: identity.user_id == uid)

    def forget_project(self, project_id: str | int) -> None:
        self._project_generation += 1
        self.owners.delete(int(project_id))

    def forget_everything(self) -> None:
        """After missing broadcasts (a lost subscription): trust nothing cached."""
        self._revoked()
        self._project_generation += 1
        self.tokens.delete_where(lambda _: True)
        self.owners.delete_where(lambda _: True)
