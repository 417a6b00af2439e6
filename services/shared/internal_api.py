"""The users service's answers to the other services (`/internal/...`, never routed by the
gateway): one definition that the users service writes and the gateway reads."""

from __future__ import annotations

import datetime as dt

from services.shared.api.model import ApiModel


class TokenCheck(ApiModel):
    """`GET /internal/auth/verify`: whose access token it is, and until when."""

    user_id: int
    session_id: str
    expires_at: dt.datetime


class ProjectOwner(ApiModel):
    """`GET /internal/projects/{id}`."""

    id: int
    owner_id: int
    name: str
    write_key: str


class WriteKeyOwner(ApiModel):
    """`GET /internal/write-keys/{key}`: the project a write key belongs to."""

    project_id: int
    owner_id: int | None = None
