"""Cache invalidations broadcast to every gateway process and pod through Redis pub/sub.

Each gateway process caches verified tokens and project owners for a few seconds and write
keys for a minute. When it proxies a change that revokes one of them (a logout, a password
change, a project's deletion or key rotation) it forgets it itself and publishes one message on
`tme:gateway:invalidate`; every gateway process subscribes and forgets it too. Redis writes the
message to every subscriber before it answers PUBLISH, and the publishing process answers its
client only after that, so the next request the client makes, to whichever process, finds the
entry gone.

Pub/sub delivers at most once: a process that lost its subscription (Redis restarted, network)
may have missed messages, so on every (re)subscription it empties its token and ownership
caches. A write key cache entry missed that way expires within its TTL (a minute, as documented).
When publishing fails the other processes forget within their cache TTL."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from starlette.applications import Starlette

from services.gateway.auth import Authenticator
from services.gateway.ingest.state import ingest_state

log = logging.getLogger("tme.gateway.broadcast")

CHANNEL = "tme:gateway:invalidate"
PUBLISH_TIMEOUT_SECONDS = 2.0
IDLE_PING_SECONDS = 15.0  # a subscription that stays silent this long is checked with a PING
MAX_BACKOFF_SECONDS = 5.0

Handler = Callable[[str], None]


class Broadcast:
    """Publishes `kind:value` messages and runs one subscriber task that hands each message's
    value to the handler of its kind."""

    def __init__(self, redis: aioredis.Redis, handlers: Mapping[str, Handler],
                 on_subscribe: Callable[[], None]) -> None:
        self.redis = redis
        self.handlers = dict(handlers)
        self.on_subscribe = on_subscribe
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    async def publish(self, kind: str, value: str) -> None:
        """Tell every gateway process (this one included) to forget `value` of `kind`."""
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
                await self.redis.publish(CHANNEL, f"{kind}:{value}")
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("could not broadcast a %s invalidation (other gateways forget within their TTL): %s",
                        kind, type(exc).__name__)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gateway-broadcast")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        backoff = 0.5
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(CHANNEL)
                while True:
                    message = await pubsub.get_message(timeout=IDLE_PING_SECONDS)
                    if message is None:
                        await pubsub.ping()  # a dead connection shows here, not only when Redis closes it
                        continue
                    backoff = 0.5
                    self._dispatch(message)
            except (RedisError, OSError) as exc:
                self.subscribed.clear()
                log.warning("invalidation broadcast lost (%s); resubscribing in %.1f s", type(exc).__name__, backoff)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _dispatch(self, message: Mapping[str, object]) -> None:
        if message.get("type") == "subscribe":
            self.on_subscribe()  # anything published while we were not listening is forgotten wholesale
            self.subscribed.set()
            return
        if message.get("type") != "message":
            return
        data = message.get("data")
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
        kind, _, value = text.partition(":")
        handler = self.handlers.get(kind)
        if handler is None:
            log.warning("unknown invalidation kind %r ignored", kind[:40])
            return
        try:
            handler(value)
        except ValueError:
            log.warning("malformed %s invalidation ignored", kind)


def gateway_broadcast(app: Starlette) -> Broadcast:
    """The gateway's broadcast: tokens, logins and users revoked, projects deleted or their key
    rotated (app.state.auth and the ingest write key cache forget them)."""
    auth: Authenticator = app.state.auth

    def forget_project(project_id: str) -> None:
        auth.forget_project(project_id)
        ingest_state(app).keys.forget_project(int(project_id))

    handlers: dict[str, Handler] = {
        "token": auth.forget_token_digest,
        "session": auth.forget_session,
        "user": auth.forget_user,
        "project": forget_project,
    }
    return Broadcast(app.state.redis, handlers, on_subscribe=auth.forget_everything)
