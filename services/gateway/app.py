"""Gateway: the only public service (routing, auth, ingest, dashboard)."""

from __future__ import annotations

from starlette.applications import Starlette

from services.gateway.settings import GatewaySettings
from services.shared.app import create_service_app


def create_app(settings: GatewaySettings | None = None) -> Starlette:
    settings = settings or GatewaySettings()
    return create_service_app(settings=settings, routes=[])
