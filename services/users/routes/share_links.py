"""Share links of a project (services/users/share_links.py): list, create and revoke them as a
project `admin`; and, for the gateway only, open one by its token (`/internal/share/{token}`)."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.shared.api.endpoint import endpoint
from services.shared.audit import AuditAction
from services.shared.errors import Forbidden, NotFound
from services.shared.internal_api import ShareView
from services.shared.jsonutil import JSONResponse
from services.users.access import Role
from services.users.audit_log import audit
from services.users.bearer import authenticate, client_ip
from services.users.path_ids import path_id
from services.users.public import ShareLinkCreated, ShareLinkList, ShareLinkPublic
from services.users.routes.auth import rate_limited
from services.users.routes.projects import PROJECT_ID, project_for
from services.users.schemas import ShareLinkCreate
from services.users.share_links import (
    PASSWORD_HEADER,
    create_share_link,
    given_password,
    open_share_link,
    project_share_links,
    record_view,
    revoke_share_link,
    throttle_subject,
)
from services.users.state import users_state

log = logging.getLogger("tme.users.share_links")

TAG = "Share links"
PATH = "/api/projects/{project_id}/share-links"
LINK_ID = {**PROJECT_ID, "link_id": int}
# the origin the gateway was reached at (scheme://host), so the answer's url is the one to give out
ORIGIN_HEADER = "x-tme-public-origin"


def share_link_not_found() -> NotFound:
    return NotFound("Share link not found.")


@endpoint("GET", PATH, tag=TAG, summary="List a project's share links", errors=(NotFound, Forbidden),
          path_params=PROJECT_ID)
async def list_share_links(request: Request) -> ShareLinkList:
    """Newest first, revoked ones included, never their tokens. Needs `admin`."""
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        project = await project_for(db, request, principal, Role.ADMIN)
        assert project.id is not None
        links = await project_share_links(db, project.id)
    return ShareLinkList(share_links=[ShareLinkPublic.of(link) for link in links])


@endpoint("POST", PATH, tag=TAG, summary="Share the project's dashboard", status=201, errors=(NotFound, Forbidden),
          path_params=PROJECT_ID,
          examples={"body": {"name": "Investors", "password": "a long passphrase",
                             "params": {"period": "30d", "filters": [{"field": "page", "op": "eq",
                                                                      "value": "/pricing"}]}}})
async def create_link(request: Request, body: ShareLinkCreate) -> ShareLinkCreated:
    """A public link to a read-only view of this project's dashboard (summary, chart, breakdowns),
    opening with `params`' range and filters, which whoever opens it may change. Nothing else of
    the project (events, people, settings, write key) or of any other project is reachable through
    it. The answer's `url` holds the token: it is shown this once. Needs `admin`."""
    state = users_state(request)
    async with state.sessions() as db:
        principal = await authenticate(request, db)
        project = await project_for(db, request, principal, Role.ADMIN)
        password_hash = None if body.password is None else await state.passwords.hash(body.password)
        params = body.params.model_dump(mode="json", by_alias=True, exclude_none=True)
        link, token = await create_share_link(db, project, principal.user_id, name=body.name,
                                              password_hash=password_hash, params=params)
        await audit(db, request, principal, project.team_id, AuditAction.SHARE_LINK_CREATED, project_id=project.id,
                    target=f"share_link:{link.id}", details={"name": body.name, "password": password_hash is not None})
        await db.commit()
    log.info("share link created", extra={"user_id": principal.user_id, "project_id": project.id,
                                          "share_link_id": link.id})
    origin = request.headers.get(ORIGIN_HEADER, "").rstrip("/")
    return ShareLinkCreated(share_link=ShareLinkPublic.of(link), url=f"{origin}/share/{token}")


@endpoint("DELETE", PATH + "/{link_id}", tag=TAG, summary="Revoke a share link", errors=(NotFound, Forbidden),
          path_params=LINK_ID)
async def revoke_link(request: Request) -> None:
    """The link answers 404 from this answer on, on every gateway. Needs `admin`."""
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        project = await project_for(db, request, principal, Role.ADMIN)
        assert project.id is not None
        link_id = path_id(request.path_params["link_id"])
        link = None if link_id is None else await revoke_share_link(db, project.id, link_id)
        if link is None:
            raise share_link_not_found()
        await audit(db, request, principal, project.team_id, AuditAction.SHARE_LINK_REVOKED, project_id=project.id,
                    target=f"share_link:{link.id}", details={"name": link.name})
        await db.commit()
    log.info("share link revoked", extra={"user_id": principal.user_id, "project_id": project.id,
                                          "share_link_id": link_id})


async def open_link(request: Request) -> Response:
    """The gateway's question: what a token shows, and whether the password it was given (if any)
    unlocks it. Wrong passwords are counted like failed logins and throttled (429)."""
    state = users_state(request)
    password = given_password(request.headers.get(PASSWORD_HEADER))
    async with state.sessions() as db:
        found = await open_share_link(db, request.path_params["token"])
        if found is None:
            raise share_link_not_found()
        link, project = found.link, found.project
        assert link.id is not None and project.id is not None
        unlocked = link.password_hash is None
        if not unlocked and password is not None:
            subject, ip = throttle_subject(link.id), client_ip(request)
            wait = await state.throttle.retry_after(subject, ip)
            if wait is not None:
                log.warning("share link password throttled", extra={"share_link_id": link.id, "retry_after": wait})
                raise rate_limited(f"Too many wrong passwords; try again in {wait} seconds.", wait)
            unlocked = await state.passwords.verify(link.password_hash, password)
            if unlocked:
                await state.throttle.reset(subject, ip)
            else:
                await state.throttle.record_failure(subject, ip)
        if unlocked:
            await record_view(db, link.id)
            await db.commit()
    view = ShareView(link_id=link.id, project_id=project.id, project_name=project.name, domain=project.domain,
                     name=link.name, params=link.params, password_required=link.password_hash is not None,
                     unlocked=unlocked)
    return JSONResponse(view.model_dump(mode="json"))


endpoints = [list_share_links, create_link, revoke_link]
internal_routes = [Route("/internal/share/{token}", open_link, methods=["GET"])]
