"""Team test helpers: invite someone through the public API and have them accept, as a user would."""

from __future__ import annotations

from typing import Any

import httpx

from .conftest import Account, register


def invite(client: httpx.Client, admin: Account, email: str, role: str = "member", *,
           project_id: int | None = None, team_id: int | None = None) -> dict[str, Any]:
    """The invitation answer (with its `link`) of `admin` inviting `email`."""
    body: dict[str, Any] = {"email": email, "role": role}
    if project_id is not None:
        body["projectId"] = project_id
    made = client.post(f"/api/teams/{team_id or admin.team_id}/invitations", json=body, headers=admin.auth)
    assert made.status_code == 201, made.text
    return dict(made.json())


def token_of(link: str) -> str:
    return link.rsplit("/invite/", 1)[1]


def accept(client: httpx.Client, account: Account, link: str) -> httpx.Response:
    return client.post(f"/api/invitations/{token_of(link)}/accept", headers=account.auth)


def join(client: httpx.Client, admin: Account, role: str, name: str = "Colleague") -> Account:
    """A new account, invited by `admin` into its personal team as `role`, that accepted."""
    colleague = register(client, name)
    joined = accept(client, colleague, invite(client, admin, colleague.email, role)["link"])
    assert joined.status_code == 200, joined.text
    return colleague


def role_of(client: httpx.Client, admin: Account, user_id: int) -> str | None:
    members = client.get(f"/api/teams/{admin.team_id}/members", headers=admin.auth)
    assert members.status_code == 200, members.text
    return next((m["role"] for m in members.json()["members"] if m["userId"] == user_id), None)


def message(response: httpx.Response) -> str:
    """The error message of a 4xx answer."""
    return str(response.json()["error"]["message"])
