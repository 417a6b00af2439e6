"""A team's API keys (services/users/api_keys.py): list, create, rotate and revoke them as a team
`admin` signed in as an account (an API key, even an admin one, cannot see or manage keys: 403)."""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request

from services.shared.api.endpoint import endpoint
from services.shared.audit import AuditAction
from services.shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.users import api_keys as rules
from services.users.access import KeyScope, Role
from services.users.audit_log import audit
from services.users.models import ApiKey
from services.users.path_ids import path_id
from services.users.public import ApiKeyList, ApiKeyPublic, ApiKeySecret
from services.users.routes.teams import TEAM_ID, TeamCaller, account_in_team
from services.users.schemas import ApiKeyCreate
from services.users.state import users_state

log = logging.getLogger("tme.users.api_keys")

TAG = "API keys"
PATH = "/api/teams/{team_id}/api-keys"
KEY_ID = {**TEAM_ID, "key_id": int}


def _log_fields(caller: TeamCaller, key: ApiKey) -> dict[str, int | None]:
    return {"user_id": caller.user_id, "team_id": caller.team_id, "api_key_id": key.id}


async def key_manager(db: AsyncSession, request: Request) -> TeamCaller:
    """The caller, when it is an account (an API key: 403) and an admin of the path's team (else 404 or 403)."""
    return await account_in_team(db, request, Role.ADMIN)


async def audit_key(db: AsyncSession, request: Request, caller: TeamCaller, action: AuditAction, key: ApiKey,
                    **details: Any) -> None:
    """The change's row in the team's audit log (never the secret)."""
    await audit(db, request, caller.principal, caller.team_id, action, target=f"api_key:{key.id}",
                details={"name": key.name, **details})


async def path_key(db: AsyncSession, request: Request, caller: TeamCaller) -> ApiKey:
    """The path's key of the caller's team, locked for the change (else 404)."""
    return await rules.team_api_key(db, caller.team_id, path_id(request.path_params["key_id"]))


@endpoint("GET", PATH, tag=TAG, summary="List a team's API keys", errors=(NotFound, Forbidden), path_params=TEAM_ID)
async def list_api_keys(request: Request) -> ApiKeyList:
    """Newest first, revoked ones included, never their secrets. Needs `admin`, signed in as an account."""
    async with users_state(request).sessions() as db:
        caller = await key_manager(db, request)
        keys = await rules.team_api_keys(db, caller.team_id)
    return ApiKeyList(api_keys=[ApiKeyPublic.model_validate(key) for key in keys])


@endpoint("POST", PATH, tag=TAG, summary="Create an API key", status=201,
          errors=(NotFound, Forbidden, ValidationFailed), path_params=TEAM_ID,
          examples={"body": {"name": "Weekly report", "scope": "read", "projectIds": [1],
                             "expiresAt": "2027-12-31T00:00:00Z"}})
async def create_api_key(request: Request, body: ApiKeyCreate) -> ApiKeySecret:
    """A key for scripts and other tools, sent as `Authorization: Bearer tme_key_...` on the same
    routes as a login's access token. `read`: a viewer of the team's projects in `projectIds`;
    `admin`: an admin of the team's projects and of the team, except its API keys and members.
    The answer's `secret` is shown this once. Needs `admin`, signed in as an account."""
    async with users_state(request).sessions() as db:
        caller = await key_manager(db, request)
        scope = KeyScope(body.scope)
        project_ids = await rules.checked_projects(db, caller.team_id, scope, body.project_ids)
        key, secret = await rules.create_api_key(db, caller.team_id, caller.user_id, name=body.name, scope=scope,
                                                 project_ids=project_ids, expires_at=body.expires_at)
        await audit_key(db, request, caller, AuditAction.API_KEY_CREATED, key,
                        scope=key.scope, projectIds=project_ids,
                        expiresAt=None if key.expires_at is None else key.expires_at.isoformat())
        await db.commit()
    log.info("api key created", extra=_log_fields(caller, key))
    return ApiKeySecret(api_key=ApiKeyPublic.model_validate(key), secret=secret)


@endpoint("POST", PATH + "/{key_id}/rotate", tag=TAG, summary="Rotate an API key",
          errors=(NotFound, Forbidden, Conflict), path_params=KEY_ID)
async def rotate_api_key(request: Request) -> ApiKeySecret:
    """A new secret for the same key (name, scope, projects and expiry kept); the old secret is
    refused from this answer on, on every gateway. The new `secret` is shown this once. A revoked
    or expired key cannot be rotated (409). Needs `admin`, signed in as an account."""
    async with users_state(request).sessions() as db:
        caller = await key_manager(db, request)
        key = await path_key(db, request, caller)
        secret = await rules.rotate_api_key(db, key)
        await audit_key(db, request, caller, AuditAction.API_KEY_ROTATED, key)
        await db.commit()
    log.info("api key rotated", extra=_log_fields(caller, key))
    return ApiKeySecret(api_key=ApiKeyPublic.model_validate(key), secret=secret)


@endpoint("DELETE", PATH + "/{key_id}", tag=TAG, summary="Revoke an API key", errors=(NotFound, Forbidden),
          path_params=KEY_ID)
async def revoke_api_key(request: Request) -> ApiKeyPublic:
    """The key is refused (401) from this answer on, on every gateway; it stays in the list as
    revoked. Revoking a revoked key changes nothing. Needs `admin`, signed in as an account."""
    async with users_state(request).sessions() as db:
        caller = await key_manager(db, request)
        key = await path_key(db, request, caller)
        if rules.revoke_api_key(db, key):
            await audit_key(db, request, caller, AuditAction.API_KEY_REVOKED, key)
            await db.commit()
    log.info("api key revoked", extra=_log_fields(caller, key))
    return ApiKeyPublic.model_validate(key)


endpoints = [list_api_keys, create_api_key, rotate_api_key, revoke_api_key]
