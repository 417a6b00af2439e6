"""Endpoints: a handler with what it takes and answers, from which both its Starlette route and its
OpenAPI operation are made.

    @endpoint("POST", "/api/projects", tag="Projects", summary="Create a project", status=201,
              errors=(ValidationFailed,))
    async def create_project(request: Request, body: ProjectCreate) -> ProjectPublic: ...

- A parameter named `body` is the JSON request body, parsed into its model before the handler
  runs: a malformed body answers 400/413 and an invalid one 422 with every field's problem.
- A parameter named `query` is the query string, parsed into its model (400 `invalid_parameter`).
- The return annotation is the 2xx answer: a model is serialised (camelCase) with `status` (and a
  `Location` header made from it when the endpoint names a `location`); `None` answers 204. A
  handler may also return a Starlette `Response` (streams, files) when the endpoint says what it
  is with `media_type`.
- Routes that need an access token (`security=BEARER`, the default) answer 401 before their body
  is read when no `Authorization: Bearer` header came at all; the handler checks the token itself.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.alias_generators import to_camel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.shared.api.bearer import bearer_token
from services.shared.errors import (
    MAX_JSON_BYTES,
    ApiError,
    InvalidJson,
    InvalidParameter,
    InvalidText,
    PayloadTooLarge,
    Unauthorized,
    Unavailable,
    ValidationFailed,
    read_json_object,
)
from services.shared.jsonutil import JSONResponse
from services.shared.validation import parse_model

Security = Literal["bearer", "public", "writeKey", "internal"]
BEARER: Security = "bearer"
PUBLIC: Security = "public"
# what any JSON body may answer before the handler runs
BODY_ERRORS: tuple[type[ApiError], ...] = (InvalidJson, InvalidText, PayloadTooLarge, ValidationFailed)
Handler = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    tag: str
    summary: str
    description: str = ""
    status: int = 200
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    errors: tuple[type[ApiError], ...] = ()
    security: Security = BEARER
    # a non-JSON answer (CSV, event stream), returned as a Response; a tuple when it has several formats
    media_type: str | tuple[str, ...] | None = None
    # a path parameter's type: int, str (the default), or an annotated type whose JSON Schema documents it
    path_params: dict[str, Any] = field(default_factory=dict)
    examples: dict[str, Any] = field(default_factory=dict)  # "body" / "response": an example of each
    operation_id: str = ""
    max_body_bytes: int = MAX_JSON_BYTES
    # the answer's Location header, made from the answer model (a 201/202 naming where to read what it made)
    location: Callable[[Any], str] | None = None

    @property
    def all_errors(self) -> tuple[type[ApiError], ...]:
        """Every error kind this endpoint can answer with, its own and those of its parts."""
        kinds: list[type[ApiError]] = list(self.errors)
        if self.body is not None:
            kinds.extend(BODY_ERRORS)
        if self.query is not None:
            kinds.append(InvalidParameter)
        if self.security == BEARER:
            kinds.append(Unauthorized)
        kinds.append(Unavailable)
        return tuple(dict.fromkeys(kinds))

    def route(self) -> Route:
        return Route(self.path, self._asgi_handler(), methods=[self.method], name=self.operation_id)

    def _asgi_handler(self) -> Callable[[Request], Awaitable[Response]]:
        body_model, query_model, max_body_bytes = self.body, self.query, self.max_body_bytes
        handler, status, bearer, location = self.handler, self.status, self.security == BEARER, self.location

        async def run(request: Request) -> Response:
            if bearer:
                bearer_token(request)  # no token at all: 401 before the body is read
            kwargs: dict[str, Any] = {}
            if query_model is not None:
                kwargs["query"] = parse_query(query_model, request)
            if body_model is not None:
                kwargs["body"] = parse_model(body_model, await read_json_object(request, max_bytes=max_body_bytes))
            answer = await handler(request, **kwargs)
            if answer is None:
                return Response(status_code=204)
            if isinstance(answer, Response):
                return answer
            assert isinstance(answer, BaseModel), f"{handler.__name__} returned {type(answer).__name__}"
            headers = None if location is None else {"Location": location(answer)}
            return JSONResponse(answer.model_dump(mode="json", by_alias=True), status_code=status, headers=headers)

        run.__name__ = handler.__name__
        return run


def parse_query(model: type[BaseModel], request: Request) -> BaseModel:
    """The query string as `model` (a repeated parameter is a list when the field is one)."""
    params = request.query_params
    data: dict[str, Any] = {}
    for name in params:
        values = params.getlist(name)
        data[name] = values if len(values) > 1 else values[0]
    return parse_model(model, data, InvalidParameter, "query")


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return annotation
    return None


def endpoint(method: str, path: str, *, tag: str, summary: str, description: str = "", status: int = 200,
             errors: Sequence[type[ApiError]] = (), security: Security = BEARER,
             media_type: str | tuple[str, ...] | None = None, path_params: Mapping[str, Any] | None = None,
             examples: dict[str, Any] | None = None, max_body_bytes: int = MAX_JSON_BYTES,
             location: Callable[[Any], str] | None = None) -> Callable[[Handler], Endpoint]:
    """Make an Endpoint of a handler; its body, query and answer models come from its annotations."""

    def make(handler: Handler) -> Endpoint:
        hints = typing.get_type_hints(handler)
        response = _model_of(hints.get("return"))
        if response is None and media_type is None and hints.get("return") not in (type(None), None):
            raise TypeError(f"{handler.__name__}: return a model or None, or name the media_type of its Response")
        return Endpoint(
            method=method, path=path, handler=handler, tag=tag, summary=summary,
            description=inspect.cleandoc(description or handler.__doc__ or ""), status=204 if (
                response is None and media_type is None) else status,
            body=_model_of(hints.get("body")), query=_model_of(hints.get("query")), response=response,
            errors=tuple(errors), security=security, media_type=media_type, path_params=dict(path_params or {}),
            examples=dict(examples or {}), operation_id=to_camel(handler.__name__), max_body_bytes=max_body_bytes,
            location=location,
        )

    return make


def routes(endpoints: Sequence[Endpoint]) -> list[Route]:
    return [e.route() for e in endpoints]
