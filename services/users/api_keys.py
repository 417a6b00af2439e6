"""API keys of a team (`api_keys`, migration 0013_teams): long-lived secrets for scripts and other
tools, sent as `Authorization: Bearer tme_key_...`. A key is `read` (a viewer of the projects it
names, which must be the team's) or `admin` (an admin of the team, but never of its keys or
members: services/users/access.py). The secret is handed out once, when the key is made or
rotated, and stored as its SHA-256 with its last four characters (`hint`) to tell keys apart.
A revoked key keeps its row, so the list and the audit log still show it.

Verifying a key (services/users/tokens.verify_api_key) notes when it was last used, at most once a
minute per key, so a busy script costs no write per request."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.shared.errors import Conflict, NotFound, ValidationFailed
from services.users.access import KeyScope
from services.users.models import ApiKey, Project, utcnow
from services.users.tokens import API_KEY_PREFIX, token_hash

HINT_LENGTH = 4


def api_key_not_found() -> NotFound:
    return NotFound("API key not found.")


def new_secret() -> tuple[str, str]:
    """A new key's secret and its hint (its last characters)."""
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return secret, secret[-HINT_LENGTH:]


async def checked_projects(db: AsyncSession, team_id: int, scope: KeyScope,
                           project_ids: list[int] | None) -> list[int] | None:
    """The projects a key of `scope` may read: each one of the team's, at least one for `read`,
    none for `admin` (422 naming `projectIds` otherwise)."""
    if scope == KeyScope.ADMIN:
        if project_ids:
            raise ValidationFailed("An admin key covers the whole team.",
                                   fields={"projectIds": "must be absent for an admin key"})
        return None
    wanted = sorted(set(project_ids or ()))
    if not wanted:
        raise ValidationFailed("A read key names the projects it may read.",
                               fields={"projectIds": "must name at least one project for a read key"})
    found = set((await db.exec(
        select(Project.id).where(Project.team_id == team_id, col(Project.id).in_(wanted))
    )).all())
    missing = [pid for pid in wanted if pid not in found]
    if missing:
        raise ValidationFailed("A key may only read projects of its team.",
                               fields={"projectIds": f"not projects of this team: {', '.join(map(str, missing))}"})
    return wanted


async def create_api_key(db: AsyncSession, team_id: int, created_by: int, *, name: str, scope: KeyScope,
                         project_ids: list[int] | None, expires_at: dt.datetime | None) -> tuple[ApiKey, str]:
    """A new key and its secret (flushed; the caller commits)."""
    secret, hint = new_secret()
    key = ApiKey(team_id=team_id, name=name, scope=scope.value, project_ids=project_ids,
                 token_hash=token_hash(secret), hint=hint, created_by=created_by, expires_at=expires_at)
    db.add(key)
    await db.flush()
    return key, secret


async def team_api_keys(db: AsyncSession, team_id: int) -> list[ApiKey]:
    """The team's keys, newest first, revoked ones included."""
    query = select(ApiKey).where(ApiKey.team_id == team_id).order_by(col(ApiKey.id).desc())
    return list((await db.exec(query)).all())


async def team_api_key(db: AsyncSession, team_id: int, key_id: int | None) -> ApiKey:
    """The team's key (locked for the change the caller makes), else 404."""
    key = None if key_id is None else (await db.exec(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.team_id == team_id).with_for_update()
    )).first()
    if key is None:
        raise api_key_not_found()
    return key


async def rotate_api_key(db: AsyncSession, key: ApiKey) -> str:
    """A new secret for the key: the old one is refused from the commit on. A revoked or expired
    key cannot be rotated (409): make a new one."""
    if key.revoked_at is not None:
        raise Conflict("This API key was revoked; create a new one.")
    if key.expires_at is not None and key.expires_at <= utcnow():
        raise Conflict("This API key has expired; create a new one.")
    secret, key.hint = new_secret()
    key.token_hash = token_hash(secret)
    db.add(key)
    await db.flush()
    return secret


def revoke_api_key(db: AsyncSession, key: ApiKey) -> bool:
    """Revoke the key; False when it already was (unchanged)."""
    if key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    db.add(key)
    return True
