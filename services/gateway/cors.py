"""CORS for the dashboard API only, and only when `TME_CORS_ORIGINS` lists origins.

By default the dashboard is served from the same origin and no CORS headers are sent. Ingest
routes are left alone: they answer browsers on any site and handle CORS themselves."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

DASHBOARD_PREFIXES = ("/api/auth/", "/api/me", "/api/projects", "/api/openapi.json")


class DashboardCORS:
    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        self.app = app
        self.cors: ASGIApp | None = None
        if origins:
            self.cors = CORSMiddleware(
                app,
                allow_origins=list(origins),
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                allow_headers=["authorization", "content-type", "last-event-id", "x-request-id"],
                expose_headers=["retry-after", "x-request-id"],
                max_age=600,
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.cors is not None and scope["type"] == "http" and scope["path"].startswith(DASHBOARD_PREFIXES):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
