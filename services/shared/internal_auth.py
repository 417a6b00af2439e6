"""Service-to-service authentication: every call the gateway makes to users and tracking carries
the shared secret `TME_INTERNAL_TOKEN` in `X-TME-Internal-Token`, and those services refuse any
other request (401), so the identity headers the gateway sets (`X-TME-User-Id`,
`X-TME-Project-Id`, `X-TME-Client-IP`) and users' `/internal/*` routes are believed only from
the gateway, not from anything that can reach the pod network. Liveness, readiness and metrics
stay open (probes and Prometheus carry no secret). The comparison is constant-time.

Why a shared secret and not mTLS: it needs no certificate authority or rotation machinery in
the chart, and one Secret already holds the other generated credentials; NetworkPolicies keep the
services unreachable from outside the release in addition (defence in depth)."""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from services.shared.errors import InternalOnly, error_body
from services.shared.jsonutil import dumps

HEADER = "X-TME-Internal-Token"
_HEADER_KEY = HEADER.lower().encode("latin-1")
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def internal_headers(token: str) -> dict[str, str]:
    """The headers an internal client sends with every call."""
    return {HEADER: token}


class InternalCallsOnly:
    """ASGI middleware: HTTP requests other than OPEN_PATHS need the internal token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        if not token:
            raise RuntimeError("the internal token (TME_INTERNAL_TOKEN) must not be empty")
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope["headers"] if name == _HEADER_KEY), b"")
        if hmac.compare_digest(given, self.token):
            await self.app(scope, receive, send)
            return
        body = dumps(error_body(InternalOnly.code, "This service answers only the gateway (missing or wrong "
                                                 f"{HEADER})."))
        await send({"type": "http.response.start", "status": InternalOnly.status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
