"""A team's audit log, read by its admins (an admin API key too): GET /api/teams/{team_id}/audit."""

from __future__ import annotations

from starlette.requests import Request

from services.shared.api.endpoint import endpoint
from services.shared.db import session_connection
from services.shared.errors import Forbidden, NotFound
from services.users.access import Role
from services.users.audit_read import AuditPage, AuditQuery, team_audit
from services.users.bearer import authenticate
from services.users.routes.teams import TEAM_ID, team_for
from services.users.state import users_state

TAG = "Teams"


@endpoint("GET", "/api/teams/{team_id}/audit", tag=TAG, summary="Read the team's audit log",
          errors=(NotFound, Forbidden), path_params=TEAM_ID)
async def read_audit(request: Request, query: AuditQuery) -> AuditPage:
    """What happened in the team, newest first: sign-ins, members and roles, invitations, API keys,
    share links, projects (created, changed, write key rotated, deleted), erasures asked for and
    data exports, each with who (an account or an API key), when and from which client (its
    User-Agent; never an address). A page at a time: pass the answer's `nextBefore` as `before`.
    Needs `admin`."""
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        team, _ = await team_for(db, request, principal, Role.ADMIN)
        assert team.id is not None
        return await team_audit(await session_connection(db), team.id, query)


endpoints = [read_audit]
