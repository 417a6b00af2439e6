"""Reading a team's audit log (`audit_events`, written by services/shared/audit.py): newest first,
a page at a time by id (`before`), narrowed to one action or one project."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import asyncpg
import orjson
from pydantic import Field

from services.shared.api.model import ApiModel, RequestBody
from services.shared.audit import AuditAction

PAGE_MAX = 200


class AuditQuery(RequestBody):
    limit: int = Field(50, ge=1, le=PAGE_MAX, description=f"Page size (1 to {PAGE_MAX}).")
    before: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = Field(
        None, description="The `nextBefore` of the page before: entries older than it.")
    action: AuditAction | None = Field(None, description="Only this action.")
    project_id: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = Field(None, description="Only this project.")


class AuditActor(ApiModel):
    """Who acted: an account, or an API key (with the account that made it)."""

    user_id: int | None = Field(description="The account (it may have been deleted since).")
    api_key_id: int | None = Field(description="Set when an API key acted.")
    name: str | None = Field(description="The account's email or the key's name when it acted; "
                                         "`deleted account` once the account is deleted.")


class AuditEntry(ApiModel):
    """One thing that happened in the team."""

    id: int
    at: dt.datetime
    action: AuditAction
    actor: AuditActor
    project_id: int | None = Field(description="The project it was about, if any (it may be gone).")
    target: str | None = Field(description="What was acted on, e.g. `user:12`, `api_key:3`, `share_link:5`.")
    details: dict[str, Any] = Field(description="What changed, by action: e.g. the fields of a project update, "
                                                "an export's format.")
    client: str | None = Field(description="The client's User-Agent (never its address).")


class AuditPage(ApiModel):
    """The team's log, newest first."""

    entries: list[AuditEntry]
    next_before: int | None = Field(description="Pass as `before` for the next (older) page; null at the end.")


async def team_audit(conn: asyncpg.Connection, team_id: int, query: AuditQuery) -> AuditPage:
    rows = await conn.fetch(
        """SELECT id, at, action, actor_user_id, actor_key_id, actor_name, project_id, target, details::text,
                  client
           FROM audit_events
           WHERE team_id = $1 AND id < $2 AND ($3::text IS NULL OR action = $3)
                 AND ($4::bigint IS NULL OR project_id = $4)
           ORDER BY id DESC LIMIT $5""",
        team_id, query.before or 2**63 - 1, query.action.value if query.action else None, query.project_id,
        query.limit + 1)
    entries = [AuditEntry(id=r["id"], at=r["at"], action=AuditAction(r["action"]),
                          actor=AuditActor(user_id=r["actor_user_id"], api_key_id=r["actor_key_id"],
                                           name=r["actor_name"]),
                          project_id=r["project_id"], target=r["target"], details=orjson.loads(r["details"]),
                          client=r["client"])
               for r in rows[:query.limit]]
    more = len(rows) > query.limit
    return AuditPage(entries=entries, next_before=entries[-1].id if more else None)
