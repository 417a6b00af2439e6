"""Public JSON for users and projects (camelCase; never a password or token hash)."""

from __future__ import annotations

from typing import Any

from services.shared.jsonutil import isoformat
from services.users.models import Project, User
from services.users.tokens import TokenPair


def user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "email": user.email, "createdAt": isoformat(user.created_at)}


def project_json(project: Project) -> dict[str, Any]:
    return {
        "id": project.id,
        "name": project.name,
        "domain": project.domain,
        "writeKey": project.write_key,
        "createdAt": isoformat(project.created_at),
    }


def auth_json(user: User, pair: TokenPair) -> dict[str, Any]:
    return {
        "user": user_json(user),
        "accessToken": pair.access_token,
        "refreshToken": pair.refresh_token,
        "expiresIn": pair.expires_in,
    }
