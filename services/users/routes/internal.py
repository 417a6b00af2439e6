"""Service-to-service routes (never routed by the gateway): verify an access token or API key,
the caller's role in a project, look up a project or a write key."""

from __future__ import annotations

from sqlmodel import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.shared.api.model import ApiModel
from services.shared.errors import NotFound
from services.shared.internal_api import ProjectAccessCheck, ProjectInfo, TokenCheck, WriteKeyOwner
from services.shared.jsonutil import JSONResponse
from services.users.access import project_access, project_not_found
from services.users.bearer import authenticate
from services.users.models import Project
from services.users.routes.projects import parse_project_id
from services.users.state import users_state
from services.users.tokens import WRITE_KEY_PREFIX

LEGACY_KEY_MAX = 16  # the original's "User"."apiKey" is VARCHAR(16)


def _answer(shape: ApiModel) -> Response:
    return JSONResponse(shape.model_dump(mode="json"))


async def verify(request: Request) -> Response:
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
    return _answer(TokenCheck(user_id=principal.user_id,
                              session_id=None if principal.session_id is None else str(principal.session_id),
                              expires_at=principal.expires_at,
                              api_key_id=None if principal.key is None else principal.key.key_id))


async def project(request: Request) -> Response:
    project_id = parse_project_id(request.path_params["project_id"])
    async with users_state(request).sessions() as db:
        found = await db.get(Project, project_id)
    if found is None:
        raise project_not_found()
    return _answer(ProjectInfo.model_validate(found))


async def project_role(request: Request) -> Response:
    """The bearer's role in the project (the gateway's check before analytics routes)."""
    project_id = parse_project_id(request.path_params["project_id"])
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        access = await project_access(db, principal, project_id)
    if access is None:
        raise project_not_found()
    return _answer(ProjectAccessCheck(project_id=project_id, team_id=access.project.team_id, role=access.role.value))


async def write_key(request: Request) -> Response:
    key: str = request.path_params["write_key"]
    not_found = NotFound("Unknown write key.")
    # our keys (wk_...) and the original Track My Events' apiKeys (at most 16 characters), which
    # `tme import-legacy` keeps as the imported projects' write keys
    if not (key.startswith(WRITE_KEY_PREFIX) or len(key) <= LEGACY_KEY_MAX) or len(key) > 200:
        raise not_found
    async with users_state(request).sessions() as db:
        found = (await db.exec(select(Project).where(Project.write_key == key))).first()
    if found is None:
        raise not_found
    assert found.id is not None
    return _answer(WriteKeyOwner(project_id=found.id, team_id=found.team_id))


routes = [
    Route("/internal/auth/verify", verify, methods=["GET"]),
    Route("/internal/projects/{project_id}", project, methods=["GET"]),
    Route("/internal/projects/{project_id}/access", project_role, methods=["GET"]),
    Route("/internal/write-keys/{write_key}", write_key, methods=["GET"]),
]
