"""The signed-in user's projects: list, create, read, update, delete, rotate the write key.
Another user's project answers 404, exactly like a missing one."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.shared.errors import ApiError, read_json_object
from services.shared.jsonutil import JSONResponse
from services.shared.validation import parse_model
from services.users.bearer import authenticate
from services.users.models import Project, utcnow
from services.users.schemas import ProjectIn, ProjectPatch
from services.users.state import users_state
from services.users.tokens import new_write_key
from services.users.views import project_json

log = logging.getLogger("tme.users.projects")

_MAX_ID = 2**63 - 1


def project_not_found() -> ApiError:
    return ApiError(404, "Project not found.", code="not_found")


def parse_project_id(raw: str) -> int:
    """A path id that is not a positive bigint cannot name a project: 404, never a 500."""
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= _MAX_ID:
        raise project_not_found()
    return int(raw)


async def owned_project(db: AsyncSession, request: Request, owner_id: int) -> Project:
    project_id = parse_project_id(request.path_params["project_id"])
    project = (await db.exec(
        select(Project).where(Project.id == project_id, Project.owner_id == owner_id)
    )).first()
    if project is None:
        raise project_not_found()
    return project


async def list_projects(request: Request) -> Response:
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        projects = (await db.exec(
            select(Project).where(Project.owner_id == principal.user_id).order_by(col(Project.id))
        )).all()
    return JSONResponse({"projects": [project_json(p) for p in projects]})


async def create_project(request: Request) -> Response:
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        body = parse_model(ProjectIn, await read_json_object(request))
        project = Project(owner_id=principal.user_id, name=body.name, domain=body.domain, write_key=new_write_key())
        db.add(project)
        await db.commit()
    log.info("project created", extra={"user_id": principal.user_id, "project_id": project.id})
    return JSONResponse(project_json(project), status_code=201)


async def get_project(request: Request) -> Response:
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        project = await owned_project(db, request, principal.user_id)
    return JSONResponse(project_json(project))


async def patch_project(request: Request) -> Response:
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        project = await owned_project(db, request, principal.user_id)
        body = parse_model(ProjectPatch, await read_json_object(request))
        if body.name is not None:
            project.name = body.name
        if "domain" in body.model_fields_set:
            project.domain = body.domain
        if body.model_fields_set & {"name", "domain"}:
            project.updated_at = utcnow()
            db.add(project)
            await db.commit()
    return JSONResponse(project_json(project))


async def delete_project(request: Request) -> Response:
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        project = await owned_project(db, request, principal.user_id)
        project_id = project.id
        await db.delete(project)
        try:
            await db.commit()
        except IntegrityError:  # a table referencing projects without ON DELETE CASCADE
            log.exception("project delete blocked by a foreign key", extra={"project_id": project_id})
            raise ApiError(409, "Project still has data that cannot be deleted.", code="conflict") from None
    log.info("project deleted", extra={"user_id": principal.user_id, "project_id": project_id})
    return Response(status_code=204)


async def rotate_key(request: Request) -> Response:
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        project = await owned_project(db, request, principal.user_id)
        project.write_key = new_write_key()
        project.updated_at = utcnow()
        db.add(project)
        await db.commit()
    log.info("write key rotated", extra={"user_id": principal.user_id, "project_id": project.id})
    return JSONResponse(project_json(project))


routes = [
    Route("/api/projects", list_projects, methods=["GET"]),
    Route("/api/projects", create_project, methods=["POST"]),
    Route("/api/projects/{project_id}", get_project, methods=["GET"]),
    Route("/api/projects/{project_id}", patch_project, methods=["PATCH"]),
    Route("/api/projects/{project_id}", delete_project, methods=["DELETE"]),
    Route("/api/projects/{project_id}/rotate-key", rotate_key, methods=["POST"]),
]
