"""The signed-in user's projects: list, create, read, update, delete, rotate the write key.
Another user's project answers 404, exactly like a missing one."""

from __future__ import annotations

import logging

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request

from services.shared.api.endpoint import endpoint
from services.shared.errors import ApiError, NotFound
from services.users.bearer import authenticate
from services.users.models import Project, utcnow
from services.users.path_ids import path_id
from services.users.project_deletion import delete_projects
from services.users.public import DataJob, ProjectList, ProjectPublic
from services.users.schemas import DeletionQuery, ProjectCreate, ProjectUpdate
from services.users.state import users_state
from services.users.tokens import new_write_key

log = logging.getLogger("tme.users.projects")

TAG = "Projects"
PROJECT_ID = {"project_id": int}


def project_not_found() -> ApiError:
    return NotFound("Project not found.")


def parse_project_id(raw: str) -> int:
    """A path id that is not a positive bigint cannot name a project: 404, never a 500."""
    value = path_id(raw)
    if value is None:
        raise project_not_found()
    return value


async def owned_project(db: AsyncSession, request: Request, owner_id: int) -> Project:
    project_id = parse_project_id(request.path_params["project_id"])
    project = (await db.exec(
        select(Project).where(Project.id == project_id, Project.owner_id == owner_id)
    )).first()
    if project is None:
        raise project_not_found()
    return project


@endpoint("GET", "/api/projects", tag=TAG, summary="List my projects")
async def list_projects(request: Request) -> ProjectList:
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        projects = (await db.exec(
            select(Project).where(Project.owner_id == principal.user_id).order_by(col(Project.id))
        )).all()
    return ProjectList(projects=[ProjectPublic.model_validate(p) for p in projects])


@endpoint("POST", "/api/projects", tag=TAG, summary="Create a project", status=201,
          examples={"body": {"name": "Shop", "domain": "shop.example.com"}})
async def create_project(request: Request, body: ProjectCreate) -> ProjectPublic:
    """The new project, with its write key."""
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        project = Project(owner_id=principal.user_id, name=body.name, domain=body.domain,
                          retention_days=body.retention_days, write_key=new_write_key())
        db.add(project)
        await db.commit()
    log.info("project created", extra={"user_id": principal.user_id, "project_id": project.id})
    return ProjectPublic.model_validate(project)


@endpoint("GET", "/api/projects/{project_id}", tag=TAG, summary="Get a project", errors=(NotFound,),
          path_params=PROJECT_ID)
async def get_project(request: Request) -> ProjectPublic:
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        project = await owned_project(db, request, principal.user_id)
    return ProjectPublic.model_validate(project)


@endpoint("PATCH", "/api/projects/{project_id}", tag=TAG, summary="Update a project", errors=(NotFound,),
          path_params=PROJECT_ID)
async def patch_project(request: Request, body: ProjectUpdate) -> ProjectPublic:
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        project = await owned_project(db, request, principal.user_id)
        if body.name is not None:
            project.name = body.name
        if "domain" in body.model_fields_set:
            project.domain = body.domain
        if "retention_days" in body.model_fields_set:
            project.retention_days = body.retention_days
        if body.model_fields_set & {"name", "domain", "retention_days"}:
            project.updated_at = utcnow()
            db.add(project)
            await db.commit()
    return ProjectPublic.model_validate(project)


@endpoint("DELETE", "/api/projects/{project_id}", tag=TAG, summary="Delete a project", status=202,
          errors=(NotFound,), path_params=PROJECT_ID, location=lambda job: f"/api/data-jobs/{job.id}")
async def delete_project(request: Request, query: DeletionQuery) -> DataJob:
    """The project is gone at once: it leaves the list, its write key is refused (401) from this
    answer on, and no event sent with it is stored any more, even one accepted just before. Its data
    (events, people, sessions, rollups, dead letters) is deleted by the data job answered: follow it
    at `/api/data-jobs/{jobId}`."""
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        project = await owned_project(db, request, principal.user_id)
        assert project.id is not None
        jobs = await delete_projects(db, principal.user_id, [project.id], requested_by=principal.user_id,
                                     client=query.client)
        if not jobs:  # deleted by a concurrent request meanwhile
            raise project_not_found()
        await db.commit()
    log.info("project deleted", extra={"user_id": principal.user_id, "project_id": project.id,
                                       "job_id": jobs[0].id})
    return DataJob.model_validate(jobs[0])


@endpoint("POST", "/api/projects/{project_id}/rotate-key", tag=TAG, summary="Rotate the write key",
          errors=(NotFound,), path_params=PROJECT_ID)
async def rotate_key(request: Request) -> ProjectPublic:
    """Issues a new write key. Events sent with the old one are refused once gateways stop caching
    it (`TME_INGEST_KEY_CACHE_TTL_SECONDS`, 60 s by default)."""
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        project = await owned_project(db, request, principal.user_id)
        project.write_key = new_write_key()
        project.updated_at = utcnow()
        db.add(project)
        await db.commit()
    log.info("write key rotated", extra={"user_id": principal.user_id, "project_id": project.id})
    return ProjectPublic.model_validate(project)


endpoints = [list_projects, create_project, get_project, patch_project, delete_project, rotate_key]
