"""The demo account and its "Demo" project, through the gateway's public API, and the saved
credentials (`.tme/demo-credentials.json`, mode 0600): no default secrets, a generated password."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

PROJECT_NAME = "Demo"
PROJECT_DOMAIN = "www.acme-analytics.example"
DEFAULT_CREDENTIALS = Path(".tme") / "demo-credentials.json"


class AccountError(Exception):
    pass


@dataclass
class DemoAccount:
    # camelCase: these are the credentials file's JSON keys
    gatewayUrl: str
    email: str
    password: str
    projectId: int
    writeKey: str
    created: bool = False  # registered by this run (not saved)

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("created")
        return data


def read_credentials(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("email") and data.get("password") else None


def save_credentials(path: Path, account: DemoAccount) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(account.public(), f, indent=2)
        f.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _fail(response: httpx.Response, what: str) -> AccountError:
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text[:200]
    return AccountError(f"{what} failed ({response.status_code}): {message}")


def _login(http: httpx.Client, email: str, password: str) -> str | None:
    response = http.post("/api/auth/login", json={"email": email, "password": password})
    if response.status_code == 401:
        return None
    if response.status_code != 200:
        raise _fail(response, "login")
    return str(response.json()["accessToken"])


def _demo_project(http: httpx.Client, token: str) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {token}"}
    response = http.get("/api/projects", headers=auth)
    if response.status_code != 200:
        raise _fail(response, "listing projects")
    projects = response.json()["projects"]
    for project in projects:
        if project["name"] == PROJECT_NAME:
            return dict(project)
    if len(projects) == 1 and projects[0]["name"].endswith("'s project"):  # the account's first project
        response = http.patch(f"/api/projects/{projects[0]['id']}", headers=auth,
                              json={"name": PROJECT_NAME, "domain": PROJECT_DOMAIN})
        if response.status_code != 200:
            raise _fail(response, "renaming the first project")
        return dict(response.json())
    response = http.post("/api/projects", headers=auth, json={"name": PROJECT_NAME, "domain": PROJECT_DOMAIN})
    if response.status_code != 201:
        raise _fail(response, "creating the Demo project")
    return dict(response.json())


def ensure_account(gateway_url: str, saved: dict[str, Any] | None = None) -> DemoAccount:
    """Log in with the saved credentials, or register a new demo account (a generated password);
    then find or create its project named "Demo"."""
    with httpx.Client(base_url=gateway_url, timeout=30) as http:
        token = None
        created = False
        if saved:
            email, password = str(saved["email"]), str(saved["password"])
            token = _login(http, email, password)
        if token is None:
            email = f"demo-{secrets.token_hex(4)}@example.com"
            password = secrets.token_urlsafe(15)
            response = http.post("/api/auth/register", json={"name": "Demo", "email": email, "password": password})
            if response.status_code != 201:
                raise _fail(response, "registering the demo account")
            token = str(response.json()["accessToken"])
            created = True
        project = _demo_project(http, token)
    return DemoAccount(gateway_url, email, password, int(project["id"]), str(project["writeKey"]), created)
