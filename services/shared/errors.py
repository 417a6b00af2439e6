"""One error shape for every service: ``{"error": {"code", "message", "fields"}}``.

Client mistakes raise :class:`ApiError`; anything unexpected becomes a 500 with a generic
message and a request id, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from services.shared.jsonutil import JSONDecodeError, JSONResponse, loads

log = logging.getLogger("tme.errors")

_DEFAULT_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _DEFAULT_CODES.get(status, "error")
        self.message = message
        self.fields = fields or {}
        self.headers = headers or {}


def error_body(code: str, message: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def error_response(
    status: int, code: str, message: str, fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return JSONResponse(error_body(code, message, fields), status_code=status, headers=headers)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.fields, exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _DEFAULT_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "Internal error; it has been logged.")


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
    return ApiError(413, f"Request body is larger than {max_bytes // 1024} KB.", code="payload_too_large")


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
        raise ApiError(400, "The client went away before sending the whole body.", code="incomplete_body") from None
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
        raise ApiError(400, "Request body is empty; a JSON object is expected.", code="invalid_json")
    try:
        data = loads(body)
    except JSONDecodeError as exc:
        raise ApiError(400, f"Request body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(data, dict):
        raise ApiError(400, "Request body must be a JSON object.", code="invalid_json")
    if b"\\u0000" in body:
        where = nul_path(data)
        if where is not None:
            raise ApiError(400, f"{where}: {NUL_MESSAGE}.", code="invalid_text", fields={where: NUL_MESSAGE})
    return data
