"""What a share link's token opens, asked of the users service (`/internal/share/{token}`) and
cached per (token, password) like a login's role (`TME_AUTH_CACHE_TTL_SECONDS`), so the argon2
check of a link's password runs once per viewer and TTL, not once per widget. Only unlocked views
are cached (a wrong password always goes to the users service, which throttles guesses).

A revoked link is forgotten at once by every gateway (the `share_link` broadcast,
services/gateway/broadcast.py), and so is a deleted project's (`project`); should a broadcast be
lost, a cached view lives at most the TTL. Public requests are limited per client address (a token
bucket per address in each gateway process, `TME_SHARE_RATE_PER_ADDRESS` and `..._BURST`)."""

from __future__ import annotations

import hashlib
import logging
import re

import httpx
from pydantic import ValidationError
from starlette.requests import Request

from services.gateway.cache import TtlCache
from services.gateway.ingest.ratelimit import IngestRateLimit
from services.gateway.proxy import client_ip, request_id
from services.gateway.settings import GatewaySettings
from services.shared.errors import ApiError, NotFound, RateLimited, Unauthorized, UpstreamUnavailable
from services.shared.internal_api import ShareView

log = logging.getLogger("tme.gateway.share")

PASSWORD_HEADER = "x-tme-share-password"
TOKEN_PATTERN = r"^tme_share_[A-Za-z0-9_-]{1,190}$"  # what services/users/share_links.py makes
_TOKEN = re.compile(TOKEN_PATTERN)
MAX_PASSWORD_HEADER = 1024


def share_link_not_found() -> ApiError:
    return NotFound("Share link not found.")


def wrong_password() -> ApiError:
    return Unauthorized("The share link's password is wrong.")


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()  # the cache never holds a usable token or password


class ShareViews:
    def __init__(self, users: httpx.AsyncClient, settings: GatewaySettings) -> None:
        self.users = users
        self.timeout = settings.auth_timeout_seconds
        self.views: TtlCache[tuple[bytes, bytes], ShareView] = TtlCache(settings.auth_cache_ttl_seconds,
                                                                       settings.auth_cache_max_entries)
        self.limit = IngestRateLimit(rate=settings.share_rate_per_address, burst=settings.share_rate_burst,
                                     max_keys=settings.auth_cache_max_entries, subject="Your address",
                                     unit="shared-dashboard requests")
        self._generation = 0  # bumped on every forget, so an answer that raced with it is not cached

    async def view(self, request: Request, token: str) -> ShareView:
        """What `token` shows, unlocked or not by the password sent (`X-TME-Share-Password`); 404
        for an unknown or revoked link, 429 beyond the address's rate or for too many wrong passwords."""
        self.limit.take(client_ip(request) or "unknown", 1)
        if not _TOKEN.match(token):
            raise share_link_not_found()
        password = request.headers.get(PASSWORD_HEADER, "")[:MAX_PASSWORD_HEADER]
        key = (_digest(token), _digest(password))
        cached = self.views.get(key)
        if cached is not None:
            return cached
        generation = self._generation
        view = await self._ask(request, token, password)
        if view.unlocked and generation == self._generation:
            self.views.set(key, view)
        return view

    async def unlocked(self, request: Request, token: str) -> ShareView:
        """The view, when no password is needed or the right one was sent; else 401."""
        view = await self.view(request, token)
        if not view.unlocked:
            if request.headers.get(PASSWORD_HEADER):
                raise wrong_password()
            raise Unauthorized("This shared dashboard needs its password: send it in X-TME-Share-Password.")
        return view

    async def _ask(self, request: Request, token: str, password: str) -> ShareView:
        headers = {"x-request-id": request_id(request)}
        if password:
            headers[PASSWORD_HEADER] = password
        ip = client_ip(request)
        if ip:
            headers["x-tme-client-ip"] = ip  # the users service throttles wrong passwords per address
        try:
            response = await self.users.get(f"/internal/share/{token}", headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            log.warning("users service unreachable for a share link: %s", type(exc).__name__)
            raise UpstreamUnavailable("Shared dashboards are temporarily unavailable; try again shortly.") from None
        if response.status_code == 404:
            raise share_link_not_found()
        if response.status_code == 429:
            wait = response.headers.get("retry-after", "60")
            raise RateLimited(f"Too many wrong passwords; try again in {wait} seconds.", headers={"Retry-After": wait})
        if response.status_code != 200:
            log.warning("users /internal/share answered %s", response.status_code)
            raise UpstreamUnavailable("Shared dashboards are temporarily unavailable; try again shortly.")
        try:
            return ShareView.model_validate_json(response.content)
        except ValidationError:
            log.error("users /internal/share answered an unexpected body")
            raise UpstreamUnavailable("Shared dashboards are temporarily unavailable; try again shortly.") from None

    # -- forgetting (values are strings: they also arrive as broadcast messages) -----------------
    def forget_link(self, link_id: str | int) -> None:
        lid = int(link_id)
        self._generation += 1
        self.views.delete_where(lambda view: view.link_id == lid)

    def forget_project(self, project_id: str | int) -> None:
        pid = int(project_id)
        self._generation += 1
        self.views.delete_where(lambda view: view.project_id == pid)

    def forget_everything(self) -> None:
        self._generation += 1
        self.views.delete_where(lambda _: True)
