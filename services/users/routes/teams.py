"""Teams: list mine, create one, read, rename (admin), delete (owner). A team the caller is not in
answers 404, exactly like a missing one. (Members and invitations: routes/members.py.)"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request

from services.shared.api.endpoint import endpoint
from services.shared.audit import AuditAction
from services.shared.errors import Forbidden, NotFound
from services.users.access import Role, account_id, my_teams, require_team, team_not_found
from services.users.audit_log import audit
from services.users.bearer import authenticate
from services.users.models import Team, utcnow
from services.users.path_ids import path_id
from services.users.project_deletion import delete_team as delete_team_and_projects
from services.users.public import DataJob, TeamDeletion, TeamList, TeamPublic
from services.users.schemas import DeletionQuery, TeamCreate, TeamUpdate
from services.users.state import users_state
from services.users.teams import create_team as new_team
from services.users.tokens import Principal

log = logging.getLogger("tme.users.teams")

TAG = "Teams"
TEAM_ID = {"team_id": int}


@dataclass(frozen=True)
class TeamCaller:
    """An account (never an API key) calling a route of the path's team, and its role there."""

    principal: Principal
    user_id: int
    team: Team
    team_id: int
    role: Role


async def account_in_team(db: AsyncSession, request: Request, needed: Role) -> TeamCaller:
    """The caller, when it is an account (an API key: 403) whose role in the path's team allows
    `needed` (else 404 or 403)."""
    principal = await authenticate(request, db)
    user_id = account_id(principal)
    team, role = await team_for(db, request, principal, needed)
    assert team.id is not None
    return TeamCaller(principal, user_id, team, team.id, role)


async def team_for(db: AsyncSession, request: Request, principal: Principal, needed: Role) -> tuple[Team, Role]:
    """The path's team and the caller's role, when it allows `needed` (else 404 or 403)."""
    team_id = path_id(request.path_params["team_id"])
    if team_id is None:
        raise team_not_found()
    return await require_team(db, principal, team_id, needed)


@endpoint("GET", "/api/teams", tag=TAG, summary="List my teams")
async def list_teams(request: Request) -> TeamList:
    """Your teams with your role in each: your personal team first. An admin API key sees its team."""
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        if principal.key is not None:
            team, role = await require_team(db, principal, principal.key.team_id, Role.VIEWER)
            return TeamList(teams=[TeamPublic.of(team, role)])
        teams = await my_teams(db, account_id(principal))
    return TeamList(teams=[TeamPublic.of(team, role) for team, role in teams])


@endpoint("POST", "/api/teams", tag=TAG, summary="Create a team", status=201, errors=(Forbidden,),
          examples={"body": {"name": "Growth"}})
async def create_team(request: Request, body: TeamCreate) -> TeamPublic:
    """A new team with you as its owner. Invite people to it, and create projects in it."""
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        team = await new_team(db, account_id(principal), body.name)
        assert team.id is not None
        await audit(db, request, principal, team.id, AuditAction.TEAM_CREATED, details={"name": team.name})
        await db.commit()
    log.info("team created", extra={"user_id": principal.user_id, "team_id": team.id})
    return TeamPublic.of(team, Role.OWNER)


@endpoint("GET", "/api/teams/{team_id}", tag=TAG, summary="Get a team", errors=(NotFound,), path_params=TEAM_ID)
async def get_team(request: Request) -> TeamPublic:
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        team, role = await team_for(db, request, principal, Role.VIEWER)
    return TeamPublic.of(team, role)


@endpoint("PATCH", "/api/teams/{team_id}", tag=TAG, summary="Rename a team", errors=(NotFound, Forbidden),
          path_params=TEAM_ID)
async def patch_team(request: Request, body: TeamUpdate) -> TeamPublic:
    """Needs `admin`."""
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        team, role = await team_for(db, request, principal, Role.ADMIN)
        if body.name is not None and body.name != team.name:
            assert team.id is not None
            await audit(db, request, principal, team.id, AuditAction.TEAM_RENAMED,
                        details={"from": team.name, "to": body.name})
            team.name = body.name
            team.updated_at = utcnow()
            db.add(team)
            await db.commit()
    return TeamPublic.of(team, role)


@endpoint("DELETE", "/api/teams/{team_id}", tag=TAG, summary="Delete a team", status=202,
          errors=(NotFound, Forbidden), path_params=TEAM_ID)
async def delete_team(request: Request, query: DeletionQuery) -> TeamDeletion:
    """Needs `owner` (an API key cannot). The team is gone at once with its members, invitations,
    API keys and share links, and so is each of its projects, as `DELETE /api/projects/{projectId}`
    does: their write keys are refused and their data is deleted by the data jobs answered."""
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        user_id = account_id(principal)
        team, _ = await team_for(db, request, principal, Role.OWNER)
        assert team.id is not None
        jobs = await delete_team_and_projects(db, team.id, requested_by=user_id, client=query.client)
        await db.commit()
    log.info("team deleted", extra={"user_id": user_id, "team_id": team.id, "jobs": [j.id for j in jobs]})
    return TeamDeletion(jobs=[DataJob.model_validate(job) for job in jobs])


endpoints = [list_teams, create_team, get_team, patch_team, delete_team]
