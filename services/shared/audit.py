"""A team's audit log (`audit_events`, migration 0013_teams): one row per thing that happened,
written by the service that did it, in the same transaction as the change, so the log lists
exactly what committed.

Who acted is an `Actor`: an account (its id and its email then) or an API key (its id and name,
and the account that made it), and the client it used (its User-Agent, shortened). An IP address
is never recorded."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

CLIENT_MAX = 200


class AuditAction(enum.StrEnum):
    SIGN_IN = "sign_in"
    TEAM_CREATED = "team.created"
    TEAM_RENAMED = "team.renamed"
    TEAM_DELETED = "team.deleted"
    MEMBER_INVITED = "member.invited"
    INVITATION_REVOKED = "invitation.revoked"
    MEMBER_JOINED = "member.joined"
    MEMBER_ROLE_CHANGED = "member.role_changed"
    MEMBER_REMOVED = "member.removed"
    MEMBER_LEFT = "member.left"
    OWNERSHIP_TRANSFERRED = "team.ownership_transferred"
    API_KEY_CREATED = "api_key.created"
    API_KEY_ROTATED = "api_key.rotated"
    API_KEY_REVOKED = "api_key.revoked"
    SHARE_LINK_CREATED = "share_link.created"
    SHARE_LINK_REVOKED = "share_link.revoked"
    PROJECT_CREATED = "project.created"
    PROJECT_UPDATED = "project.updated"
    PROJECT_DELETED = "project.deleted"
    WRITE_KEY_ROTATED = "project.write_key_rotated"
    PERSON_ERASED = "person.erasure_requested"
    DATA_EXPORTED = "data.exported"


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    name: str | None  # the account's email, or the API key's name
    client: str | None  # the User-Agent
    key_id: int | None = None


async def record(conn: asyncpg.Connection | PoolConnectionProxy, team_id: int, action: AuditAction, actor: Actor, *,
                 project_id: int | None = None, target: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
    """Add one row to the team's log, in the caller's transaction."""
    await conn.execute(
        """INSERT INTO audit_events (team_id, action, actor_user_id, actor_key_id, actor_name, project_id, target,
                                     details, client)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb, $9)""",
        team_id, action.value, actor.user_id, actor.key_id, actor.name, project_id, target,
        orjson.dumps(details or {}).decode(), (actor.client or "")[:CLIENT_MAX] or None)
