"""One error shape for every service: ``{"error": {"code", "message", "fields"}}``.

Client mistakes raise one of the kinds of :class:`ApiError` below, the one catalogue of error codes
every service answers with; anything unexpected becomes a 500 with a generic message and a request
id, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from services.shared.jsonutil import JSONDecodeError, JSONResponse, loads

log = logging.getLogger("tme.errors")

class ApiError(Exception):
    """An answer in the shared error shape. Raise one of the kinds below (the catalogue): each has
    its HTTP status, its stable `code` and what it means, which the API reference lists."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    meaning: ClassVar[str] = "The request is malformed."

    def __init__(self, message: str, *, fields: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.headers = headers or {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.code in CATALOGUE:
            raise TypeError(f"error code {cls.code!r} is already {CATALOGUE[cls.code].__name__}")
        CATALOGUE[cls.code] = cls

    def response(self) -> Response:
        return error_response(self.status, self.code, self.message, self.fields, self.headers)


# code -> kind: every error any service answers with (the API reference's list of error codes)
CATALOGUE: dict[str, type[ApiError]] = {}


class BadRequest(ApiError):
    status, code, meaning = 400, "bad_request", "The request is malformed."


class InvalidJson(ApiError):
    status, code, meaning = 400, "invalid_json", "The body is empty, not JSON, or not a JSON object."


class InvalidText(ApiError):
    status, code, meaning = 400, "invalid_text", "A text holds a NUL character, which cannot be stored."


class InvalidParameter(ApiError):
    status, code, meaning = 400, "invalid_parameter", "A query parameter is invalid; `fields` names it."


class InvalidEncoding(ApiError):
    status, code, meaning = 400, "invalid_encoding", "The compressed body is not valid gzip/deflate data."


class IncompleteBody(ApiError):
    status, code, meaning = 400, "incomplete_body", "The client went away before sending the whole body."


class Unauthorized(ApiError):
    status, code, meaning = 401, "unauthorized", "Missing, invalid or expired credentials."


class MissingWriteKey(ApiError):
    status, code, meaning = 401, "missing_write_key", "An ingest request names no write key."


class InvalidWriteKey(ApiError):
    status, code, meaning = 401, "invalid_write_key", "The write key is unknown or was rotated."


class Forbidden(ApiError):
    status, code, meaning = 403, "forbidden", "The credentials may not do this."


class InternalOnly(ApiError):
    status, code, meaning = 401, "internal_only", "A service's own port answers only the gateway (TME_INTERNAL_TOKEN)."


class NotFound(ApiError):
    status, code, meaning = 404, "not_found", "No such resource, or it belongs to someone else."


class MethodNotAllowed(ApiError):
    status, code, meaning = 405, "method_not_allowed", "The path does not take this method."


class RequestTimeout(ApiError):
    status, code, meaning = 408, "request_timeout", "The headers or the body arrived too slowly."


class Conflict(ApiError):
    status, code, meaning = 409, "conflict", "The change conflicts with the resource's state."


class EmailTaken(ApiError):
    status, code, meaning = 409, "email_taken", "An account with this email already exists."


class PayloadTooLarge(ApiError):
    status, code, meaning = 413, "payload_too_large", "The body, or a batch, is over its limit."


class EventTooLarge(ApiError):
    status, code, meaning = 413, "event_too_large", "One event (with its copied context) is over the limit."


class UnsupportedEncoding(ApiError):
    status, code, meaning = 415, "unsupported_encoding", "The Content-Encoding is not gzip, deflate or none."


class ValidationFailed(ApiError):
    status, code, meaning = 422, "validation_error", "The input is invalid; `fields` names each problem."


class InvalidPassword(ApiError):
    status, code, meaning = 422, "invalid_password", "The current password given is wrong."


class RateLimited(ApiError):
    status, code, meaning = 429, "rate_limited", "Too many requests; `Retry-After` says when to retry."


class TooManyStreams(ApiError):
    status, code, meaning = 429, "too_many_streams", "Too many open streams or exports for this user or project."


class HeadersTooLarge(ApiError):
    status, code, meaning = 431, "headers_too_large", "The request's headers are too large or too many."


class InternalError(ApiError):
    status, code, meaning = 500, "internal_error", "Unexpected; it has been logged with the request id."


class BadGateway(ApiError):
    status, code, meaning = 502, "bad_gateway", "An internal service failed to answer."


class Unavailable(ApiError):
    status, code, meaning = 503, "unavailable", "Temporarily unavailable; `Retry-After` says when to retry."


class UpstreamUnavailable(ApiError):
    status, code, meaning = 503, "upstream_unavailable", "An internal service is unreachable."


class QueueUnavailable(ApiError):
    status, code, meaning = 503, "queue_unavailable", "Events cannot be queued right now; retry after `Retry-After`."


class Overloaded(ApiError):
    status, code, meaning = 503, "overloaded", "Too many events wait to be stored; retry after `Retry-After`."


class QueryTimeout(ApiError):
    status, code, meaning = 503, "query_timeout", "The query took too long; narrow the range or the filters."


class NotBuilt(ApiError):
    status, code, meaning = 503, "not_built", "The dashboard has not been built on this server."


class UpstreamTimeout(ApiError):
    status, code, meaning = 504, "upstream_timeout", "An internal service did not answer in time."


# the kind of a status that Starlette raises itself (HTTPException) or a protocol refusal names
_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 405: MethodNotAllowed, 409: Conflict,
    413: PayloadTooLarge, 415: UnsupportedEncoding, 422: ValidationFailed, 429: RateLimited, 503: Unavailable,
}


def error_body(code: str, message: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def error_response(
    status: int, code: str, message: str, fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return JSONResponse(error_body(code, message, fields), status_code=status, headers=headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kind = _BY_STATUS.get(exc.status_code, BadRequest)
    message = exc.detail if isinstance(exc.detail, str) else kind.meaning
    return error_response(exc.status_code, kind.code, message, headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return InternalError("Internal error; it has been logged.").response()


exception_handlers: dict[Any, Any] = {
    ApiError: _api_error,
    HTTPException: _http_error,
    Exception: _unexpected,
}


MAX_JSON_BYTES = 64 * 1024
NUL_MESSAGE = "must not contain NUL characters (\\u0000)"


def too_large(max_bytes: int) -> ApiError:
    # The connection stays open: the server drains the rest of the body, at most TME_MAX_BODY_BYTES
    # (http_protocol.py), so a proxy still sending it (the gateway) reads this answer, not a reset.
    return PayloadTooLarge(f"Request body is larger than {max_bytes // 1024} KB.")


async def read_capped_body(request: Request, max_bytes: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed `max_bytes`: by its
    Content-Length before reading, else once the bytes read pass the cap (never buffered whole).
    How long the body may take to arrive is bounded by the server (http_protocol.py)."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise too_large(max_bytes)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise too_large(max_bytes)
            chunks.append(chunk)
    except ClientDisconnect:  # gone, or cut off by the server's body deadline: nobody reads this answer
        raise IncompleteBody("The client went away before sending the whole body.") from None
    return b"".join(chunks)


def nul_path(value: Any) -> str | None:
    """The path (`name`, `steps[1].event`) of the first string or key holding a NUL character
    (walked with a stack, not recursion: a body may nest as deep as the JSON parser allows)."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return path
        elif isinstance(item, dict):
            for key, child in item.items():
                where = f"{path}.{key}" if path else str(key)
                if "\x00" in key:
                    return where.replace("\x00", "\\u0000")
                stack.append((where, child))
        elif isinstance(item, list):
            stack.extend((f"{path}[{index}]", child) for index, child in enumerate(item))
    return None


async def read_json_object(request: Request, *, max_bytes: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """Parse the request body as a JSON object or raise a 400/413 that says why. Text holding a
    NUL character (which PostgreSQL cannot store) is refused with a 400 naming the field."""
    body = await read_capped_body(request, max_bytes)
    if not body:
        raise InvalidJson("Request body is empty; a JSON object is expected.")
    try:
        data = loads(body)
    except JSONDecodeError as exc:
        raise InvalidJson(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidJson("Request body must be a JSON object.")
    if b"\\u0000" in body:
        where = nul_path(data)
        if where is not None:
            raise InvalidText(f"{where}: {NUL_MESSAGE}.", fields={where: NUL_MESSAGE})
    return data
