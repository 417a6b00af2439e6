"""The public API description (OpenAPI 3.1) the gateway serves at /api/openapi.json, generated.

The users and tracking services' routes are typed endpoints (services/shared/api): their paths and
schemas are generated from the route table and the models. The ingest routes are raw ASGI apps for
speed; their paths come from services/gateway/ingest/document.py, generated from the ingest
models. This module adds what is the gateway's own: the introduction (with the catalogue of error
codes), the security schemes and the tags, and refuses two parts describing the same path.
tests/gateway/test_openapi_and_health.py checks that every routed path is described and that the
document is valid; tests/schema_check.py checks every answer the tests receive against it."""

from __future__ import annotations

import copy
import functools
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from services.gateway.ingest.document import INGEST_COMPONENTS, INGEST_PATHS
from services.gateway.share import SHARE_ENDPOINTS
from services.shared.api.document import PROXY_ERRORS, Error, error_codes_table, paths_and_schemas, schemas_of
from services.shared.jsonutil import JSONResponse
from services.tracking.routes import ENDPOINTS as TRACKING_ENDPOINTS
from services.users.routes import ENDPOINTS

SECURITY_SCHEMES: dict[str, Any] = {
    # `x-label`: how the docs page names the scheme beside each operation
    "bearerAuth": {
        "type": "http", "scheme": "bearer", "x-label": "access token",
        "description": "An access token from /api/auth/login, /register or /refresh (`tme_at_...`).",
    },
    "writeKeyBasic": {
        "type": "http", "scheme": "basic", "x-label": "write key",
        "description": "Segment-compatible: HTTP Basic with the project's write key as the user name and an "
                       "empty password (what Segment's libraries send).",
    },
    "writeKeyHeader": {
        "type": "apiKey", "in": "header", "name": "X-Write-Key", "x-label": "write key",
        "description": "The project's write key in a header of its own.",
    },
}


BASE_DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Track My Events API",
        "summary": "Self-hosted event tracking and product analytics.",
        "description": "Every error has the shape `{\"error\": {\"code\", \"message\", \"fields\"}}`. Dashboard "
                       "routes take `Authorization: Bearer <accessToken>`; a project that is not yours answers "
                       "404, like one that does not exist. Event ingestion authenticates with the project's "
                       "write key.\n\n## Error codes\n\n" + error_codes_table(),
        "version": "0.0.0",
    },
    "servers": [{"url": "/", "description": "This server"}],
    "tags": [
        {"name": "Auth", "description": "Accounts and login sessions."},
        {"name": "Me", "description": "The logged-in user."},
        {"name": "Projects", "description": "Projects and their write keys."},
    ],
    "paths": {},
    "components": {"schemas": schemas_of([(Error, "serialization")])[1], "securitySchemes": SECURITY_SCHEMES},
}


def merge(document: dict[str, Any], paths: dict[str, Any], components: dict[str, Any] | None = None,
          *, source: str) -> None:
    """Add a part's paths and components to `document`, refusing silent overwrites."""
    for path, item in paths.items():
        if path in document["paths"]:
            raise ValueError(f"{source}: path {path} is already described")
        document["paths"][path] = copy.deepcopy(item)
    for section, entries in (components or {}).items():
        target = document["components"].setdefault(section, {})
        for name, value in entries.items():
            if name in target and target[name] != value:
                raise ValueError(f"{source}: components.{section}.{name} is already defined differently")
            target[name] = copy.deepcopy(value)
    tags = {tag["name"] for tag in document["tags"]}
    for item in paths.values():
        for operation in item.values():
            for tag in operation.get("tags", []) if isinstance(operation, dict) else []:
                if tag not in tags:
                    document["tags"].append({"name": tag})
                    tags.add(tag)


def _package_version() -> str:
    try:
        return version("trackmyevents")
    except PackageNotFoundError:
        return "0.0.0"


@functools.cache
def openapi_document() -> dict[str, Any]:
    document = copy.deepcopy(BASE_DOCUMENT)
    document["info"]["version"] = _package_version()
    paths, schemas = paths_and_schemas([*ENDPOINTS, *TRACKING_ENDPOINTS, *SHARE_ENDPOINTS], PROXY_ERRORS)
    merge(document, paths, {"schemas": schemas}, source="endpoints")
    merge(document, INGEST_PATHS, INGEST_COMPONENTS, source="services.gateway.ingest.document")
    return document


async def openapi_json(request: Request) -> Response:
    return JSONResponse(openapi_document(), headers={"cache-control": "no-cache"})
