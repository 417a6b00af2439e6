"""Writing the team's audit log from the users service (services/shared/audit.py): who acted is
the request's principal, an account or an API key, with the client's User-Agent."""

from __future__ import annotations

from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request

from services.shared.audit import Actor, AuditAction, record
from services.shared.db import session_connection
from services.users.models import User
from services.users.tokens import Principal


async def actor_of(db: AsyncSession, request: Request, principal: Principal) -> Actor:
    client = request.headers.get("user-agent")
    if principal.key is not None:
        return Actor(principal.user_id, principal.key.name, client, key_id=principal.key.key_id)
    user = None if principal.user_id is None else await db.get(User, principal.user_id)
    return Actor(principal.user_id, user.email if user is not None else None, client)


async def audit(db: AsyncSession, request: Request, principal: Principal, team_id: int, action: AuditAction, *,
                project_id: int | None = None, target: str | None = None,
                details: dict[str, Any] | None = None) -> None:
    """One row in the team's log, in the session's transaction (it commits with the change)."""
    await record(await session_connection(db), team_id, action, await actor_of(db, request, principal),
                 project_id=project_id, target=target, details=details)


async def audit_sign_in(db: AsyncSession, request: Request, user: User) -> None:
    """A `sign_in` row in each team the account is in, in the login's transaction."""
    conn = await session_connection(db)
    actor = Actor(user.id, user.email, request.headers.get("user-agent"))
    for row in await conn.fetch("SELECT team_id FROM team_members WHERE user_id = $1 ORDER BY team_id", user.id):
        await record(conn, row["team_id"], AuditAction.SIGN_IN, actor)
