"""The OpenAPI 3.1 document, generated from endpoints and their models.

Schemas come from pydantic's JSON Schema (request bodies as they are validated, answers as they
are serialised) under `#/components/schemas/`; a model named `...Public` is listed without the
suffix (`ProjectPublic` -> `Project`), the name clients know. Every error an endpoint can answer
with is listed under its status, with its codes, from the one catalogue (services/shared/errors.py)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.alias_generators import to_camel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema

from services.shared.api.endpoint import BEARER, PUBLIC, Endpoint
from services.shared.api.model import ApiModel
from services.shared.errors import CATALOGUE, ApiError, BadGateway, UpstreamTimeout, UpstreamUnavailable

Schema = dict[str, Any]
REF = "#/components/schemas/{model}"
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}
_RETRY_STATUSES = {429, 503}
_LOCATION = {"Location": {"description": "Where to read what the request made.", "schema": {"type": "string"}}}
# what the gateway in front of every proxied route answers when the service behind it fails
PROXY_ERRORS: tuple[type[ApiError], ...] = (BadGateway, UpstreamUnavailable, UpstreamTimeout)


class ErrorDetail(ApiModel):
    code: str
    """Stable machine-readable code: one of the API's error codes (the info section lists them)."""
    message: str
    """Human-readable explanation."""
    fields: dict[str, str]
    """Per-field problems (field name -> message); empty if none."""


class Error(ApiModel):
    """Every error, from every route, has this shape."""

    error: ErrorDetail


class _Names(GenerateJsonSchema):
    """Component names without a `Public` suffix, and no titles (the names say it)."""

    def normalize_name(self, name: str) -> str:
        return super().normalize_name(name).removesuffix("Public")

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def schemas_of(models: Iterable[tuple[type[BaseModel], JsonSchemaMode]]) -> tuple[dict[Any, Schema], Schema]:
    """({(model, mode): its $ref}, {component name: schema}) for every model and what it refers to."""
    refs, top = models_json_schema(list(dict.fromkeys(models)), ref_template=REF, schema_generator=_Names)
    components: Schema = top.get("$defs", {})
    for schema in components.values():
        schema.pop("title", None)
    return refs, components


def error_responses(kinds: Iterable[type[ApiError]]) -> dict[str, Any]:
    """One response per status, naming its codes and what each means."""
    by_status: dict[int, list[type[ApiError]]] = defaultdict(list)
    for kind in kinds:
        by_status[kind.status].append(kind)
    responses: dict[str, Any] = {}
    for status in sorted(by_status):
        lines = "\n".join(f"- `{k.code}`: {k.meaning}" for k in by_status[status])
        response: dict[str, Any] = {"description": lines,
                                    "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}}}
        if status in _RETRY_STATUSES:
            response["headers"] = _RETRY_AFTER
        responses[str(status)] = response
    return responses


def _path_parameters(endpoint: Endpoint) -> list[Schema]:
    out = []
    for name in re.findall(r"{(\w+)(?::\w+)?}", endpoint.path):
        kind = endpoint.path_params.get(name, str)
        if kind is int:
            schema: Schema = {"type": "integer", "format": "int64", "minimum": 1}
        elif kind is str:
            schema = {"type": "string"}
        else:
            schema = TypeAdapter(kind).json_schema()
        out.append({"name": to_camel(name), "in": "path", "required": True, "schema": schema})
    return out


def _query_parameters(model: type[BaseModel], schema: Schema, components: Schema) -> list[Schema]:
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema.get("properties", {}).items():
        parameter: Schema = {"name": name, "in": "query", "required": name in required, "schema": dict(prop)}
        if "description" in prop:
            parameter["description"] = parameter["schema"].pop("description")
        if prop.get("examples"):  # the parameter's own example: what the docs page's curl line sends
            parameter["example"] = prop["examples"][0]
        out.append(parameter)
    return out


def _security(endpoint: Endpoint) -> list[dict[str, list[str]]]:
    if endpoint.security == BEARER:
        return [{"bearerAuth": []}]
    if endpoint.security == PUBLIC:
        return []
    if endpoint.security == "writeKey":
        return [{"writeKeyBasic": []}, {"writeKeyHeader": []}]
    return [{"internalToken": []}]


def public_path(path: str) -> str:
    """A route's path as the document names it: `/api/projects/{project_id:int}` ->
    `/api/projects/{projectId}` (camelCase, like every public name)."""
    return re.sub(r"{(\w+)(?::\w+)?}", lambda m: "{" + to_camel(m.group(1)) + "}", path)


def operation(endpoint: Endpoint, refs: dict[Any, Schema], components: Schema,
              always: Sequence[type[ApiError]] = ()) -> Schema:
    op: Schema = {"tags": [endpoint.tag], "summary": endpoint.summary, "operationId": endpoint.operation_id,
                  "security": _security(endpoint)}
    if endpoint.description:
        op["description"] = endpoint.description
    parameters = _path_parameters(endpoint)
    if endpoint.query is not None:
        parameters += _query_parameters(endpoint.query, refs[(endpoint.query, "validation")], components)
    if parameters:
        op["parameters"] = parameters
    if endpoint.body is not None:
        media: Schema = {"schema": refs[(endpoint.body, "validation")]}
        if "body" in endpoint.examples:
            media["example"] = endpoint.examples["body"]
        op["requestBody"] = {"required": True, "content": {"application/json": media}}
    ok: Schema = {"description": (endpoint.response.__doc__ or "Done.").strip().split("\n\n")[0]
                  if endpoint.response is not None else "Done; no body."}
    if endpoint.response is not None:
        media = {"schema": refs[(endpoint.response, "serialization")]}
        if "response" in endpoint.examples:
            media["example"] = endpoint.examples["response"]
        ok["content"] = {endpoint.media_type or "application/json": media}
        if endpoint.location is not None:
            ok["headers"] = _LOCATION
    elif endpoint.media_type is not None:
        kinds = (endpoint.media_type,) if isinstance(endpoint.media_type, str) else endpoint.media_type
        ok = {"description": "A " + " or ".join(f"`{kind}`" for kind in kinds) + " answer (see the description).",
              "content": {kind: {"schema": {"type": "string"}} for kind in kinds}}
    op["responses"] = {str(endpoint.status): ok, **error_responses((*endpoint.all_errors, *always))}
    return op


def paths_and_schemas(endpoints: Sequence[Endpoint], always: Sequence[type[ApiError]] = ()) -> tuple[Schema, Schema]:
    """The `paths` of these endpoints and the component schemas they use (with `Error`); `always`:
    errors every operation can answer with (those of the proxy in front of them)."""
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(Error, "serialization")]
    for e in endpoints:
        if e.body is not None:
            models.append((e.body, "validation"))
        if e.query is not None:
            models.append((e.query, "validation"))
        if e.response is not None:
            models.append((e.response, "serialization"))
    refs, components = schemas_of(models)
    paths: Schema = {}
    for e in endpoints:
        path = public_path(e.path)
        item = paths.setdefault(path, {})
        if e.method.lower() in item:
            raise ValueError(f"{e.method} {path} is described twice")
        item[e.method.lower()] = operation(e, refs, components, always)
    return paths, components


def error_codes_table() -> str:
    """The catalogue as a Markdown table, for the document's description."""
    rows = [f"| `{kind.code}` | {kind.status} | {kind.meaning} |"
            for kind in sorted(CATALOGUE.values(), key=lambda k: (k.status, k.code))]
    return "\n".join(["| code | status | meaning |", "|---|---|---|", *rows])
