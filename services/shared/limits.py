"""Request limits every service enforces before its application sees a request: header size and
count, the largest body, and how long headers and a body may take to arrive (slow-loris).

Read by the HTTP server of each service (http_protocol.py) and by the body readers (bodies.py),
once per process, from `TME_*` environment variables."""

from __future__ import annotations

import functools

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServerLimits(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TME_", extra="ignore")

    max_header_bytes: int = Field(
        default=32 * 1024, ge=4096,
        description="Largest request line plus headers; more is refused with 431 before the request is parsed")
    max_headers: int = Field(default=100, ge=10, description="Most header lines in one request (431 above)")
    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024,
        description="Largest request body any route reads (413 above, refused by Content-Length before reading; "
                    "the gateway raises it to TME_INGEST_MAX_BATCH_BYTES when that is larger). JSON routes cap "
                    "lower: 64 KB (accounts), 100 KB (funnels)")
    headers_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long a request's headers may take to arrive (408 and closed after)")
    body_timeout_seconds: float = Field(
        default=30.0, gt=0,
        description="How long a request's body may take to arrive once its headers are in (408 after)")


@functools.cache
def server_limits() -> ServerLimits:
    return ServerLimits()
