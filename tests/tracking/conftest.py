"""Tracking test helpers: a fresh project per test (registered through the gateway), events
inserted straight into PostgreSQL from hand-written rows, and analytics read back through the
gateway with the project owner's token."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from conftest import INTERNAL, Database, unique_email

from services.devstack import DevStack
from services.gateway.ingest.enrich import url_host
from services.shared.embedded import free_port
from services.shared.referrers import traffic_source
from services.tracking.rollups.job import RunStats, run_once
from services.tracking.settings import TrackingSettings

PASSWORD = "correct horse battery staple"
UTC = dt.UTC

COLUMNS = ("project_id", "event_time", "message_id", "type", "event_name", "user_id", "anonymous_id", "session_id",
           "page", "path", "referrer", "referrer_host", "referrer_source", "utm_source", "utm_medium", "utm_campaign",
           "properties", "context", "traits", "browser", "os", "device_type", "is_bot", "received_at")
JSON_COLUMNS = frozenset({"properties", "context", "traits"})
TYPES = {"PAGE_VIEW": "page", "SCREEN_VIEW": "screen", "IDENTIFY": "identify", "ALIAS": "alias", "GROUP": "group"}


def at(text: str) -> dt.datetime:
    """'2026-01-05 10:00' (UTC unless an offset is given) -> aware datetime."""
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def event_row(project_id: int, when: dt.datetime | str, event: str = "PAGE_VIEW", *, visitor: str | None = "v1",
              user: str | None = None, path: str | None = None, **fields: Any) -> dict[str, Any]:
    """One `events` row with defaults for everything not given (the single place rows are built).
    `visitor` is the anonymousId; a PAGE_VIEW gets path '/' unless told otherwise."""
    moment = at(when) if isinstance(when, str) else when
    if event == "PAGE_VIEW" and path is None:
        path = "/"
    row: dict[str, Any] = {
        "project_id": project_id,
        "event_time": moment,
        "message_id": fields.pop("message_id", None) or str(uuid.uuid4()),
        "type": TYPES.get(event, "track"),
        "event_name": event,
        "user_id": user,
        "anonymous_id": visitor,
        "session_id": None,
        "page": f"https://example.com{path}" if path else None,
        "path": path,
        "referrer": None,
        "referrer_host": None,
        "utm_source": None,
        "utm_medium": None,
        "utm_campaign": None,
        "properties": {},
        "context": {},
        "traits": None,
        "browser": "Firefox",
        "os": "Linux",
        "device_type": "desktop",
        "is_bot": False,
        "received_at": moment,
    }
    given_source = "referrer_source" in fields
    unknown = set(fields) - set(row) - {"referrer_source"}
    assert not unknown, f"unknown event fields {unknown}"
    row.update(fields)
    if not given_source:  # what the gateway derives (services/shared/referrers.py)
        row["referrer_source"] = traffic_source(row["utm_source"], row["referrer_host"], url_host(row["page"]))
    return row


class Events:
    """Inserts hand-built rows into `events` of one project."""

    def __init__(self, db: Database, project_id: int) -> None:
        self.db = db
        self.project_id = project_id

    def row(self, when: dt.datetime | str, event: str = "PAGE_VIEW", **fields: Any) -> dict[str, Any]:
        return event_row(self.project_id, when, event, **fields)

    def add(self, when: dt.datetime | str, event: str = "PAGE_VIEW", **fields: Any) -> dict[str, Any]:
        row = self.row(when, event, **fields)
        self.insert([row])
        return row

    def insert(self, rows: list[dict[str, Any]]) -> None:
        for start in range(0, len(rows), 500):
            self._insert(rows[start:start + 500])

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        self.db.execute(*insert_statement(rows))


def insert_statement(rows: list[dict[str, Any]]) -> tuple[Any, ...]:
    """The INSERT of `rows` (event_row dicts) and its arguments."""
    args: list[Any] = []
    values = []
    for row in rows:
        slots = []
        for column in COLUMNS:
            value = row[column]
            if column in JSON_COLUMNS:
                args.append(None if value is None else json.dumps(value))
                slots.append(f"${len(args)}::jsonb")
            else:
                args.append(value)
                slots.append(f"${len(args)}")
        values.append(f"({', '.join(slots)})")
    return (f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES {', '.join(values)}", *args)


@dataclass
class Project:
    """A project owned by a freshly registered user; `get`/`post` call its analytics through the gateway."""

    id: int
    token: str
    http: httpx.Client
    events: Events

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def url(self, section: str) -> str:
        return f"/api/projects/{self.id}/{section}"

    def get(self, section: str, **params: Any) -> httpx.Response:
        return self.http.get(self.url(section), params=encode(params), headers=self.auth)

    def ok(self, section: str, **params: Any) -> Any:
        response = self.get(section, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, section: str, body: Any) -> httpx.Response:
        return self.http.post(self.url(section), json=body, headers=self.auth)


def encode(params: dict[str, Any]) -> dict[str, str]:
    """Query parameters: `from_` -> `from`; lists (filters) JSON-encoded; None left out."""
    out = {}
    for key, value in params.items():
        if value is None:
            continue
        name = key.rstrip("_")
        out[name] = json.dumps(value) if isinstance(value, list | dict) else str(value)
    return out


def register(client: httpx.Client, name: str = "Ada") -> tuple[int, str]:
    response = client.post("/api/auth/register",
                           json={"name": name, "email": unique_email(name.lower()), "password": PASSWORD})
    assert response.status_code == 201, response.text
    body = response.json()
    return int(body["project"]["id"]), str(body["accessToken"])


@pytest.fixture
def project(client: httpx.Client, db: Database) -> Iterator[Project]:
    project_id, token = register(client)
    yield Project(project_id, token, client, Events(db, project_id))


def assert_error(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"code", "message", "fields"}
    if field is not None:
        assert field in error["fields"], error
    return error


@pytest.fixture(scope="module")
def rollup_url(stack: DevStack) -> Iterator[str]:
    """A tracking instance that answers from rollups whatever the size (its own job is off)."""
    key = "tracking-rollups"
    svc = stack.start_service("tracking", key=key, port=free_port(),
                              env={"TME_ROLLUP_MIN_EVENTS": "0", "TME_ROLLUP_INTERVAL_SECONDS": "0",
                                   "TME_RETENTION_MATRICES": "20"})
    try:
        yield svc.url
    finally:
        svc.stop()
        stack.services.pop(key, None)


def roll_up(database_url: str, **settings: Any) -> RunStats | None:
    """One run of the rollup job (with the given settings), waiting for a run in progress to
    finish first; what it did."""
    return asyncio.run(run_once(TrackingSettings(database_url=database_url, **settings), wait=True))


def ask(base: str, project: Project, section: str, **params: Any) -> dict[str, Any]:
    """An analytics question asked of one tracking instance directly (as the gateway would)."""
    response = httpx.get(f"{base}/api/projects/{project.id}/{section}", params=encode(params),
                         headers={"X-TME-Project-Id": str(project.id), **INTERNAL}, timeout=30)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
