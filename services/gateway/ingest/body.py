"""Reading an ingest request: body with a size cap (also after gzip/deflate), any content type
(`text/plain` from `navigator.sendBeacon` included), JSON, and the write key wherever a client
puts it (HTTP Basic username, `X-Write-Key`, `writeKey`/`apiKey` in the body).

The ingest endpoints are plain ASGI (routes.py): the request is its scope's headers, decoded
once into a dict, and the ASGI `receive` channel."""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Mapping
from typing import Any

from starlette.types import Receive, Scope

from services.shared.errors import (
    ApiError,
    IncompleteBody,
    InvalidEncoding,
    InvalidJson,
    InvalidWriteKey,
    PayloadTooLarge,
    UnsupportedEncoding,
)
from services.shared.jsonutil import JSONDecodeError, loads

Headers = Mapping[str, str]
_GZIP_MAGIC = b"\x1f\x8b"


def request_headers(scope: Scope) -> dict[str, str]:
    """The request's headers by lower-case name (the first value of a repeated header)."""
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        key = name.decode("latin-1").lower()
        if key not in headers:
            headers[key] = value.decode("latin-1")
    return headers


def _too_large(limit: int, what: str = "Request body") -> ApiError:
    return PayloadTooLarge(f"{what} is larger than {limit // 1024} KB, the limit per request; "
                           "send fewer events per batch.")


async def read_body(receive: Receive, headers: Headers, limit: int) -> bytes:
    """The (decompressed) body, refusing more than `limit` bytes without reading it all."""
    length = headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise IncompleteBody("The client went away before sending the whole body.")
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    encoding = headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip", "deflate"):
        return _inflate(body, limit)
    raise UnsupportedEncoding(f"Content-Encoding {encoding!r} is not supported; use gzip, deflate or none.")


def _inflate(body: bytes, limit: int) -> bytes:
    """The inflated body, refused once more than `limit` bytes come out (never more is held).
    A gzip body may hold several members (RFC 1952: `cat a.gz b.gz`); each is inflated in turn
    and all count against the limit. Bytes after a member that do not start another one are
    refused rather than ignored, and so is anything after a zlib (deflate) stream."""
    out: list[bytes] = []
    size = 0
    rest = body
    try:
        while True:
            inflater = zlib.decompressobj(wbits=47)  # 32 + 15: gzip or zlib header, detected
            chunk = inflater.decompress(rest, limit - size + 1)
            size += len(chunk)
            if size > limit or inflater.unconsumed_tail:
                raise _too_large(limit, "Decompressed request body")
            if not inflater.eof:
                raise InvalidEncoding("The compressed body is truncated.")
            out.append(chunk)
            rest = inflater.unused_data
            if not rest:
                break
            if not rest.startswith(_GZIP_MAGIC):
                raise InvalidEncoding("The compressed body has data after its end that is not another gzip "
                                      "member.")
    except zlib.error:
        raise InvalidEncoding("The body is not valid gzip/deflate data.") from None
    return out[0] if len(out) == 1 else b"".join(out)


def parse_json(body: bytes) -> dict[str, Any]:
    if not body.strip():
        raise InvalidJson("Request body is empty; a JSON object is expected.")
    try:
        data = loads(body)
    except JSONDecodeError as exc:
        raise InvalidJson(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidJson("Request body must be a JSON object.")
    return data


def basic_username(headers: Headers) -> str | None:
    header = headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidWriteKey("The Authorization header is not valid HTTP Basic credentials.") from None
    return decoded.partition(":")[0] or None


def write_key(headers: Headers, data: dict[str, Any], *body_names: str) -> str | None:
    key = basic_username(headers) or headers.get("x-write-key")
    if key:
        return key.strip()
    for name in body_names:
        value = data.get(name)
        if isinstance(value, str) and value:
            return value.strip()
    return None
