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
When publishing fails the other processes forget within their cache TTL. The subscription runs
as a background loop (services/shared/background.py): each step waits for one message; a lost
subscription fails the step, and the next one subscribes again after a back-off."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from services.gateway.auth import Authenticator
from services.shared.background import BackgroundLoop

if TYPE_CHECKING:  # the ingest package's routes import the gateway state, which imports this module
    from services.gateway.ingest.writekeys import WriteKeyResolver
    from services.gateway.share_views import ShareViews

log = logging.getLogger("tme.gateway.broadcast")

CHANNEL = "tme:gateway:invalidate"
PUBLISH_TIMEOUT_SECONDS = 2.0
IDLE_PING_SECONDS = 15.0  # a subscription that stays silent this long is checked with a PING
MAX_BACKOFF_SECONDS = 5.0

Handler = Callable[[str], None]


class Broadcast:
    """Publishes `kind:value` messages and, as a background loop (`listening`), hands each
    message's value to the handler of its kind."""

    def __init__(self, redis: aioredis.Redis, handlers: Mapping[str, Handler],
                 on_subscribe: Callable[[], None]) -> None:
        self.redis = redis
        self.handlers = dict(handlers)
        self.on_subscribe = on_subscribe
        self._pubsub: PubSub | None = None
        self.subscribed = asyncio.Event()

    async def publish(self, kind: str, value: str) -> None:
        """Tell every gateway process (this one included) to forget `value` of `kind`."""
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
                await self.redis.publish(CHANNEL, f"{kind}:{value}")
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("could not broadcast a %s invalidation (other gateways forget within their TTL): %s",
                        kind, type(exc).__name__)

    def listening(self, service: str) -> BackgroundLoop:
        """The subscription as a background loop; close() it once the loop has stopped."""
        return BackgroundLoop(service, "invalidations", self._listen, interval=0, backoff=0.5,
                              backoff_max=MAX_BACKOFF_SECONDS, expected=(RedisError, OSError))

    async def _listen(self) -> None:
        """Subscribe if not subscribed, then wait for one message."""
        try:
            if self._pubsub is None:
                self._pubsub = self.redis.pubsub()
                await self._pubsub.subscribe(CHANNEL)
            message = await self._pubsub.get_message(timeout=IDLE_PING_SECONDS)
            if message is None:
                await self._pubsub.ping()  # a dead connection shows here, not only when Redis closes it
                return
        except (RedisError, OSError):
            self.subscribed.clear()
            await self.close()
            raise
        self._dispatch(message)

    async def close(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()

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


def gateway_broadcast(redis: aioredis.Redis, auth: Authenticator, keys: WriteKeyResolver,
                      shares: ShareViews) -> Broadcast:
    """The gateway's broadcast: tokens, logins, users and API keys revoked (a key also when rotated),
    projects deleted or their key rotated (the authenticator, the ingest write key cache and the
    share views forget them), share links revoked."""
    def forget_project(project_id: str) -> None:
        auth.forget_project(project_id)
        keys.forget_project(int(project_id))
        shares.forget_project(project_id)

    def forget_everything() -> None:
        auth.forget_everything()
        shares.forget_everything()

    handlers: dict[str, Handler] = {
        "token": auth.forget_token_digest,
        "session": auth.forget_session,
        "user": auth.forget_user,
        "api_key": auth.forget_api_key,
        "project": forget_project,
        "share_link": shares.forget_link,
    }
    return Broadcast(redis, handlers, on_subscribe=forget_everything)
