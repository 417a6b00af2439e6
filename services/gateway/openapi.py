"""The public API description (OpenAPI 3.1), maintained by hand next to the routes.

This module describes the dashboard API the gateway routes (accounts, sessions, projects) and
the shared components (error shape, security schemes). Other parts of the gateway describe their
own routes in their own module and are merged in: a module listed in `EXTENSIONS` exports
`<PREFIX>_PATHS` (an OpenAPI `paths` dict) and optionally `<PREFIX>_COMPONENTS` (a `components`
dict: schemas, responses, parameters, securitySchemes). Their operations may `$ref` the shared
components below, e.g. `#/components/schemas/Error`, `#/components/responses/RateLimited` or the
`writeKeyBasic` security scheme. tests/gateway/test_openapi.py checks that every routed path is
described and that the merged document is valid."""

from __future__ import annotations

import copy
import functools
import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from services.shared.api.document import PROXY_ERRORS, Error, error_codes_table, paths_and_schemas, schemas_of
from services.shared.jsonutil import JSONResponse
from services.tracking.routes import ENDPOINTS as TRACKING_ENDPOINTS
from services.users.routes import ENDPOINTS

# (module, prefix): the module exports PREFIX_PATHS and optionally PREFIX_COMPONENTS.
EXTENSIONS: tuple[tuple[str, str], ...] = (
    ("services.gateway.ingest.document", "INGEST"),
)

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Schema, example: Any = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"application/json": media}


def _error_response(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": _json(_ref("Error"))}
    if headers:
        response["headers"] = headers
    return response


RESPONSES: dict[str, Any] = {
    "BadRequest": _error_response("The request body or a parameter is malformed."),
    "Unauthorized": _error_response("Missing, invalid or expired credentials."),
    "NotFound": _error_response("No such resource (or it belongs to someone else)."),
    "ValidationError": _error_response("The input is invalid; `fields` names each problem."),
    "PayloadTooLarge": _error_response("The request body is too large."),
    "RateLimited": _error_response(
        "Too many attempts; wait before retrying.",
        {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
    ),
    "Unavailable": _error_response("An internal service is unreachable (502/503) or too slow (504)."),
}

PARAMETERS: dict[str, Any] = {
    "ProjectId": {
        "name": "projectId", "in": "path", "required": True, "description": "Project id.",
        "schema": {"type": "integer", "format": "int64", "minimum": 1},
    },
}

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
    "components": {"schemas": schemas_of([(Error, "serialization")])[1], "responses": RESPONSES,
                   "parameters": PARAMETERS, "securitySchemes": SECURITY_SCHEMES},
}


def merge(document: dict[str, Any], paths: dict[str, Any], components: dict[str, Any] | None = None,
          *, source: str = "extension") -> None:
    """Add another module's paths and components to `document`, refusing silent overwrites."""
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
    paths, schemas = paths_and_schemas([*ENDPOINTS, *TRACKING_ENDPOINTS], PROXY_ERRORS)
    merge(document, paths, {"schemas": schemas}, source="endpoints")
    for module_name, prefix in EXTENSIONS:
        module = importlib.import_module(module_name)
        merge(document, getattr(module, f"{prefix}_PATHS"), getattr(module, f"{prefix}_COMPONENTS", None),
              source=module_name)
    return document


async def openapi_json(request: Request) -> Response:
    return JSONResponse(openapi_document(), headers={"cache-control": "no-cache"})
