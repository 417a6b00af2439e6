"""The analytics routes' OpenAPI description: every route and method is described, and merged
into the gateway's document the result is valid OpenAPI 3.1."""

from __future__ import annotations

import copy
import re

from openapi_spec_validator import validate
from starlette.routing import Route

from services.gateway import openapi as gateway_openapi
from services.tracking.openapi import TRACKING_COMPONENTS, TRACKING_PATHS
from services.tracking.routes import tracking_routes


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_every_route_is_described() -> None:
    described = {_shape(path): {m for m in item if m in ("get", "post")} for path, item in TRACKING_PATHS.items()}
    for route in tracking_routes():
        assert isinstance(route, Route)
        methods = {m.lower() for m in route.methods or ()} - {"head"}
        assert methods <= described.get(_shape(route.path), set()), route.path
    assert len(described) == len(tracking_routes())


def test_merged_into_the_gateway_document_it_is_valid_openapi() -> None:
    document = copy.deepcopy(gateway_openapi.BASE_DOCUMENT)
    gateway_openapi.merge(document, TRACKING_PATHS, TRACKING_COMPONENTS, source="tracking")
    validate(document)
    summary = document["paths"]["/api/projects/{projectId}/stats/summary"]["get"]
    assert summary["security"] == [{"bearerAuth": []}]
    assert document["components"]["schemas"]["AnalyticsSummary"]["properties"]["events"] == \
        {"$ref": "#/components/schemas/AnalyticsMetric"}
