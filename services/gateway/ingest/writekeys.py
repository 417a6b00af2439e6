"""Write key -> project, asked of the users service (`GET /internal/write-keys/{key}`) at most
once per key per TTL.

Known keys are cached for `ingest_key_cache_ttl_seconds`, unknown ones for the (short)
negative TTL, and concurrent requests for a key nobody has looked up share one lookup. When the
users service cannot be reached, a key known before keeps working (stale entry); an unseen key
gets a 503, never a 401 (we do not know that it is wrong).

Every key the users service confirms is also written to Redis (`SharedKeys`, for
`ingest_key_shared_ttl_seconds`), so while users or PostgreSQL is down every gateway process
and pod accepts a key that any of them has seen, not only the one that happens to cache it.
Rotating or deleting a project through the gateway deletes its shared entries and broadcasts
the change (services/gateway/broadcast.py), so every process drops the old key at once; a 404
from users deletes a key's shared entry too."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import redis.asyncio as aioredis
from pydantic import ValidationError
from redis.exceptions import RedisError

from services.gateway.ingest import metrics
from services.shared.errors import InvalidWriteKey, MissingWriteKey, Unavailable
from services.shared.internal_api import WriteKeyOwner
from services.shared.metrics import buffered
from services.shared.redis import delete_project_write_keys, project_write_keys

log = logging.getLogger("tme.gateway.ingest")

_KEY_SHAPE = re.compile(r"^[A-Za-z0-9_\-.]{1,128}$")
_CACHE_HITS = buffered(metrics.KEY_LOOKUPS.labels("cache"))  # every ingest request counts one


@dataclass(frozen=True)
class Project:
    project_id: int
    team_id: int | None


class UsersUnavailable(Exception):
    pass


class SharedKeys:
    """Confirmed write keys in Redis: `tme:wk:<sha256 of the key>` -> "project:team", and per
    project the set of its key digests (`tme:wk-project:<id>`) so a rotation can find them. Only
    digests are stored: Redis never holds a usable key. Redis errors are logged and ignored (the
    shared entries only help during an outage of users; they are never the only truth)."""

    def __init__(self, redis: aioredis.Redis | None, ttl: int) -> None:
        self.redis = redis
        self.ttl = ttl

    @staticmethod
    def _entry(key: str) -> str:
        return "tme:wk:" + hashlib.sha256(key.encode()).hexdigest()

    @staticmethod
    def _project_set(project_id: int) -> str:
        return project_write_keys(project_id)

    async def get(self, key: str) -> Project | None:
        if self.redis is None:
            return None
        try:
            value = await self.redis.get(self._entry(key))
        except RedisError as exc:
            log.warning("shared write keys unavailable: %s", type(exc).__name__)
            return None
        if value is None:
            return None
        project, _, team = (value.decode() if isinstance(value, bytes) else str(value)).partition(":")
        try:
            return Project(project_id=int(project), team_id=int(team) if team else None)
        except ValueError:
            return None

    async def put(self, key: str, project: Project) -> None:
        if self.redis is None:
            return
        entry, members = self._entry(key), self._project_set(project.project_id)
        value = f"{project.project_id}:{'' if project.team_id is None else project.team_id}"
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(entry, value, ex=self.ttl)
                pipe.sadd(members, entry)
                pipe.expire(members, self.ttl)
                await pipe.execute()
        except RedisError as exc:
            log.warning("could not share a write key: %s", type(exc).__name__)

    async def delete(self, key: str) -> None:
        if self.redis is None:
            return
        try:
            await self.redis.delete(self._entry(key))
        except RedisError as exc:
            log.warning("could not delete a shared write key: %s", type(exc).__name__)

    async def delete_project(self, project_id: int) -> None:
        """Forget every shared key of a project (its key was rotated, or it was deleted)."""
        if self.redis is None:
            return
        try:
            await delete_project_write_keys(self.redis, project_id)
        except RedisError as exc:
            log.warning("could not delete a project's shared write keys: %s", type(exc).__name__)


class WriteKeyResolver:
    def __init__(
        self, *, ttl: float, negative_ttl: float, max_entries: int, timeout: float, retry_after: int,
        shared: SharedKeys | None = None,
    ) -> None:
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.max_entries = max_entries
        self.timeout = timeout
        self.retry_after = retry_after
        self.shared = shared or SharedKeys(None, 1)
        # key -> (expires_at, project or None for "unknown")
        self._cache: OrderedDict[str, tuple[float, Project | None]] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[Project | None]] = {}
        self._generation = 0  # bumped when a project is forgotten: an answer that raced with it is not kept

    async def resolve(self, key: str | None, users: httpx.AsyncClient) -> Project:
        """The project of `key`, or ApiError 401 (missing/unknown key) / 503 (users unreachable)."""
        if not key:
            raise MissingWriteKey("A write key is required: HTTP Basic username, X-Write-Key header, or "
                                  "writeKey/apiKey in the body.")
        if not _KEY_SHAPE.match(key):
            raise InvalidWriteKey("Unknown write key.")
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
            seen = await self.shared.get(key)
            if seen is not None:  # another gateway process or pod confirmed it
                metrics.KEY_LOOKUPS.labels("shared").inc()
                self._store(key, seen)
                return seen
            raise Unavailable("Write keys cannot be checked right now; try again shortly.",
                              headers={"Retry-After": str(self.retry_after)}) from None
        return self._answer(project)

    @staticmethod
    def _answer(project: Project | None) -> Project:
        if project is None:
            raise InvalidWriteKey("Unknown write key.")
        return project

    async def _lookup_once(self, key: str, users: httpx.AsyncClient) -> Project | None:
        running = self._inflight.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[Project | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        generation = self._generation
        try:
            project = await self._fetch(key, users)
        except BaseException as exc:
            future.set_exception(exc if isinstance(exc, Exception) else UsersUnavailable())
            future.exception()  # mark retrieved: waiters (if any) re-raise it
            raise
        else:
            future.set_result(project)
            if generation == self._generation:
                self._store(key, project)
                await (self.shared.delete(key) if project is None else self.shared.put(key, project))
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
            found = WriteKeyOwner.model_validate_json(response.content)
            return Project(project_id=found.project_id, team_id=found.team_id)
        except ValidationError:
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

    def forget_project(self, project_id: int) -> None:
        """Drop this process's entries of a project (its key was rotated, or it was deleted)."""
        self._generation += 1
        doomed = [key for key, (_, project) in self._cache.items()
                  if project is not None and project.project_id == project_id]
        for key in doomed:
            del self._cache[key]
