"""Every route of the users service: public `/api/...` (proxied by the gateway) and `/internal/...`."""

from __future__ import annotations

from starlette.routing import BaseRoute

from services.users.routes import auth, internal, me, projects


def all_routes() -> list[BaseRoute]:
    return [*auth.routes, *me.routes, *projects.routes, *internal.routes]
