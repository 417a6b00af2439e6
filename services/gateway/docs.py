"""`/api/docs`: a self-contained page (no CDN, works offline) that renders /api/openapi.json.

Its script and style are inline; the Content-Security-Policy allows exactly those (by hash)
and network access to this origin only."""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

_PAGE = Path(__file__).with_name("docs.html")


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


@functools.cache
def _page() -> tuple[str, str]:
    html = _PAGE.read_text(encoding="utf-8")
    scripts = " ".join(_hash(s) for s in re.findall(r"<script>(.*?)</script>", html, re.S))
    styles = " ".join(_hash(s) for s in re.findall(r"<style>(.*?)</style>", html, re.S))
    csp = (f"default-src 'none'; script-src {scripts}; style-src {styles}; connect-src 'self'; img-src 'self' data:; "
           "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    return html, csp


async def api_docs(request: Request) -> Response:
    html, csp = _page()
    return HTMLResponse(html, headers={"content-security-policy": csp, "x-content-type-options": "nosniff",
                                       "cache-control": "no-cache"})
