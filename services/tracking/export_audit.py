"""A data export leaves a `data.exported` row in the project's team's audit log
(services/shared/audit.py). Who asked comes from the gateway's headers: `X-TME-User-Id` (an
account, named by its email) or `X-TME-API-Key-Id` (a key, named by its name, with the account
that made it); the client is the request's User-Agent. A person's export records that a person
was exported, never which one (the log outlives an erasure)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from services.shared.audit import Actor, AuditAction, record
from services.tracking.state import tracking_state

MAX_ID = 2**63 - 1


def _header_id(request: Request, name: str) -> int | None:
    raw = request.headers.get(name, "")
    return int(raw) if raw.isdigit() and 0 < int(raw) <= MAX_ID else None


async def record_export(request: Request, project_id: int, what: str, details: dict[str, Any]) -> None:
    """One row, committed before the download starts (a download that fails half way was still asked for)."""
    user_id = _header_id(request, "x-tme-user-id")
    key_id = _header_id(request, "x-tme-api-key-id")
    async with tracking_state(request.app).pool.acquire() as conn, conn.transaction():
        team_id = await conn.fetchval("SELECT team_id FROM projects WHERE id = $1", project_id)
        if team_id is None:  # deleted meanwhile: the export finds nothing either, and the log is gone with it
            return
        name = None
        if key_id is not None:
            key = await conn.fetchrow("SELECT name, created_by FROM api_keys WHERE id = $1", key_id)
            if key is not None:
                name, user_id = key["name"], key["created_by"]
        elif user_id is not None:
            name = await conn.fetchval("SELECT email FROM users WHERE id = $1", user_id)
        actor = Actor(user_id, name, request.headers.get("user-agent"), key_id=key_id)
        await record(conn, team_id, AuditAction.DATA_EXPORTED, actor, project_id=project_id,
                     target=f"project:{project_id}", details={"what": what, **details})
