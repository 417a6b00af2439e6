"""Reverse proxy from the gateway to one upstream service.

The request goes upstream with the same method, path, query and body (streamed, not buffered),
and only the client headers an upstream needs; hop-by-hop headers and every client-sent
`x-tme-*` header are dropped. The gateway adds `X-TME-Client-IP` and `X-Request-Id`, plus any
headers the caller passes (the tracking routes add the verified user and project). The answer
is streamed back chunk by chunk as it arrives, so Server-Sent Events work too. An upstream that
cannot be reached or fails mid-request becomes a 502/503/504 in the shared error shape."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Mapping

import anyio
import httpx
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from services.shared.errors import ApiError, BadGateway, UpstreamTimeout, UpstreamUnavailable

log = logging.getLogger("tme.gateway.proxy")

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
    "trailer", "trailers", "transfer-encoding", "upgrade",
})
# Client headers an upstream may see; everything else (cookies, x-forwarded-*, x-tme-*, ...) stays here.
FORWARDED_REQUEST_HEADERS = frozenset({
    "accept", "accept-encoding", "accept-language", "authorization", "cache-control", "content-encoding",
    "content-length", "content-type", "if-match", "if-modified-since", "if-none-match", "if-unmodified-since",
    "last-event-id", "user-agent",
})
# Upstream response headers the gateway replaces with its own.
DROPPED_RESPONSE_HEADERS = HOP_BY_HOP | {"date", "server"}
INTERNAL_PREFIX = "x-tme-"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id(request: Request) -> str:
    """The client's `X-Request-Id` when it is a sane token, else a new one; stable per request."""
    cached = getattr(request.state, "request_id", None)
    if cached:
        return str(cached)
    given = request.headers.get("x-request-id", "")
    rid = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
    request.state.request_id = rid
    return rid


def client_ip(request: Request) -> str | None:
    # uvicorn resolves X-Forwarded-For from trusted proxies into the client address (shared/serve.py)
    return request.client.host if request.client else None


def upstream_headers(request: Request, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    headers = {k: v for k, v in request.headers.items() if k in FORWARDED_REQUEST_HEADERS}
    headers.setdefault("accept-encoding", "identity")  # never let httpx ask for a compressed body we pass on
    ip = client_ip(request)
    if ip:
        headers["x-tme-client-ip"] = ip
    headers["x-request-id"] = request_id(request)
    for key, value in (extra or {}).items():
        headers[key.lower()] = value
    return headers


def _response_headers(upstream: httpx.Response, rid: str) -> list[tuple[bytes, bytes]]:
    listed = {name.strip().lower() for name in upstream.headers.get("connection", "").split(",") if name.strip()}
    out: list[tuple[bytes, bytes]] = []
    seen_request_id = seen_cache_control = False
    for raw_key, raw_value in upstream.headers.raw:
        key = raw_key.decode("latin-1").lower()
        if key in DROPPED_RESPONSE_HEADERS or key in listed or key.startswith(INTERNAL_PREFIX):
            continue
        seen_request_id = seen_request_id or key == "x-request-id"
        seen_cache_control = seen_cache_control or key == "cache-control"
        out.append((key.encode("latin-1"), raw_value))
    if not seen_request_id:
        out.append((b"x-request-id", rid.encode("latin-1")))
    if not seen_cache_control:  # a user's own data: never kept by a browser or a shared cache
        out.append((b"cache-control", b"no-store"))
    return out


def upstream_failure(exc: Exception, name: str, rid: str) -> ApiError:
    """The error an upstream call that failed (`exc`, an httpx error) answers with."""
    headers = {"x-request-id": rid}
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return UpstreamUnavailable(f"The {name} service is unavailable; try again shortly.", headers=headers)
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeout(f"The {name} service did not answer in time.", headers=headers)
    return BadGateway(f"The {name} service failed to answer.", headers=headers)


def upstream_error(exc: Exception, name: str, rid: str) -> Response:
    return upstream_failure(exc, name, rid).response()


class ProxyResponse(Response):
    """Streams an upstream response to the client; closes the upstream when done or when the
    client goes away (also while waiting on an idle event stream)."""

    def __init__(self, upstream: httpx.Response, name: str, rid: str,
                 on_close: Callable[[], None] | None = None) -> None:
        self.upstream = upstream
        self.on_close = on_close
        self.name = name
        self.status_code = upstream.status_code
        self.background = None
        self.raw_headers = _response_headers(upstream, rid)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._watch_disconnect, receive, tasks.cancel_scope)
                await self._stream(send)
                tasks.cancel_scope.cancel()
        except* OSError:  # the client connection broke while we were writing
            pass
        finally:
            with anyio.CancelScope(shield=True):
                await self.upstream.aclose()
            if self.on_close is not None:
                self.on_close()

    async def _stream(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        try:
            async for chunk in self.upstream.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except httpx.HTTPError as exc:  # headers are gone already: end the body, log why
            log.warning("upstream %s broke off a response: %s", self.name, type(exc).__name__)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    @staticmethod
    async def _watch_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
        while True:
            message: Message = await receive()
            if message["type"] == "http.disconnect":
                scope.cancel()
                return


async def forward(
    request: Request,
    client: httpx.AsyncClient,
    name: str,
    *,
    extra_headers: Mapping[str, str] | None = None,
    stream_read_timeout: float | None = None,
    on_close: Callable[[], None] | None = None,
) -> Response:
    """Send `request` to the same path on `client`'s base URL and stream the answer back;
    `on_close` runs once the answer is over (sent, failed, or the client went away)."""
    rid = request_id(request)
    raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
    target = raw_path.decode("latin-1")
    query = request.scope.get("query_string", b"")
    if query:
        target += "?" + query.decode("latin-1")
    headers = upstream_headers(request, extra_headers)
    has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
    timeout = client.timeout
    if stream_read_timeout is not None and "text/event-stream" in request.headers.get("accept", ""):
        timeout = httpx.Timeout(timeout.read, connect=timeout.connect, read=stream_read_timeout,
                                write=timeout.write, pool=timeout.pool)
    upstream_request = client.build_request(
        request.method, target, headers=headers, content=request.stream() if has_body else None, timeout=timeout,
    )
    try:
        upstream = await client.send(upstream_request, stream=True)
    except BaseException as exc:
        if on_close is not None:
            on_close()
        if isinstance(exc, ClientDisconnect):
            return Response(status_code=400)  # nobody is listening any more
        if isinstance(exc, httpx.HTTPError):
            log.warning("upstream %s failed for %s %s: %s", name, request.method, request.url.path,
                        type(exc).__name__)
            return upstream_error(exc, name, rid)
        raise
    return ProxyResponse(upstream, name, rid, on_close)
