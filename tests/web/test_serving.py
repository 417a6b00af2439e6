"""How the gateway serves the dashboard and the SDK: the single-page app's fallback, cache
headers, gzip, CORS on the SDK, JSON (never HTML) for unknown API paths, and a clear message
before the web assets are built."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from services.gateway.web import web_routes
from services.shared.errors import exception_handlers


def test_dashboard_routes_fall_back_to_index_html_without_caching(built_web: Path, client: httpx.Client) -> None:
    for path in ("/", "/login", "/projects/12/dashboard?period=30d&filters=%5B%5D", "/some/deep/link"):
        response = client.get(path, headers={"accept": "text/html"})
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == "no-cache"
        assert '<div id="root">' in response.text
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"


def test_hashed_assets_are_cached_for_a_year_and_gzipped(built_web: Path, client: httpx.Client) -> None:
    index = client.get("/").text
    assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', index)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for asset in assets:
        response = client.get(asset, headers={"accept-encoding": "gzip"})
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["content-encoding"] == "gzip"
        assert int(response.headers["content-length"]) < len(response.content)  # decoded by httpx
        again = client.get(asset, headers={"if-none-match": response.headers["etag"]})
        assert again.status_code == 304
    missing = client.get("/assets/index-00000000.js")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/json"


def test_sdk_is_served_to_any_site_with_a_short_cache(built_web: Path, client: httpx.Client) -> None:
    response = client.get("/sdk/tme.js", headers={"origin": "https://shop.example", "accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) < 5 * 1024
    assert response.content == (built_web / "sdk" / "tme.js").read_bytes()


@pytest.mark.unchecked_responses("unknown routes and methods: what the document does not list")
def test_unknown_api_and_ingest_paths_stay_json_errors(built_web: Path, client: httpx.Client) -> None:
    for path in ("/api/nothing-here", "/api", "/v1/nothing", "/internal/auth/verify", "/sdk/other.js"):
        response = client.get(path, headers={"accept": "text/html"})
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/json", path
        assert response.json()["error"]["code"] == "not_found"
    assert client.get("/healthz").json() == {"status": "ok"}
    wrong_method = client.get("/api/auth/login")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


def _get(app: Starlette, path: str, accept: str) -> httpx.Response:
    async def run() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
            return await c.get(path, headers={"accept": accept})

    return asyncio.run(run())


def test_before_a_build_the_gateway_says_how_to_build(tmp_path: Path) -> None:
    app = Starlette(routes=web_routes(tmp_path), exception_handlers=exception_handlers)
    page = _get(app, "/projects/1/dashboard", "text/html,application/xhtml+xml")
    assert page.status_code == 503
    assert "The dashboard has not been built" in page.text
    assert "scripts/build_web.sh" in page.text
    api_client = _get(app, "/", "application/json")
    assert api_client.status_code == 503
    assert api_client.json()["error"]["code"] == "not_built"
    sdk = _get(app, "/sdk/tme.js", "*/*")
    assert sdk.status_code == 503
    assert "scripts/build_web.sh" in sdk.json()["error"]["message"]
    assert sdk.headers["access-control-allow-origin"] == "*"


def test_a_build_is_picked_up_without_a_restart(tmp_path: Path) -> None:
    app = Starlette(routes=web_routes(tmp_path), exception_handlers=exception_handlers)
    assert _get(app, "/", "text/html").status_code == 503
    (tmp_path / "dashboard").mkdir()
    (tmp_path / "dashboard" / "index.html").write_text("<!doctype html><div id=root></div>")
    (tmp_path / "dashboard" / "robots.txt").write_text("User-agent: *\n")
    assert _get(app, "/", "text/html").text == "<!doctype html><div id=root></div>"
    robots = _get(app, "/robots.txt", "*/*")
    assert robots.text == "User-agent: *\n"
    assert robots.headers["cache-control"] == "public, max-age=3600"


def test_paths_cannot_escape_the_build_directory(tmp_path: Path) -> None:
    (tmp_path / "dashboard" / "assets").mkdir(parents=True)
    (tmp_path / "dashboard" / "index.html").write_text("<!doctype html><div id=root></div>")
    (tmp_path / "secret.txt").write_text("private")
    app = Starlette(routes=web_routes(tmp_path), exception_handlers=exception_handlers)

    async def raw(path: str) -> tuple[int, bytes]:  # a raw ASGI call: no client normalises the path
        sent: list[dict] = []

        async def receive() -> dict:
            return {"type": "http.request", "body": b""}

        async def send(message: dict) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
                 "headers": [], "root_path": "", "scheme": "http", "server": ("test", 80), "http_version": "1.1"}
        await app(scope, receive, send)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])

    for path in ("/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt"):
        status, body = asyncio.run(raw(path))
        assert b"private" not in body, path
        assert status in (200, 404), path
