"""Every route of the users service: public `/api/...` (proxied by the gateway) and `/internal/...`."""

from __future__ import annotations

from starlette.routing import BaseRoute

from services.shared.api.endpoint import Endpoint, routes
from services.users.routes import (
    api_keys,
    audit,
    auth,
    data_jobs,
    internal,
    me,
    members,
    projects,
    regulations,
    share_links,
    teams,
)

# the public routes, in the order the API reference lists them
ENDPOINTS: list[Endpoint] = [*auth.endpoints, *me.endpoints, *teams.endpoints, *members.endpoints, *audit.endpoints,
                             *projects.endpoints, *api_keys.endpoints, *data_jobs.endpoints, *regulations.endpoints,
                             *share_links.endpoints]


def all_routes() -> list[BaseRoute]:
    return [*routes(ENDPOINTS), *internal.routes, *share_links.internal_routes]
