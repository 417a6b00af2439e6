"""The gateway's routing table for the dashboard API: which public path goes to which upstream.

Account, session and project routes go to the users service unchanged (it checks tokens
itself). Analytics routes under `/api/projects/{id}/<section>/...` go to the tracking service
after the gateway has verified the token and the project's owner, with the caller's identity in
`X-TME-User-Id` / `X-TME-Project-Id`. Nothing else is routed (so `/internal/*` is a 404)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import httpx
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from services.gateway.auth import (
    MAX_PROJECT_ID,
    Authenticator,
    Identity,
    bearer_token,
    project_not_found,
    token_digest,
)
from services.gateway.proxy import ProxyResponse, forward, request_id, upstream_error
from services.gateway.share import SHARE_ENDPOINTS
from services.gateway.state import gateway_state
from services.gateway.streams import is_long_lived
from services.shared.api.endpoint import routes
from services.shared.errors import ApiError, NotFound
from services.users.public import DeletionJobs

log = logging.getLogger("tme.gateway.routes")

TRACKING_SECTIONS = frozenset({"stats", "funnels", "retention", "sessions", "realtime", "events", "persons",
                               "export"})
TRACKING_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _auth(request: Request) -> Authenticator:
    return gateway_state(request.app).auth


async def _identity_or_none(request: Request) -> Identity | None:
    try:
        return await _auth(request).identify(request)
    except ApiError:
        return None


async def _everywhere(request: Request, kind: str, value: str, forget: Callable[[str], None]) -> None:
    """Forget here, then on every other gateway process and pod (services/gateway/broadcast.py)."""
    forget(value)
    await gateway_state(request.app).broadcast.publish(kind, value)


async def to_users(request: Request) -> Response:
    return await forward(request, gateway_state(request.app).users, "users")


async def logout(request: Request) -> Response:
    """Proxy a logout, then forget that login's tokens on every gateway (no grace period)."""
    token = bearer_token(request)
    identity = await _identity_or_none(request) if token else None
    response = await forward(request, gateway_state(request.app).users, "users")
    auth = _auth(request)
    if token:
        await _everywhere(request, "token", token_digest(token), auth.forget_token_digest)
    if identity is not None and identity.session_id is not None and response.status_code < 400:
        await _everywhere(request, "session", identity.session_id, auth.forget_session)
    return response


async def change_password(request: Request) -> Response:
    """Proxy a password change, which revokes the user's other logins: forget them all, everywhere."""
    identity = await _identity_or_none(request) if bearer_token(request) else None
    response = await forward(request, gateway_state(request.app).users, "users")
    if identity is not None and response.status_code < 400:
        await _everywhere(request, "user", str(identity.user_id), _auth(request).forget_user)
    return response


async def project(request: Request) -> Response:
    """Proxy a project call; a deletion or key rotation is forgotten by every gateway at once
    (ownership and write key caches) and the project's write keys leave the shared store."""
    project_id: int = request.path_params["project_id"]
    if project_id > MAX_PROJECT_ID:
        raise project_not_found()  # cannot exist; spare the users service an out-of-range id
    response = await forward(request, gateway_state(request.app).users, "users")
    if request.method in ("DELETE", "POST") and response.status_code < 400:  # POST: .../rotate-key
        await _forget_project(request, project_id)
    return response


async def _forget_project(request: Request, project_id: int) -> None:
    """A project deleted or its key rotated: its write keys leave the shared store, and every
    gateway forgets its owner and keys at once."""
    keys = gateway_state(request.app).ingest.keys
    await keys.shared.delete_project(project_id)

    def forget(value: str) -> None:
        _auth(request).forget_project(value)
        keys.forget_project(int(value))
        gateway_state(request.app).shares.forget_project(value)

    await _everywhere(request, "project", str(project_id), forget)


async def create_share_link(request: Request) -> Response:
    """Proxy a share link's creation, telling users the origin this gateway was reached at (the
    answer's `url` is the link to give out)."""
    origin = str(request.base_url).rstrip("/")
    return await forward(request, gateway_state(request.app).users, "users",
                         extra_headers={"x-tme-public-origin": origin})


async def revoke_share_link(request: Request) -> Response:
    """Proxy a share link's revocation; once users accepted it, every gateway forgets the link's
    views at once (services/gateway/share_views.py)."""
    response = await forward(request, gateway_state(request.app).users, "users")
    if response.status_code < 400:
        link_id = str(request.path_params["link_id"])
        await _everywhere(request, "share_link", link_id, gateway_state(request.app).shares.forget_link)
    return response


async def change_api_key(request: Request) -> Response:
    """Proxy an API key's rotation or revocation; once users accepted it, every gateway forgets the
    key's verified secret and roles at once (a lost broadcast: within TME_AUTH_CACHE_TTL_SECONDS)."""
    response = await forward(request, gateway_state(request.app).users, "users")
    if response.status_code < 400:
        await _everywhere(request, "api_key", str(request.path_params["key_id"]), _auth(request).forget_api_key)
    return response


async def invite(request: Request) -> Response:
    """Proxy an invitation, telling users the origin this gateway was reached at (the answer's
    `link`, unless TME_PUBLIC_URL says otherwise)."""
    origin = str(request.base_url).rstrip("/")
    return await forward(request, gateway_state(request.app).users, "users",
                         extra_headers={"x-tme-public-origin": origin})


async def change_member(request: Request) -> Response:
    """Proxy a member's role change or removal (or a guest's removal); once users accepted it, every
    gateway forgets that account's roles at once (a lost broadcast: within TME_AUTH_CACHE_TTL_SECONDS)."""
    response = await forward(request, gateway_state(request.app).users, "users")
    if response.status_code < 400:
        await _everywhere(request, "user", str(request.path_params["user_id"]), _auth(request).forget_user)
    return response


async def transfer_team(request: Request) -> Response:
    """Proxy a transfer of ownership: the new owner's and the caller's roles are forgotten everywhere."""
    identity = await _identity_or_none(request) if bearer_token(request) else None
    try:  # {"userId": ...}: read before forwarding (the body is kept for the upstream)
        target = int(json.loads(await request.body())["userId"])
    except (ValueError, KeyError, TypeError):
        target = None
    response = await forward(request, gateway_state(request.app).users, "users")
    if response.status_code < 400:
        for user_id in {target, None if identity is None else identity.user_id} - {None}:
            await _everywhere(request, "user", str(user_id), _auth(request).forget_user)
    return response


async def accept_invitation(request: Request) -> Response:
    """Proxy an invitation's acceptance: the caller's cached answers (404 for the team's projects)
    are forgotten everywhere, so the new role applies at once."""
    identity = await _identity_or_none(request) if bearer_token(request) else None
    response = await forward(request, gateway_state(request.app).users, "users")
    if identity is not None and identity.user_id is not None and response.status_code < 400:
        await _everywhere(request, "user", str(identity.user_id), _auth(request).forget_user)
    return response


async def delete_account(request: Request) -> Response:
    """Proxy an account deletion: once users accepted it, every gateway forgets the user's logins
    and the deleted projects' roles and write keys at once (the answer lists the projects' jobs)."""
    return await _forgetting_deleted_projects(request, forget_caller=True)


async def delete_team(request: Request) -> Response:
    """Proxy a team's deletion: once users accepted it, every gateway forgets the deleted projects'
    roles and write keys at once (the answer lists the projects' jobs)."""
    return await _forgetting_deleted_projects(request, forget_caller=False)


async def _forgetting_deleted_projects(request: Request, *, forget_caller: bool) -> Response:
    identity = await _identity_or_none(request) if bearer_token(request) else None
    response = await forward(request, gateway_state(request.app).users, "users")
    if identity is None or response.status_code >= 400 or not isinstance(response, ProxyResponse):
        return response
    if forget_caller and identity.user_id is not None:
        await _everywhere(request, "user", str(identity.user_id), _auth(request).forget_user)
    try:  # a small JSON answer: read it whole (for the project ids), then pass it on
        body = await response.upstream.aread()
    except httpx.HTTPError as exc:
        return upstream_error(exc, "users", request_id(request))
    finally:
        await response.upstream.aclose()
    try:
        project_ids = [job.project_id for job in DeletionJobs.model_validate_json(body).jobs]
    except ValidationError:
        log.warning("a deletion answered an unexpected body; project caches expire on their own")
        project_ids = []
    for project_id in project_ids:
        await _forget_project(request, project_id)
    answer = Response(body, status_code=response.status_code)
    answer.raw_headers = response.raw_headers
    return answer


async def to_tracking(request: Request) -> Response:
    project_id: int = request.path_params["project_id"]
    segments = request.path_params["rest"].split("/")
    if segments[0] not in TRACKING_SECTIONS or any(s in (".", "..") for s in segments):
        raise NotFound("Not found.")
    auth = _auth(request)
    identity = await auth.identify(request)
    await auth.require_project(request, identity, project_id)
    long_lived = is_long_lived(segments)  # realtime stream, export: own pool, capped (streams.py)
    gateway = gateway_state(request.app)
    caller = f"key:{identity.api_key_id}" if identity.api_key_id is not None else f"user:{identity.user_id}"
    release = gateway.stream_slots.acquire(caller, project_id) if long_lived else None
    return await forward(
        request,
        gateway.streams if long_lived else gateway.tracking,
        "tracking",
        extra_headers={**_caller_headers(identity), "x-tme-project-id": str(project_id)},
        stream_read_timeout=gateway.settings.upstream_stream_timeout_seconds,
        on_close=release,
    )


def _caller_headers(identity: Identity) -> dict[str, str]:
    """Who the tracking service answers (for its logs and the audit log of exports)."""
    headers = {}
    if identity.user_id is not None:
        headers["x-tme-user-id"] = str(identity.user_id)
    if identity.api_key_id is not None:
        headers["x-tme-api-key-id"] = str(identity.api_key_id)
    return headers


def proxy_routes() -> list[BaseRoute]:
    return [
        Route("/api/auth/register", to_users, methods=["POST"]),
        Route("/api/auth/login", to_users, methods=["POST"]),
        Route("/api/auth/refresh", to_users, methods=["POST"]),
        Route("/api/auth/logout", logout, methods=["POST"]),
        Route("/api/me", to_users, methods=["GET", "PATCH"]),
        Route("/api/me", delete_account, methods=["DELETE"]),
        Route("/api/me/password", change_password, methods=["POST"]),
        Route("/api/data-jobs", to_users, methods=["GET"]),
        Route("/api/data-jobs/{job_id}", to_users, methods=["GET"]),
        Route("/api/teams", to_users, methods=["GET", "POST"]),
        Route("/api/teams/{team_id:int}", to_users, methods=["GET", "PATCH"]),
        Route("/api/teams/{team_id:int}", delete_team, methods=["DELETE"]),
        Route("/api/teams/{team_id:int}/api-keys", to_users, methods=["GET", "POST"]),
        Route("/api/teams/{team_id:int}/api-keys/{key_id:int}", change_api_key, methods=["DELETE"]),
        Route("/api/teams/{team_id:int}/api-keys/{key_id:int}/rotate", change_api_key, methods=["POST"]),
        Route("/api/teams/{team_id:int}/audit", to_users, methods=["GET"]),
        Route("/api/teams/{team_id:int}/members", to_users, methods=["GET"]),
        Route("/api/teams/{team_id:int}/members/{user_id:int}", change_member, methods=["PATCH", "DELETE"]),
        Route("/api/teams/{team_id:int}/transfer", transfer_team, methods=["POST"]),
        Route("/api/teams/{team_id:int}/invitations", to_users, methods=["GET"]),
        Route("/api/teams/{team_id:int}/invitations", invite, methods=["POST"]),
        Route("/api/teams/{team_id:int}/invitations/{invitation_id:int}", to_users, methods=["DELETE"]),
        Route("/api/invitations/{token}", to_users, methods=["GET"]),
        Route("/api/invitations/{token}/accept", accept_invitation, methods=["POST"]),
        Route("/api/projects", to_users, methods=["GET", "POST"]),
        Route("/api/projects/{project_id:int}", project, methods=["GET", "PATCH", "DELETE"]),
        Route("/api/projects/{project_id:int}/rotate-key", project, methods=["POST"]),
        Route("/api/projects/{project_id:int}/regulations", to_users, methods=["GET", "POST"]),
        Route("/api/projects/{project_id:int}/guests", to_users, methods=["GET"]),
        Route("/api/projects/{project_id:int}/guests/{user_id:int}", change_member, methods=["DELETE"]),
        Route("/api/projects/{project_id:int}/share-links", to_users, methods=["GET"]),
        Route("/api/projects/{project_id:int}/share-links", create_share_link, methods=["POST"]),
        Route("/api/projects/{project_id:int}/share-links/{link_id:int}", revoke_share_link, methods=["DELETE"]),
        *routes(SHARE_ENDPOINTS),  # shared dashboards: public, without a login (share.py)
        # Analytics paths are documented by the tracking service's own OpenAPI paths, not as one route.
        Route("/api/projects/{project_id:int}/{rest:path}", to_tracking, methods=TRACKING_METHODS,
              include_in_schema=False),
    ]
