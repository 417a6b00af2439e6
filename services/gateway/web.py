"""The web dashboard and the browser SDK, served by the gateway from the build output in
`services/gateway/static/` (written by `scripts/build_web.sh`, not kept in git):

- `/sdk/tme.js`: the SDK, for any site (`Access-Control-Allow-Origin: *`), cached for 5 minutes.
- `/assets/*`: the dashboard's content-hashed files, cached for a year (`immutable`).
- every other GET outside `/api/`, `/v1/`, `/sdk/` and the health/metrics endpoints: a file of
  the dashboard's root (favicon...) if there is one, else `index.html` (`no-cache`), so that
  the single-page app's own routes (`/login`, `/projects/3/dashboard?...`) work on reload.

Files are read once per change (mtime/size), gzipped in memory for clients that accept it, and
answered with an ETag (304 on revalidation). Before a build, the dashboard routes answer 503
with a page (or JSON) that says how to build. `web_routes()` must come LAST in the gateway's
routes: its catch-all would otherwise shadow nothing, but it is meant as the fallback."""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import threading
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from services.shared.errors import NotBuilt, NotFound

STATIC_DIR = Path(__file__).resolve().parent / "static"
BUILD_COMMAND = "scripts/build_web.sh"

# Paths the dashboard fallback never answers: the API, ingest, the SDK and operational endpoints
# keep their own 404/405 answers in JSON.
RESERVED_PREFIXES = ("/api/", "/v1/", "/sdk/", "/internal/", "/assets/")
RESERVED_PATHS = frozenset({"/api", "/v1", "/sdk", "/internal", "/healthz", "/readyz", "/metrics"})

IMMUTABLE = "public, max-age=31536000, immutable"
SDK_CACHE = "public, max-age=300"
NO_CACHE = "no-cache"
COMPRESSIBLE = (".js", ".css", ".html", ".svg", ".json", ".map", ".txt", ".webmanifest")
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}
# The dashboard talks only to its own origin; inline styles are set by React/uPlot through the DOM.
DASHBOARD_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; "
        "form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}
SDK_HEADERS = {
    "access-control-allow-origin": "*",
    "cross-origin-resource-policy": "cross-origin",
    "x-content-type-options": "nosniff",
}


@dataclass(frozen=True)
class _Cached:
    key: tuple[int, int]  # (mtime_ns, size) of the file when read
    body: bytes
    gzipped: bytes | None
    etag: str
    media_type: str


class FileCache:
    """Small built files kept in memory (with their gzip form) until they change on disk."""

    def __init__(self) -> None:
        self._files: dict[Path, _Cached] = {}
        self._lock = threading.Lock()

    def get(self, path: Path) -> _Cached | None:
        try:
            st = path.stat()
        except OSError:
            return None
        if not path.is_file():
            return None
        key = (st.st_mtime_ns, st.st_size)
        cached = self._files.get(path)
        if cached is not None and cached.key == key:
            return cached
        try:
            body = path.read_bytes()
        except OSError:
            return None
        suffix = path.suffix.lower()
        gzipped = gzip.compress(body, 6, mtime=0) if suffix in COMPRESSIBLE and len(body) > 512 else None
        media_type = MEDIA_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        cached = _Cached(key, body, gzipped, etag, media_type)
        with self._lock:
            self._files[path] = cached
        return cached


def _accepts_gzip(request: Request) -> bool:
    return any(part.split(";")[0].strip() == "gzip" for part in request.headers.get("accept-encoding", "").split(","))


def _etag_matches(request: Request, etag: str) -> bool:
    given = request.headers.get("if-none-match")
    if not given:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in given.split(",")}
    return "*" in tags or etag in tags


def file_response(request: Request, cached: _Cached, cache_control: str, headers: dict[str, str]) -> Response:
    out = {**headers, "cache-control": cache_control, "etag": cached.etag}
    if cached.gzipped is not None:
        out["vary"] = "Accept-Encoding"
    if _etag_matches(request, cached.etag):
        return Response(status_code=304, headers=out)
    body = cached.body
    if cached.gzipped is not None and _accepts_gzip(request):
        body = cached.gzipped
        out["content-encoding"] = "gzip"
    return Response(body, media_type=cached.media_type, headers=out)


def _inside(root: Path, relative: str) -> Path | None:
    """root/relative if it stays inside root (no `..` escapes), else None."""
    if not relative or "\x00" in relative:
        return None
    candidate = (root / relative).resolve()
    return candidate if candidate.is_relative_to(root.resolve()) else None


NOT_BUILT_HTML = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Track My Events</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem">
<h1>The dashboard has not been built</h1>
<p>The API is running, but the web dashboard's files are missing from
<code>services/gateway/static/</code>. Build them (Node.js 20+ and npm are needed) with</p>
<pre style="background:#f3f4f6;padding:1rem">{command}</pre>
<p>(<code>make run</code> does it for you), then reload this page.</p></body></html>"""


def _not_built(request: Request, what: str) -> Response:
    message = f"The {what} has not been built; run {BUILD_COMMAND} (make run does it)."
    if what == "dashboard" and "text/html" in request.headers.get("accept", ""):
        return HTMLResponse(NOT_BUILT_HTML.format(command=BUILD_COMMAND), status_code=503,
                            headers={"cache-control": "no-store", "retry-after": "30"})
    return NotBuilt(message, headers={"cache-control": "no-store", "retry-after": "30"}).response()


class SpaRoute(Route):
    """The dashboard's fallback route: matches any path except the reserved API/ingest ones."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http":
            path: str = scope["path"].rstrip("/")  # also when the router retries with a slash added
            if path in RESERVED_PATHS or (path + "/").startswith(RESERVED_PREFIXES):
                return Match.NONE, {}
        return super().matches(scope)


class WebFiles:
    def __init__(self, static_dir: Path) -> None:
        self.dashboard_dir = static_dir / "dashboard"
        self.sdk_file = static_dir / "sdk" / "tme.js"
        self.cache = FileCache()

    async def sdk(self, request: Request) -> Response:
        cached = self.cache.get(self.sdk_file)
        if cached is None:
            response = _not_built(request, "SDK (tme.js)")
            response.headers["access-control-allow-origin"] = "*"
            return response
        return file_response(request, cached, SDK_CACHE, SDK_HEADERS)

    async def asset(self, request: Request) -> Response:
        path = _inside(self.dashboard_dir / "assets", request.path_params["path"])
        cached = self.cache.get(path) if path is not None else None
        if cached is None:
            if not (self.dashboard_dir / "index.html").is_file():
                return _not_built(request, "dashboard")
            return NotFound("No such dashboard asset (an older build's file?).",
                            headers={"cache-control": "no-store"}).response()
        return file_response(request, cached, IMMUTABLE, {"x-content-type-options": "nosniff"})

    async def page(self, request: Request) -> Response:
        relative = request.path_params.get("path", "")
        if relative and relative != "index.html":
            public = _inside(self.dashboard_dir, relative)
            cached = self.cache.get(public) if public is not None else None
            if cached is not None:  # a file from the dashboard's public/ folder (favicon, robots.txt)
                return file_response(request, cached, "public, max-age=3600", {"x-content-type-options": "nosniff"})
        index = self.cache.get(self.dashboard_dir / "index.html")
        if index is None:
            return _not_built(request, "dashboard")
        return file_response(request, index, NO_CACHE, DASHBOARD_HEADERS)


def web_routes(static_dir: Path | None = None) -> list[BaseRoute]:
    """Routes for the SDK and the dashboard; add them after every other route of the gateway."""
    files = WebFiles(static_dir or STATIC_DIR)
    return [
        Route("/sdk/tme.js", files.sdk, methods=["GET", "HEAD"], include_in_schema=False),
        Route("/assets/{path:path}", files.asset, methods=["GET", "HEAD"], include_in_schema=False),
        SpaRoute("/{path:path}", files.page, methods=["GET", "HEAD"], include_in_schema=False),
    ]
