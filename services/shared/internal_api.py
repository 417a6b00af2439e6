"""The users service's answers to the other services (`/internal/...`, never routed by the
gateway): one definition that the users service writes and the gateway reads."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from services.shared.api.model import ApiModel

ProjectRole = Literal["viewer", "member", "admin", "owner"]


class TokenCheck(ApiModel):
    """`GET /internal/auth/verify`: who the bearer is (an account's login, or an API key), and
    until when."""

    user_id: int | None  # an API key's: the account that made it, if it still exists
    session_id: str | None  # None for an API key
    expires_at: dt.datetime | None  # None: an API key without expiry
    api_key_id: int | None = None


class ProjectAccessCheck(ApiModel):
    """`GET /internal/projects/{id}/access` (with the caller's bearer): the caller's role in the
    project (404: no access)."""

    project_id: int
    team_id: int
    role: ProjectRole


class ProjectInfo(ApiModel):
    """`GET /internal/projects/{id}`."""

    id: int
    team_id: int
    name: str
    write_key: str


class WriteKeyOwner(ApiModel):
    """`GET /internal/write-keys/{key}`: the project a write key belongs to."""

    project_id: int
    team_id: int | None = None


class ShareView(ApiModel):
    """`GET /internal/share/{token}` (with the `X-TME-Share-Password` the viewer gave, if any): the
    share link's project and view (404: unknown, revoked, or its project is gone). `unlocked` is
    false when the link has a password and it was not given or is wrong."""

    link_id: int
    project_id: int
    project_name: str
    domain: str | None
    name: str | None
    params: dict[str, Any]
    password_required: bool
    unlocked: bool
