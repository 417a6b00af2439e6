"""Service-to-service routes (never routed by the gateway): verify an access token, look up a
project or a write key."""

from __future__ import annotations

from sqlmodel import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.shared.api.model import ApiModel
from services.shared.errors import NotFound
from services.shared.internal_api import ProjectOwner, TokenCheck, WriteKeyOwner
from services.shared.jsonutil import JSONResponse
from services.users.bearer import authenticate
from services.users.models import Project
from services.users.routes.projects import parse_project_id, project_not_found
from services.users.state import users_state
from services.users.tokens import WRITE_KEY_PREFIX

LEGACY_KEY_MAX = 16  # the original's "User"."apiKey" is VARCHAR(16)


def _answer(shape: ApiModel) -> Response:
    return JSONResponse(shape.model_dump(mode="json"))


async def verify(request: Request) -> Response:
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
    return _answer(TokenCheck(user_id=principal.user_id, session_id=str(principal.session_id),
                              expires_at=principal.expires_at))


async def project(request: Request) -> Response:
    project_id = parse_project_id(request.path_params["project_id"])
    async with users_state(request).sessions() as db:
        found = await db.get(Project, project_id)
    if found is None:
        raise project_not_found()
    return _answer(ProjectOwner.model_validate(found))


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
    return _answer(WriteKeyOwner(project_id=found.id, owner_id=found.owner_id))


routes = [
    Route("/internal/auth/verify", verify, methods=["GET"]),
    Route("/internal/projects/{project_id}", project, methods=["GET"]),
    Route("/internal/write-keys/{write_key}", write_key, methods=["GET"]),
]
