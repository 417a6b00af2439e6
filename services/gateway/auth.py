"""Who is calling, and what is their role in this project?

A Bearer access token or API key is checked with the users service (`/internal/auth/verify`) and
the caller's role in a project with `/internal/projects/{id}/access` (services/users/access.py:
404 when the caller may not see it). Both answers are cached for a few seconds
(`TME_AUTH_CACHE_TTL_SECONDS`, bounded size) so a dashboard page with many widgets costs one
round trip, and the gateway forgets a token at once when it proxies a logout or password change.
The cache is per process; the gateway that proxied the change broadcasts it through Redis
(services/gateway/broadcast.py), so every other gateway process and pod forgets it at once too.
Role changes, removed members and revoked API keys are forgotten the same way; should a broadcast
be lost, a cached answer lives at most `TME_AUTH_CACHE_TTL_SECONDS` (5 s by default)."""

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
from services.shared.errors import ApiError, Forbidden, NotFound, Unauthorized, UpstreamUnavailable
from services.shared.internal_api import ProjectAccessCheck, ProjectRole, TokenCheck

log = logging.getLogger("tme.gateway.auth")

MAX_TOKEN_LENGTH = 512
MAX_PROJECT_ID = 2**63 - 1  # PostgreSQL bigint
_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="tme"'}


@dataclass(frozen=True)
class Identity:
    user_id: int | None  # an API key's: the account that made it, if it still exists
    session_id: str | None  # None for an API key
    api_key_id: int | None = None


@dataclass(frozen=True)
class Access:
    """A caller's role in a project, as cached."""

    project_id: int
    role: ProjectRole
    user_id: int | None
    api_key_id: int | None
    token_key: bytes


ROLE_RANK: dict[ProjectRole, int] = {"viewer": 0, "member": 1, "admin": 2, "owner": 3}


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
        self.access: TtlCache[tuple[bytes, int], Access] = TtlCache(settings.auth_cache_ttl_seconds,
                                                                    settings.auth_cache_max_entries)
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
        identity = Identity(user_id=check.user_id, session_id=check.session_id, api_key_id=check.api_key_id)
        if generation == self._generation:  # nothing was revoked while we asked: safe to remember
            max_age = None if check.expires_at is None else (check.expires_at - dt.datetime.now(dt.UTC)).total_seconds()
            self.tokens.set(key, identity, max_age=max_age)
        return identity

    async def require_project(self, request: Request, identity: Identity, project_id: int,
                              needed: ProjectRole = "viewer") -> Access:
        """The caller's role in the project: 404 unless it may see the project (a stranger's project
        looks like a missing one), 403 when its role is below `needed`."""
        token = bearer_token(request)
        if token is None or not 1 <= project_id <= MAX_PROJECT_ID:
            raise project_not_found()
        cache_key = (_token_key(token), project_id)
        access = self.access.get(cache_key)
        if access is None:
            generation = (self._generation, self._project_generation)
            response = await self._get(request, f"/internal/projects/{project_id}/access",
                                       {"authorization": f"Bearer {token}"})
            if response.status_code in (401, 404):
                raise project_not_found()
            if response.status_code != 200:
                log.warning("users /internal/projects/access answered %s", response.status_code)
                raise _unavailable()
            try:
                check = ProjectAccessCheck.model_validate_json(response.content)
            except ValidationError:
                log.error("users /internal/projects/access answered an unexpected body")
                raise _unavailable() from None
            access = Access(project_id, check.role, identity.user_id, identity.api_key_id, cache_key[0])
            if generation == (self._generation, self._project_generation):
                self.access.set(cache_key, access)
        if ROLE_RANK[access.role] < ROLE_RANK[needed]:
            raise Forbidden(f"Your role in this project ({access.role}) cannot do this; it needs {needed}.")
        return access

    # -- forgetting: called after the gateway proxied a change that revokes tokens --------
    def _revoked(self) -> None:
        self._generation += 1
        self._pending.clear()  # checks already under way may predate the revocation: later callers ask anew

    # The values are strings: they also arrive as broadcast messages from other gateway processes.
    def forget_token(self, token: str) -> None:
        self.forget_token_digest(token_digest(token))

    def forget_token_digest(self, digest: str) -> None:
        self._revoked()
        key = bytes.fromhex(digest)
        self.tokens.delete(key)
        self.access.delete_where(lambda access: access.token_key == key)

    def forget_session(self, session_id: str) -> None:
        self._revoked()
        self.tokens.delete_where(lambda identity: identity.session_id == session_id)

    def forget_user(self, user_id: str | int) -> None:
        """Its logins, and its roles in every project (a role changed, a member removed)."""
        uid = int(user_id)
        self._revoked()
        self.tokens.delete_where(lambda identity: identity.user_id == uid and identity.api_key_id is None)
        self.access.delete_where(lambda access: access.user_id == uid and access.api_key_id is None)

    def forget_api_key(self, key_id: str | int) -> None:
        kid = int(key_id)
        self._revoked()
        self.tokens.delete_where(lambda identity: identity.api_key_id == kid)
        self.access.delete_where(lambda access: access.api_key_id == kid)

    def forget_project(self, project_id: str | int) -> None:
        pid = int(project_id)
        self._project_generation += 1
        self.access.delete_where(lambda access: access.project_id == pid)

    def forget_everything(self) -> None:
        """After missing broadcasts (a lost subscription): trust nothing cached."""
        self._revoked()
        self._project_generation += 1
        self.tokens.delete_where(lambda _: True)
        self.access.delete_where(lambda _: True)
