"""Every answer the tests get from the gateway's API is checked against the OpenAPI document the
gateway serves (/api/openapi.json), so the document cannot drift from what the handlers return.

`ResponseValidator(document).problems(method, path, status, content_type, body)` finds the operation
(path templates such as /api/projects/{projectId}), the response for the status (or its `4XX`
range, or `default`), and validates a JSON body with jsonschema (Draft 2020-12, OpenAPI 3.1's
dialect; `$ref`s resolve inside the document). Objects in response schemas are closed: a property
the schema does not list is an error unless the schema says `additionalProperties` (or
`unevaluatedProperties`) itself, which is how a field a handler adds without documenting it fails.
Other bodies (CSV, NDJSON, the SSE stream) are checked for a documented status and media type only.
An API request (/api/*, /v1/*) whose path, method or status the document lacks is an error too;
the rest of the gateway (the dashboard and its assets, /sdk/*, /healthz, /readyz, /metrics, the
document and its docs page themselves) is not API and is not checked, nor are CORS preflights
(OPTIONS) and HEAD requests.

Tests get the check through `schema_hooks()`, the httpx event hooks of every client pointed at a
gateway (tests/conftest.py's `client` and the helpers that build gateway clients). A test that
deliberately sends something undocumented (an unknown route, a method a path does not have) turns
the check off with `@pytest.mark.unchecked_responses("why")` or, for a few lines, `with unchecked():`."""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

# (METHOD, path with {} for each parameter, status) -> how the document is wrong there, e.g.
# ("POST", "/v1/batch", "422"): "the answer adds `rejected`, which the response does not list".
# These answers are not checked until the document is fixed; then the entry goes.
KNOWN_MISMATCHES: dict[tuple[str, str, str], str] = {}

NON_API_PATHS = frozenset({"/api/openapi.json", "/api/docs"})
API_PREFIXES = ("/api/", "/v1/")
UNCHECKED_METHODS = frozenset({"HEAD", "OPTIONS"})
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
DOCUMENT_URI = "urn:tme:openapi"

Schema = dict[str, Any]


class SchemaMismatch(AssertionError):
    """An answer the OpenAPI document does not describe."""


def is_api(method: str, path: str) -> bool:
    return method.upper() not in UNCHECKED_METHODS and path.startswith(API_PREFIXES) and path not in NON_API_PATHS


def shape(template: str) -> str:
    """A path template with its parameters' names left out: /api/projects/{projectId} -> /api/projects/{}."""
    return re.sub(r"\{[^}]+\}", "{}", template)


def _pointer(*parts: str) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


@dataclass(frozen=True)
class Operation:
    method: str
    template: str

    @property
    def label(self) -> str:
        return f"{self.method} {self.template}"


@dataclass(frozen=True)
class _Template:
    path: str
    pattern: re.Pattern[str]
    literal_segments: int


def _template(path: str) -> _Template:
    segments = path.split("/")
    regex = "/".join("[^/]+" if re.fullmatch(r"\{[^}]+\}", s) else re.escape(s) for s in segments)
    literal = sum(1 for s in segments if not s.startswith("{"))
    return _Template(path, re.compile(regex), literal)


class _Closer:
    """Rewrites schemas so that objects in value positions are closed (`unevaluatedProperties: false`).

    Only value positions are closed: the schema of a response body, a property, an array item, a map
    value. A member of `allOf`/`anyOf`/`oneOf` is not, since its siblings may list the other
    properties; the schema that holds the combination is closed instead, and `unevaluatedProperties`
    sees every property its members (and `$ref`s) evaluated. A `$ref` is closed where it is used,
    never in the shared component, which may also be an `allOf` member elsewhere."""

    VALUE_KEYS = ("additionalProperties", "unevaluatedProperties", "items", "contains", "unevaluatedItems")
    VALUE_MAPS = ("properties", "patternProperties")
    IN_PLACE_LISTS = ("allOf", "anyOf", "oneOf")
    IN_PLACE_KEYS = ("if", "then", "else", "not")

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def resolve(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            return None
        node: Any = self.document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def is_object(self, schema: Any, seen: frozenset[str] = frozenset()) -> bool:
        if not isinstance(schema, dict):
            return False
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref not in seen and self.is_object(self.resolve(ref), seen | {ref}):
            return True
        if any(key in schema for key in ("properties", "patternProperties", "required")):
            return True
        kind = schema.get("type")
        if kind == "object" or (isinstance(kind, list) and "object" in kind):
            return True
        return any(self.is_object(member, seen) for key in self.IN_PLACE_LISTS for member in schema.get(key, []))

    def close(self, schema: Any, value_position: bool) -> Any:
        if not isinstance(schema, dict):
            return schema
        out = dict(schema)
        for key in self.VALUE_MAPS:
            if isinstance(out.get(key), dict):
                out[key] = {name: self.close(sub, True) for name, sub in out[key].items()}
        for key in self.VALUE_KEYS:
            if isinstance(out.get(key), dict):
                out[key] = self.close(out[key], True)
        if isinstance(out.get("prefixItems"), list):
            out["prefixItems"] = [self.close(sub, True) for sub in out["prefixItems"]]
        for key in self.IN_PLACE_LISTS:
            if isinstance(out.get(key), list):
                out[key] = [self.close(sub, False) for sub in out[key]]
        for key in self.IN_PLACE_KEYS:
            if isinstance(out.get(key), dict):
                out[key] = self.close(out[key], False)
        open_by_choice = "additionalProperties" in out or "unevaluatedProperties" in out
        if value_position and not open_by_choice and self.is_object(out):
            out["unevaluatedProperties"] = False
        return out


def _closed_document(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of the document whose response schemas treat objects as closed."""
    closed = copy.deepcopy(document)
    closer = _Closer(document)
    components = closed.get("components", {})
    for name, schema in components.get("schemas", {}).items():
        components["schemas"][name] = closer.close(schema, False)
    responses = list(components.get("responses", {}).values())
    for item in closed.get("paths", {}).values():
        for method in HTTP_METHODS:
            responses.extend(item.get(method, {}).get("responses", {}).values())
    for response in responses:
        for media in (response.get("content") or {}).values():
            if "schema" in media:
                media["schema"] = closer.close(media["schema"], True)
    return closed


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _covers(documented: str, media_type: str) -> bool:
    """Whether a documented media type (`text/csv`, `text/*`, `*/*`) covers the answer's."""
    return documented in (media_type, "*/*") or (documented.endswith("/*") and media_type.startswith(documented[:-1]))


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def _causes(errors: list[ValidationError]) -> list[ValidationError]:
    """The errors without the echoes of deeper ones: a member of `allOf` that fails (say, on a
    property its nested object lacks) evaluates nothing, so the enclosing object then also reports
    that member's properties as unevaluated."""
    paths = [list(error.absolute_path) for error in errors]

    def echo(error: ValidationError) -> bool:
        here = list(error.absolute_path)
        return error.validator == "unevaluatedProperties" and any(
            len(other) > len(here) and other[:len(here)] == here for other in paths)

    return [error for error in errors if not echo(error)]


class ResponseValidator:
    """Checks answers against one OpenAPI 3.1 document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.closed = _closed_document(document)
        resource = Resource(contents=self.closed, specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, resource)
        templates = [_template(path) for path in document.get("paths", {})]
        # a literal segment wins over a parameter (/a/stream before /a/{id}); then document order
        self.templates = sorted(templates, key=lambda t: -t.literal_segments)
        self._validators: dict[str, Draft202012Validator] = {}

    def operation(self, method: str, path: str) -> tuple[Operation | None, str | None]:
        """The operation a request reaches, or None and why not."""
        candidates = [t for t in self.templates if t.pattern.fullmatch(path)]
        if not candidates:
            return None, f"{method} {path}: the path is not in the document"
        for template in candidates:
            if method.lower() in self.document["paths"][template.path]:
                return Operation(method.upper(), template.path), None
        return None, f"{method} {candidates[0].path}: the method is not in the document"

    def _response(self, operation: Operation, status: int) -> tuple[str | None, str]:
        """The pointer to the documented response for `status` (after a `$ref`), and its key."""
        responses = self.document["paths"][operation.template][operation.method.lower()].get("responses", {})
        for key in (str(status), f"{str(status)[0]}XX", "default"):
            if key in responses:
                ref = responses[key].get("$ref")
                if isinstance(ref, str) and ref.startswith("#/"):
                    return ref[1:], key
                return _pointer("paths", operation.template, operation.method.lower(), "responses", key), key
        return None, str(status)

    def _node(self, pointer: str) -> Any:
        node: Any = self.closed
        for part in pointer.split("/")[1:]:
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def _validator(self, pointer: str) -> Draft202012Validator:
        if pointer not in self._validators:
            self._validators[pointer] = Draft202012Validator(
                {"$ref": f"{DOCUMENT_URI}#{pointer}"}, registry=self.registry,
                format_checker=Draft202012Validator.FORMAT_CHECKER)
        return self._validators[pointer]

    def problems(self, method: str, path: str, status: int, content_type: str | None, body: bytes) -> list[str]:
        """What in this answer the document does not describe (empty: all of it is described)."""
        operation, why = self.operation(method, path)
        if operation is None:
            return [f"{why} (answered {status})"]
        if (operation.method, shape(operation.template), str(status)) in KNOWN_MISMATCHES:
            return []
        where, key = self._response(operation, status)
        label = f"{operation.label} -> {status}"
        if where is None:
            return [f"{label}: status {status} is not documented"]
        content: dict[str, Any] = self._node(where).get("content") or {}
        media = _media_type(content_type)
        if not content:
            return [f"{label}: the document promises no body, the answer has {len(body)} bytes"] if body else []
        if not media and not body:
            return [f"{label}: the answer has no body, the document promises {sorted(content)}"]
        documented = next((name for name in content if _covers(name, media)), None)
        if documented is None:
            return [f"{label}: content-type {media!r} is not documented (documented: {sorted(content)})"]
        if not _is_json(media) or "schema" not in content[documented]:
            return []
        try:
            instance = json.loads(body)
        except ValueError as exc:
            return [f"{label}: the body is not JSON ({exc})"]
        pointer = f"{where}/content/{_pointer(documented)[1:]}/schema"
        errors = sorted(self._validator(pointer).iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [f"{label} (response {key}): {error.message} at {error.json_path}" for error in _causes(errors)[:5]]

    def check(self, method: str, path: str, status: int, content_type: str | None, body: bytes) -> None:
        if is_api(method, path):
            found = self.problems(method, path, status, content_type, body)
            if found:
                raise SchemaMismatch("the answer does not match /api/openapi.json:\n  " + "\n  ".join(found))


@functools.cache
def validator_for(origin: str) -> ResponseValidator:
    """The validator of the document the gateway at `origin` serves (fetched once per gateway)."""
    response = httpx.get(f"{origin}/api/openapi.json", timeout=30)
    if response.status_code != 200:
        raise SchemaMismatch(f"{origin}/api/openapi.json answered {response.status_code}; cannot check answers")
    return ResponseValidator(response.json())


# a count, not a flag: `unchecked()` blocks may nest, and threads a test starts share it
_unchecked = 0
_unchecked_lock = threading.Lock()


@contextlib.contextmanager
def unchecked() -> Iterator[None]:
    """Answers received inside this block are not checked (for deliberately undocumented requests)."""
    global _unchecked
    with _unchecked_lock:
        _unchecked += 1
    try:
        yield
    finally:
        with _unchecked_lock:
            _unchecked -= 1


def raw_path(url: httpx.URL) -> str:
    """The path as sent (percent-encoded), so an encoded '/' in a parameter stays in its segment."""
    return url.raw_path.split(b"?", 1)[0].decode("ascii")


def check_response(response: httpx.Response) -> None:
    """httpx response hook: raise SchemaMismatch if the gateway's answer is not as documented."""
    request = response.request
    path = raw_path(request.url)
    if _unchecked or not is_api(request.method, path):
        return
    content_type = response.headers.get("content-type")
    media = _media_type(content_type)
    if _is_json(media) or not media:
        response.read()  # JSON and untyped answers are finite; a stream (SSE, CSV, NDJSON) is left to the test
        body = response.content
    else:
        body = b"<not read>"
    origin = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"
    validator_for(origin).check(request.method, path, response.status_code, content_type, body)


def schema_hooks() -> dict[str, list[Callable[[httpx.Response], None]]]:
    """`event_hooks` for an httpx.Client pointed at a gateway."""
    return {"response": [check_response]}


def request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """httpx.request(...) with the check, for a one-off call to a gateway (httpx.get/post take no hooks)."""
    with httpx.Client(timeout=kwargs.pop("timeout", 5), event_hooks=schema_hooks()) as client:
        return client.request(method, url, **kwargs)


def get(url: str, **kwargs: Any) -> httpx.Response:
    return request("GET", url, **kwargs)


def post(url: str, **kwargs: Any) -> httpx.Response:
    return request("POST", url, **kwargs)
