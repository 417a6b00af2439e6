"""The gateway's own endpoints: health, readiness, metrics, and an API description that covers
every public route and is valid OpenAPI 3.1."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from openapi_spec_validator import validate
from starlette.routing import BaseRoute, Match, Mount, Route

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.mark.unchecked_responses("an unknown route, for the metrics' unmatched label")
def test_health_readiness_and_metrics(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"redis": "ok", "users": "ok", "tracking": "ok"}
    client.get("/api/unknown")
    metrics = client.get("/metrics").text
    assert 'tme_http_requests_total{method="GET",route="/readyz",service="gateway",status="200"}' in metrics
    assert 'method="GET",route="unmatched",service="gateway",status="404"' in metrics  # raw paths never become labels


@pytest.fixture(scope="module")
def document(gateway_url: str) -> dict:
    response = httpx.get(f"{gateway_url}/api/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def _routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[Route]:
    for route in routes:
        if isinstance(route, Mount):
            yield from _routes(list(route.routes), prefix + route.path)
        elif isinstance(route, Route) and route.include_in_schema:
            yield route


def _shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def _routed_methods(route: Route) -> set[str]:
    return {m.lower() for m in (route.methods or {"GET"})} - {"head", "options"}


def test_the_document_is_valid_openapi_3_1(document: dict) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_routed_path_and_method_is_documented(document: dict) -> None:
    app = create_app(GatewaySettings(redis_url="redis://127.0.0.1:1/0"))
    documented = {_shape(path): {m for m in item if m in METHODS} for path, item in document["paths"].items()}
    missing = []
    for route in _routes(list(app.routes)):
        shape = _shape(route.path)
        for method in _routed_methods(route):
            if method not in documented.get(shape, set()):
                missing.append(f"{method.upper()} {route.path}")
    assert not missing, f"routes missing from openapi.json: {missing}"


def test_every_documented_operation_is_routed(document: dict) -> None:
    app = create_app(GatewaySettings(redis_url="redis://127.0.0.1:1/0"))
    stale = []
    for path, item in document["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        for method in (m for m in item if m in METHODS):
            scope = {"type": "http", "method": method.upper(), "path": concrete}
            if not any(route.matches(scope)[0] == Match.FULL for route in app.routes):
                stale.append(f"{method.upper()} {path}")
    assert not stale, f"documented but not routed: {stale}"


def test_analytics_and_ingest_routes_are_in_the_public_document(document: dict) -> None:
    paths = document["paths"]
    for path in ("/api/projects/{projectId}/stats/summary", "/api/projects/{projectId}/funnels",
                 "/api/projects/{projectId}/events/export", "/v1/batch", "/api/track"):
        assert path in paths, path


def test_dashboard_operations_declare_bearer_auth_and_the_error_shape(document: dict) -> None:
    public = {("post", "/api/auth/register"), ("post", "/api/auth/login"), ("post", "/api/auth/refresh")}
    assert "bearerAuth" in document["components"]["securitySchemes"]
    assert "writeKeyBasic" in document["components"]["securitySchemes"]
    for path in ("/api/auth/logout", "/api/me", "/api/me/password", "/api/projects", "/api/projects/{projectId}",
                 "/api/projects/{projectId}/rotate-key", "/api/auth/register", "/api/auth/login"):
        for method, operation in document["paths"][path].items():
            if method not in METHODS:
                continue
            expected = [] if (method, path) in public else [{"bearerAuth": []}]
            assert operation["security"] == expected, (method, path)
            assert any(code.startswith("2") for code in operation["responses"]), (method, path)


def test_the_docs_page_is_self_contained(client: httpx.Client) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "openapi.json" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "docs page must not load remote assets"
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp and "'sha256-" in csp
