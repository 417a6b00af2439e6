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

from services.shared.jsonutil import JSONResponse

# (module, prefix): the module exports PREFIX_PATHS and optionally PREFIX_COMPONENTS.
EXTENSIONS: tuple[tuple[str, str], ...] = (
    ("services.gateway.ingest.openapi", "INGEST"),
    ("services.tracking.openapi", "TRACKING"),
)

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Schema, example: Any = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"application/json": media}


def _body(name: str, example: Any = None) -> dict[str, Any]:
    return {"required": True, "content": _json(_ref(name), example)}


def _ok(description: str, name: str) -> dict[str, Any]:
    return {"description": description, "content": _json(_ref(name))}


def _error(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


NO_CONTENT = {"description": "Done; no body."}
BEARER = [{"bearerAuth": []}]
PUBLIC: list[dict[str, list[str]]] = []  # operation needs no credentials

_EXAMPLE_USER = {"id": 1, "name": "Ada", "email": "ada@example.com", "createdAt": "2025-01-01T12:00:00Z"}
_EXAMPLE_PROJECT = {"id": 1, "name": "Ada's project", "domain": "example.com",
                    "writeKey": "wk_3q2b8f0c1e4a4d9f8b7c6a5e4d3c2b1a", "createdAt": "2025-01-01T12:00:00Z"}
_EXAMPLE_SESSION = {"user": _EXAMPLE_USER, "accessToken": "tme_at_...", "refreshToken": "tme_rt_...",
                    "expiresIn": 3600}

_NAME: Schema = {"type": "string", "minLength": 1, "maxLength": 100, "description": "Trimmed; not empty."}
_NEW_PASSWORD: Schema = {"type": "string", "minLength": 8, "maxLength": 128, "writeOnly": True}
_DOMAIN: Schema = {"type": ["string", "null"], "maxLength": 253,
                   "description": "A hostname such as `example.com` (a scheme and trailing slash are dropped; "
                                  "an empty string means none)."}

SCHEMAS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "description": "Every error, from every route, has this shape.",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "fields"],
                "properties": {
                    "code": {"type": "string", "description": "Stable machine-readable code.",
                             "examples": ["validation_error", "unauthorized", "not_found", "rate_limited"]},
                    "message": {"type": "string", "description": "Human-readable explanation."},
                    "fields": {"type": "object", "additionalProperties": {"type": "string"},
                               "description": "Per-field problems (field name -> message); empty if none."},
                },
            }
        },
        "example": {"error": {"code": "validation_error", "message": "Invalid input (email: not an email).",
                              "fields": {"email": "not an email"}}},
    },
    "User": {
        "type": "object",
        "required": ["id", "name", "email", "createdAt"],
        "properties": {
            "id": {"type": "integer", "format": "int64"},
            "name": {"type": "string"},
            "email": {"type": "string", "format": "email"},
            "createdAt": {"type": "string", "format": "date-time"},
        },
    },
    "Project": {
        "type": "object",
        "required": ["id", "name", "domain", "writeKey", "createdAt"],
        "properties": {
            "id": {"type": "integer", "format": "int64"},
            "name": {"type": "string"},
            "domain": {"type": ["string", "null"], "description": "Site the project tracks, if set."},
            "writeKey": {"type": "string", "description": "Public key that identifies the project when sending "
                                                          "events (`wk_...`). Rotate it to stop old senders."},
            "createdAt": {"type": "string", "format": "date-time"},
        },
    },
    "ProjectList": {
        "type": "object",
        "required": ["projects"],
        "properties": {"projects": {"type": "array", "items": _ref("Project")}},
    },
    "Session": {
        "type": "object",
        "description": "A login: the user and a fresh access/refresh token pair.",
        "required": ["user", "accessToken", "refreshToken", "expiresIn"],
        "properties": {
            "user": _ref("User"),
            "accessToken": {"type": "string", "description": "Send as `Authorization: Bearer <accessToken>`."},
            "refreshToken": {"type": "string", "description": "Single use: exchange it at /api/auth/refresh."},
            "expiresIn": {"type": "integer", "description": "Seconds until the access token expires."},
        },
    },
    "Registration": {
        "allOf": [
            _ref("Session"),
            {"type": "object", "required": ["project"], "properties": {"project": _ref("Project")}},
        ],
        "description": "A new account, logged in, with its first project.",
    },
    "RegisterRequest": {
        "type": "object",
        "required": ["name", "email", "password"],
        "properties": {
            "name": _NAME,
            "email": {"type": "string", "format": "email", "maxLength": 254},
            "password": _NEW_PASSWORD,
        },
    },
    "LoginRequest": {
        "type": "object",
        "required": ["email", "password"],
        "properties": {
            "email": {"type": "string", "format": "email"},
            "password": {"type": "string", "writeOnly": True},
        },
    },
    "RefreshRequest": {
        "type": "object",
        "required": ["refreshToken"],
        "properties": {"refreshToken": {"type": "string"}},
    },
    "UpdateMeRequest": {
        "type": "object",
        "description": "Only the fields given change.",
        "properties": {"name": _NAME},
    },
    "ChangePasswordRequest": {
        "type": "object",
        "required": ["currentPassword", "newPassword"],
        "properties": {
            "currentPassword": {"type": "string", "writeOnly": True},
            "newPassword": _NEW_PASSWORD,
        },
    },
    "CreateProjectRequest": {
        "type": "object",
        "required": ["name"],
        "properties": {"name": _NAME, "domain": _DOMAIN},
    },
    "UpdateProjectRequest": {
        "type": "object",
        "description": "Only the fields given change; `\"domain\": null` clears the domain.",
        "properties": {"name": _NAME, "domain": _DOMAIN},
    },
}


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


def _op(tag: str, summary: str, responses: dict[str, Any], *, security: list[Any] | None = None,
        body: dict[str, Any] | None = None, description: str | None = None, op_id: str) -> dict[str, Any]:
    operation: dict[str, Any] = {"tags": [tag], "summary": summary, "operationId": op_id,
                                 "security": BEARER if security is None else security}
    if description:
        operation["description"] = description
    if body:
        operation["requestBody"] = body
    all_responses = dict(responses)
    if operation["security"]:
        all_responses.setdefault("401", _error("Unauthorized"))
    all_responses.setdefault("503", _error("Unavailable"))
    operation["responses"] = all_responses
    return operation


_PROJECT_PARAMS = [{"$ref": "#/components/parameters/ProjectId"}]

ACCOUNT_PATHS: dict[str, Any] = {
    "/api/auth/register": {"post": _op(
        "Auth", "Create an account", op_id="register", security=PUBLIC,
        description="Creates the user, logs them in and creates their first project.",
        body=_body("RegisterRequest", {"name": "Ada", "email": "ada@example.com", "password": "correct horse"}),
        responses={"201": {"description": "Account created.",
                           "content": _json(_ref("Registration"), {**_EXAMPLE_SESSION, "project": _EXAMPLE_PROJECT})},
                   "409": _error_response("An account with this email already exists."),
                   "400": _error("BadRequest"), "422": _error("ValidationError"),
                   "429": _error("RateLimited")},
    )},
    "/api/auth/login": {"post": _op(
        "Auth", "Log in", op_id="login", security=PUBLIC,
        description="Unknown email and wrong password get the same 401. Repeated failures for an email from "
                    "one address are throttled (429 with Retry-After).",
        body=_body("LoginRequest", {"email": "ada@example.com", "password": "correct horse"}),
        responses={"200": {"description": "Logged in.", "content": _json(_ref("Session"), _EXAMPLE_SESSION)},
                   "401": _error_response("Wrong email or password."),
                   "400": _error("BadRequest"), "422": _error("ValidationError"), "429": _error("RateLimited")},
    )},
    "/api/auth/refresh": {"post": _op(
        "Auth", "Exchange a refresh token for a new token pair", op_id="refresh", security=PUBLIC,
        description="The refresh token is single use. Presenting one that was already used revokes the whole "
                    "login (all its tokens) and answers 401.",
        body=_body("RefreshRequest", {"refreshToken": "tme_rt_..."}),
        responses={"200": _ok("A new token pair.", "Session"),
                   "401": _error_response("Unknown, expired, revoked or reused refresh token."),
                   "400": _error("BadRequest"), "422": _error("ValidationError")},
    )},
    "/api/auth/logout": {"post": _op(
        "Auth", "Log out", op_id="logout",
        description="Revokes this login's access and refresh tokens, effective immediately.",
        responses={"204": NO_CONTENT},
    )},
    "/api/me": {
        "get": _op("Me", "The logged-in user", op_id="getMe", responses={"200": _ok("The user.", "User")}),
        "patch": _op("Me", "Rename the logged-in user", op_id="updateMe", body=_body("UpdateMeRequest"),
                     responses={"200": _ok("The updated user.", "User"), "400": _error("BadRequest"),
                                "422": _error("ValidationError")}),
    },
    "/api/me/password": {"post": _op(
        "Me", "Change password", op_id="changePassword", body=_body("ChangePasswordRequest"),
        description="Needs the current password. Logs out every other login of this user.",
        responses={"204": NO_CONTENT, "400": _error("BadRequest"),
                   "422": _error_response("Invalid input, or the current password is wrong."),
                   "429": _error("RateLimited")},
    )},
    "/api/projects": {
        "get": _op("Projects", "List my projects", op_id="listProjects",
                   responses={"200": _ok("The caller's projects.", "ProjectList")}),
        "post": _op("Projects", "Create a project", op_id="createProject",
                    body=_body("CreateProjectRequest", {"name": "Shop", "domain": "shop.example.com"}),
                    responses={"201": _ok("The new project, with its write key.", "Project"),
                               "400": _error("BadRequest"), "422": _error("ValidationError")}),
    },
    "/api/projects/{projectId}": {
        "parameters": _PROJECT_PARAMS,
        "get": _op("Projects", "Get a project", op_id="getProject",
                   responses={"200": _ok("The project.", "Project"), "404": _error("NotFound")}),
        "patch": _op("Projects", "Update a project", op_id="updateProject", body=_body("UpdateProjectRequest"),
                     responses={"200": _ok("The updated project.", "Project"), "404": _error("NotFound"),
                                "400": _error("BadRequest"), "422": _error("ValidationError")}),
        "delete": _op("Projects", "Delete a project", op_id="deleteProject",
                      description="Deletes the project; its write key stops being accepted (after the same short "
                                  "cache time as a rotated key).",
                      responses={"204": NO_CONTENT, "404": _error("NotFound")}),
    },
    "/api/projects/{projectId}/rotate-key": {
        "parameters": _PROJECT_PARAMS,
        "post": _op("Projects", "Rotate the write key", op_id="rotateWriteKey",
                    description="Issues a new write key. Events sent with the old one are refused once gateways "
                                "stop caching it (`TME_INGEST_KEY_CACHE_TTL_SECONDS`, 60 s by default).",
                    responses={"200": _ok("The project with its new write key.", "Project"),
                               "404": _error("NotFound")}),
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
                       "write key.",
        "version": "0.0.0",
    },
    "servers": [{"url": "/", "description": "This server"}],
    "tags": [
        {"name": "Auth", "description": "Accounts and login sessions."},
        {"name": "Me", "description": "The logged-in user."},
        {"name": "Projects", "description": "Projects and their write keys."},
    ],
    "paths": ACCOUNT_PATHS,
    "components": {"schemas": SCHEMAS, "responses": RESPONSES, "parameters": PARAMETERS,
                   "securitySchemes": SECURITY_SCHEMES},
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
    for module_name, prefix in EXTENSIONS:
        module = importlib.import_module(module_name)
        merge(document, getattr(module, f"{prefix}_PATHS"), getattr(module, f"{prefix}_COMPONENTS", None),
              source=module_name)
    return document


async def openapi_json(request: Request) -> Response:
    return JSONResponse(openapi_document(), headers={"cache-control": "no-cache"})
