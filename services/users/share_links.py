"""Share links: public, read-only links to one project's dashboard (`share_links`, migration
0013_teams). The token (`tme_share_...`) is handed out once and stored as its SHA-256; an optional
password is stored as an argon2id hash like an account's. A link works until it is revoked or its
project is deleted (the row goes with the project)."""

from __future__ import annotations

import secrets
import urllib.parse
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.users.models import Project, ShareLink, utcnow
from services.users.tokens import token_hash

SHARE_PREFIX = "tme_share_"
MAX_SHARE_TOKEN = 200
PASSWORD_HEADER = "x-tme-share-password"
VIEW_RECORD_SECONDS = 60  # last_viewed_at is written at most once a minute per link


def new_share_token() -> str:
    return SHARE_PREFIX + secrets.token_urlsafe(32)


def looks_like_share_token(token: str) -> bool:
    return token.startswith(SHARE_PREFIX) and len(token) <= MAX_SHARE_TOKEN


def given_password(raw: str | None) -> str | None:
    """The password a viewer sent in `X-TME-Share-Password`: percent-encoded UTF-8 (what the
    dashboard's encodeURIComponent writes), since a header carries only Latin-1."""
    if raw is None or raw == "":
        return None
    try:
        return urllib.parse.unquote(raw, errors="strict")
    except UnicodeDecodeError:  # not UTF-8 once decoded: compared as sent (and so refused)
        return raw


def throttle_subject(link_id: int) -> str:
    """The login throttle's name for a link's password guesses (it hashes it, as it does emails)."""
    return f"share-link:{link_id}"


async def create_share_link(db: AsyncSession, project: Project, created_by: int | None, *, name: str | None,
                            password_hash: str | None, params: dict[str, Any]) -> tuple[ShareLink, str]:
    """A new link and its token (flushed; the caller commits)."""
    assert project.id is not None
    token = new_share_token()
    link = ShareLink(project_id=project.id, name=name, token_hash=token_hash(token), password_hash=password_hash,
                     params=params, created_by=created_by)
    db.add(link)
    await db.flush()
    return link, token


async def project_share_links(db: AsyncSession, project_id: int) -> list[ShareLink]:
    """The project's links, newest first."""
    query = select(ShareLink).where(ShareLink.project_id == project_id).order_by(col(ShareLink.id).desc())
    return list((await db.exec(query)).all())


async def revoke_share_link(db: AsyncSession, project_id: int, link_id: int) -> ShareLink | None:
    """Revoke the project's link (already revoked: unchanged); None when the project has no such link."""
    link = await db.get(ShareLink, link_id)
    if link is None or link.project_id != project_id:
        return None
    if link.revoked_at is None:
        link.revoked_at = utcnow()
        db.add(link)
    return link


@dataclass(frozen=True)
class OpenLink:
    link: ShareLink
    project: Project


async def open_share_link(db: AsyncSession, token: str) -> OpenLink | None:
    """The link a token names and its project, unless unknown or revoked."""
    if not looks_like_share_token(token):
        return None
    row = (await db.exec(
        select(ShareLink, Project).join(Project, col(Project.id) == col(ShareLink.project_id))
        .where(ShareLink.token_hash == token_hash(token), col(ShareLink.revoked_at).is_(None))
    )).first()
    return None if row is None else OpenLink(*row)


async def record_view(db: AsyncSession, link_id: int) -> None:
    """Note that the link was opened, at most once a minute (the caller commits)."""
    await db.exec(
        update(ShareLink)
        .where(col(ShareLink.id) == link_id,
               (col(ShareLink.last_viewed_at).is_(None))
               | (col(ShareLink.last_viewed_at) < text(f"now() - interval '{VIEW_RECORD_SECONDS} seconds'")))
        .values(last_viewed_at=utcnow())
    )
