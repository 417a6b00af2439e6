"""Login sessions and their tokens: random opaque secrets handed to the client once and stored
only as SHA-256 hashes. Issue a pair, rotate a refresh token (with reuse detection), verify an
access token, revoke logins. Also makes the (public) project write keys."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import text, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.users.models import AccessToken, ApiKey, AuthSession, RefreshToken, utcnow
from services.users.settings import UsersSettings

ACCESS_PREFIX = "tme_at_"
REFRESH_PREFIX = "tme_rt_"
API_KEY_PREFIX = "tme_key_"
WRITE_KEY_PREFIX = "wk_"
_MAX_TOKEN_LENGTH = 200
KEY_USE_RECORD_SECONDS = 60  # an API key's last_used_at is written at most once a minute


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_write_key() -> str:
    return WRITE_KEY_PREFIX + secrets.token_urlsafe(24)


class TokenError(Exception):
    """A token was refused; the message says why (expired, revoked, invalid) and is safe to show."""

    def __init__(self, message: str, *, reused_session: uuid.UUID | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reused_session = reused_session


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class KeyGrant:
    """What an API key may do: `admin` of its team, or `read` the analytics of `project_ids`."""

    key_id: int
    team_id: int
    scope: str
    project_ids: tuple[int, ...]
    name: str


@dataclass(frozen=True)
class Principal:
    """Who is calling: an account through a login's access token, or an API key (`key`; then
    `user_id` is the account that created the key, if it still exists, and there is no login)."""

    user_id: int | None
    session_id: uuid.UUID | None
    expires_at: dt.datetime | None
    key: KeyGrant | None = None


@dataclass(frozen=True)
class Rotated:
    user_id: int
    session_id: uuid.UUID
    pair: TokenPair


def _looks_like(token: str, prefix: str) -> bool:
    return token.startswith(prefix) and len(token) <= _MAX_TOKEN_LENGTH


async def issue_pair(db: AsyncSession, settings: UsersSettings, user_id: int, session_id: uuid.UUID) -> TokenPair:
    now = utcnow()
    access = ACCESS_PREFIX + secrets.token_urlsafe(32)
    refresh = REFRESH_PREFIX + secrets.token_urlsafe(32)
    db.add(AccessToken(token_hash=token_hash(access), session_id=session_id, user_id=user_id,
                       expires_at=now + dt.timedelta(seconds=settings.access_token_ttl_seconds)))
    db.add(RefreshToken(token_hash=token_hash(refresh), session_id=session_id,
                        expires_at=now + dt.timedelta(days=settings.refresh_token_ttl_days), created_at=now))
    await db.flush()
    return TokenPair(access, refresh, settings.access_token_ttl_seconds)


async def start_session(
    db: AsyncSession, settings: UsersSettings, user_id: int, user_agent: str | None
) -> tuple[uuid.UUID, TokenPair]:
    """A new login for the user with its first token pair (the caller commits)."""
    session = AuthSession(user_id=user_id, user_agent=user_agent[:512] if user_agent else None)
    db.add(session)
    await db.flush()
    return session.id, await issue_pair(db, settings, user_id, session.id)


async def verify_access(db: AsyncSession, token: str) -> Principal:
    if _looks_like(token, API_KEY_PREFIX):
        return await verify_api_key(db, token)
    if not _looks_like(token, ACCESS_PREFIX):
        raise TokenError("Access token is invalid.")
    row = (await db.exec(
        select(AccessToken, AuthSession.revoked_at)
        .join(AuthSession, col(AuthSession.id) == col(AccessToken.session_id))
        .where(AccessToken.token_hash == token_hash(token))
    )).first()
    if row is None:
        raise TokenError("Access token is invalid.")
    access, revoked_at = row
    if revoked_at is not None:
        raise TokenError("Access token has been revoked; sign in again.")
    if access.expires_at <= utcnow():
        raise TokenError("Access token has expired; refresh it or sign in again.")
    return Principal(access.user_id, access.session_id, access.expires_at)


async def verify_api_key(db: AsyncSession, token: str) -> Principal:
    key = (await db.exec(select(ApiKey).where(ApiKey.token_hash == token_hash(token)))).first()
    if key is None:
        raise TokenError("API key is invalid.")
    if key.revoked_at is not None:
        raise TokenError("API key has been revoked.")
    if key.expires_at is not None and key.expires_at <= utcnow():
        raise TokenError("API key has expired.")
    assert key.id is not None
    await _note_key_use(db, key.id)
    grant = KeyGrant(key_id=key.id, team_id=key.team_id, scope=key.scope, project_ids=tuple(key.project_ids or ()),
                     name=key.name)
    return Principal(key.created_by, None, key.expires_at, key=grant)


async def _note_key_use(db: AsyncSession, key_id: int) -> None:
    """Set the key's last_used_at, unless it was set less than a minute ago: one conditional UPDATE
    that writes at most once a minute per key (committed at once, so it holds no lock for the request)."""
    result = await db.exec(
        update(ApiKey)
        .where(col(ApiKey.id) == key_id,
               col(ApiKey.last_used_at).is_(None)
               | (col(ApiKey.last_used_at) < text(f"now() - interval '{KEY_USE_RECORD_SECONDS} seconds'")))
        .values(last_used_at=utcnow())
    )
    if result.rowcount:
        await db.commit()


async def revoke_session(db: AsyncSession, session_id: uuid.UUID) -> None:
    """End a login: every access and refresh token of it stops working (the caller commits)."""
    await db.exec(
        update(AuthSession)
        .where(col(AuthSession.id) == session_id, col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )


async def revoke_other_sessions(db: AsyncSession, user_id: int, keep: uuid.UUID) -> int:
    result = await db.exec(
        update(AuthSession)
        .where(col(AuthSession.user_id) == user_id, col(AuthSession.id) != keep,
               col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount or 0)


async def rotate(db: AsyncSession, settings: UsersSettings, refresh_token: str) -> Rotated:
    """Trade a refresh token for a new pair in the same login. A refresh token that was already
    used means it leaked (or was replayed): the whole login is revoked and committed here,
    then TokenError(reused_session=...) is raised. On success the caller commits."""
    if not _looks_like(refresh_token, REFRESH_PREFIX):
        raise TokenError("Refresh token is invalid.")
    row = (await db.exec(
        select(RefreshToken, AuthSession)
        .join(AuthSession, col(AuthSession.id) == col(RefreshToken.session_id))
        .where(RefreshToken.token_hash == token_hash(refresh_token))
        .with_for_update(of=RefreshToken)  # two concurrent uses of one token: the second sees it used
    )).first()
    if row is None:
        raise TokenError("Refresh token is invalid.")
    token, session = row
    if session.revoked_at is not None:
        raise TokenError("This login has been revoked; sign in again.")
    if token.used_at is not None:
        await revoke_session(db, session.id)
        await db.commit()
        raise TokenError("Refresh token was already used; this login has been revoked. Sign in again.",
                         reused_session=session.id)
    if token.expires_at <= utcnow():
        raise TokenError("Refresh token has expired; sign in again.")
    token.used_at = utcnow()
    db.add(token)
    pair = await issue_pair(db, settings, session.user_id, session.id)
    return Rotated(session.user_id, session.id, pair)
