"""Write key -> project, asked of the users service (`GET /internal/write-keys/{key}`) at most
once per key per TTL.

Known keys are cached for `ingest_key_cache_ttl_seconds`, unknown ones for the (short)
negative TTL, and concurrent requests for a key nobody has looked up share one lookup. When the
users service cannot be reached, a key known before keeps working (stale entry); an unseen key
gets a 503, never a 401 (we do not know that it is wrong)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from services.gateway.ingest import metrics
from services.shared.errors import ApiError
from services.shared.metrics import buffered

log = logging.getLogger("tme.gateway.ingest")

_KEY_SHAPE = re.compile(r"^[A-Za-z0-9_\-.]{1,128}$")
_CACHE_HITS = buffered(metrics.KEY_LOOKUPS.labels("cache"))  # every ingest request counts one


@dataclass(frozen=True)
class Project:
    project_id: int
    owner_id: int | None


class UsersUnavailable(Exception):
    pass


class WriteKeyResolver:
    def __init__(
        self, *, ttl: float, negative_ttl: float, max_entries: int, timeout: float, retry_after: int,
    ) -> None:
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.max_entries = max_entries
        self.timeout = timeout
        self.retry_after = retry_after
        # key -> (expires_at, project or None for "unknown")
        self._cache: OrderedDict[str, tuple[float, Project | None]] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[Project | None]] = {}

    async def resolve(self, key: str | None, users: httpx.AsyncClient) -> Project:
        """The project of `key`, or ApiError 401 (missing/unknown key) / 503 (users unreachable)."""
        if not key:
            raise ApiError(401, "A write key is required: HTTP Basic username, X-Write-Key header, or "
                                "writeKey/apiKey in the body.", code="missing_write_key")
        if not _KEY_SHAPE.match(key):
            raise ApiError(401, "Unknown write key.", code="invalid_write_key")
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            _CACHE_HITS.inc()
            return self._answer(cached[1])
        try:
            project = await self._lookup_once(key, users)
        except UsersUnavailable:
            if cached is not None and cached[1] is not None:
                metrics.KEY_LOOKUPS.labels("stale").inc()
                return cached[1]  # known before: keep accepting while users is away
            raise ApiError(503, "Write keys cannot be checked right now; try again shortly.",
                           code="unavailable", headers={"Retry-After": str(self.retry_after)}) from None
        return self._answer(project)

    @staticmethod
    def _answer(project: Project | None) -> Project:
        if project is None:
            raise ApiError(401, "Unknown write key.", code="invalid_write_key")
        return project

    async def _lookup_once(self, key: str, users: httpx.AsyncClient) -> Project | None:
        running = self._inflight.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[Project | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            project = await self._fetch(key, users)
        except BaseException as exc:
            future.set_exception(exc if isinstance(exc, Exception) else UsersUnavailable())
            future.exception()  # mark retrieved: waiters (if any) re-raise it
            raise
        else:
            future.set_result(project)
            self._store(key, project)
            return project
        finally:
            del self._inflight[key]

    async def _fetch(self, key: str, users: httpx.AsyncClient) -> Project | None:
        metrics.KEY_LOOKUPS.labels("users").inc()
        try:
            response = await users.get(f"/internal/write-keys/{quote(key, safe='')}", timeout=self.timeout)
        except httpx.HTTPError as exc:
            log.warning("write key lookup failed: %s", type(exc).__name__)
            raise UsersUnavailable() from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            log.warning("write key lookup answered %s", response.status_code)
            raise UsersUnavailable()
        try:
            data = response.json()
            owner = data.get("ownerId")
            return Project(project_id=int(data["projectId"]), owner_id=int(owner) if owner is not None else None)
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("write key lookup returned an unexpected body")
            raise UsersUnavailable() from None

    def _store(self, key: str, project: Project | None) -> None:
        ttl = self.ttl if project is not None else self.negative_ttl
        if ttl <= 0:
            return
        self._cache.pop(key, None)
        while len(self._cache) >= self.max_entries:
            self._cache.popitem(last=False)
        self._cache[key] = (time.monotonic() + ttl, project)
