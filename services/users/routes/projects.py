"""Projects: list, create, read, update, delete, rotate the write key, by role
(services/users/access.py). A project the caller may not see answers 404, exactly like a missing one;
one it may see but its role does not allow the change answers 403."""

from __future__ import annotations

import logging

from pydantic.alias_generators import to_camel
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request

from services.shared.api.endpoint import endpoint
from services.shared.audit import AuditAction
from services.shared.errors import Forbidden, NotFound
from services.users.access import (
    ProjectAccess,
    Role,
    accessible_projects,
    account_id,
    my_teams,
    project_access,
    project_not_found,
    require_project,
    require_team,
)
from services.users.audit_log import audit
from services.users.bearer import authenticate
from services.users.models import Project, utcnow
from services.users.path_ids import path_id
from services.users.project_deletion import delete_projects
from services.users.public import DataJob, ProjectList, ProjectPublic
from services.users.schemas import DeletionQuery, ProjectCreate, ProjectUpdate
from services.users.state import users_state
from services.users.tokens import Principal, new_write_key

log = logging.getLogger("tme.users.projects")

TAG = "Projects"
PROJECT_ID = {"project_id": int}
PATCHABLE = ("domain", "name", "retention_days")  # what PATCH changes, in the audit log's order


def parse_project_id(raw: str) -> int:
    """A path id that is not a positive bigint cannot name a project: 404, never a 500."""
    value = path_id(raw)
    if value is None:
        raise project_not_found()
    return value


async def project_for(db: AsyncSession, request: Request, principal: Principal, needed: Role) -> Project:
    """The path's project, when the caller's role in it allows `needed` (else 404 or 403)."""
    return await require_project(db, principal, parse_project_id(request.path_params["project_id"]), needed)


async def default_team(db: AsyncSession, principal: Principal) -> int:
    """Where a project goes when the request names no team: an admin key's team, else the
    caller's personal team (or its first team where it may create projects)."""
    if principal.key is not None:
        return principal.key.team_id
    for team, role in await my_teams(db, account_id(principal)):
        if role.allows(Role.MEMBER):
            assert team.id is not None
            return team.id
    raise Forbidden("You are in no team where you may create projects; give a `teamId`.")


@endpoint("GET", "/api/projects", tag=TAG, summary="List my projects")
async def list_projects(request: Request) -> ProjectList:
    """Every project you may see: your teams' projects and those you are a guest of, oldest first,
    each with your role in it."""
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        found = await accessible_projects(db, principal)
    return ProjectList(projects=[ProjectPublic.of(access) for access in found])


@endpoint("POST", "/api/projects", tag=TAG, summary="Create a project", status=201, errors=(NotFound, Forbidden),
          examples={"body": {"name": "Shop", "domain": "shop.example.com"}})
async def create_project(request: Request, body: ProjectCreate) -> ProjectPublic:
    """The new project, with its write key, in the team named (`teamId`, where you are at least a
    `member`) or else your personal team."""
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        team_id = body.team_id if body.team_id is not None else await default_team(db, principal)
        _, role = await require_team(db, principal, team_id, Role.MEMBER)
        project = Project(team_id=team_id, created_by=principal.user_id, name=body.name, domain=body.domain,
                          retention_days=body.retention_days, write_key=new_write_key())
        db.add(project)
        await db.flush()
        await audit(db, request, principal, team_id, AuditAction.PROJECT_CREATED, project_id=project.id,
                    target=f"project:{project.id}", details={"name": project.name})
        await db.commit()
    log.info("project created", extra={"user_id": principal.user_id, "project_id": project.id, "team_id": team_id})
    return ProjectPublic.of(ProjectAccess(project, role))


@endpoint("GET", "/api/projects/{project_id}", tag=TAG, summary="Get a project", errors=(NotFound,),
          path_params=PROJECT_ID)
async def get_project(request: Request) -> ProjectPublic:
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        access = await project_access(db, principal, parse_project_id(request.path_params["project_id"]))
    if access is None:
        raise project_not_found()
    return ProjectPublic.of(access)


@endpoint("PATCH", "/api/projects/{project_id}", tag=TAG, summary="Update a project", errors=(NotFound, Forbidden),
          path_params=PROJECT_ID)
async def patch_project(request: Request, body: ProjectUpdate) -> ProjectPublic:
    """Needs `admin`."""
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        project = await project_for(db, request, principal, Role.ADMIN)
        before = {field: getattr(project, field) for field in PATCHABLE}
        if body.name is not None:
            project.name = body.name
        if "domain" in body.model_fields_set:
            project.domain = body.domain
        if "retention_days" in body.model_fields_set:
            project.retention_days = body.retention_days
        if body.model_fields_set & set(PATCHABLE):
            project.updated_at = utcnow()
            db.add(project)
            changed = [to_camel(field) for field in PATCHABLE if getattr(project, field) != before[field]]
            if changed:  # the log names what changed, not what was sent again unchanged
                await audit(db, request, principal, project.team_id, AuditAction.PROJECT_UPDATED,
                            project_id=project.id, target=f"project:{project.id}", details={"fields": changed})
            await db.commit()
    return ProjectPublic.of(ProjectAccess(project, await _role(db, principal, project)))


@endpoint("DELETE", "/api/projects/{project_id}", tag=TAG, summary="Delete a project", status=202,
          errors=(NotFound, Forbidden), path_params=PROJECT_ID, location=lambda job: f"/api/data-jobs/{job.id}")
async def delete_project(request: Request, query: DeletionQuery) -> DataJob:
    """The project is gone at once: it leaves the list, its write key is refused (401) from this
    answer on, and no event sent with it is stored any more, even one accepted just before. Its data
    (events, people, sessions, rollups, dead letters) is deleted by the data job answered: follow it
    at `/api/data-jobs/{jobId}`. Needs `admin`."""
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        project = await project_for(db, request, principal, Role.ADMIN)
        assert project.id is not None
        jobs = await delete_projects(db, [project.id], requested_by=principal.user_id, client=query.client)
        if not jobs:  # deleted by a concurrent request meanwhile
            raise project_not_found()
        await audit(db, request, principal, project.team_id, AuditAction.PROJECT_DELETED, project_id=project.id,
                    target=f"project:{project.id}", details={"name": project.name, "jobId": jobs[0].id})
        await db.commit()
    log.info("project deleted", extra={"user_id": principal.user_id, "project_id": project.id,
                                       "job_id": jobs[0].id})
    return DataJob.model_validate(jobs[0])


@endpoint("POST", "/api/projects/{project_id}/rotate-key", tag=TAG, summary="Rotate the write key",
          errors=(NotFound, Forbidden), path_params=PROJECT_ID)
async def rotate_key(request: Request) -> ProjectPublic:
    """Issues a new write key. Events sent with the old one are refused once gateways stop caching
    it (`TME_INGEST_KEY_CACHE_TTL_SECONDS`, 60 s by default). Needs `admin`."""
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        project = await project_for(db, request, principal, Role.ADMIN)
        project.write_key = new_write_key()
        project.updated_at = utcnow()
        db.add(project)
        await audit(db, request, principal, project.team_id, AuditAction.WRITE_KEY_ROTATED, project_id=project.id,
                    target=f"project:{project.id}")
        await db.commit()
    log.info("write key rotated", extra={"user_id": principal.user_id, "project_id": project.id})
    return ProjectPublic.of(ProjectAccess(project, await _role(db, principal, project)))


async def _role(db: AsyncSession, principal: Principal, project: Project) -> Role:
    assert project.id is not None
    access = await project_access(db, principal, project.id)
    return access.role if access is not None else Role.ADMIN


endpoints = [list_projects, create_project, get_project, patch_project, delete_project, rotate_key]
