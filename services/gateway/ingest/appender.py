"""XADD pipelining for the ingest hot path, on one Redis connection per gateway worker.

The XADDs of all requests that reach the queue in the same turn of the event loop are packed
(hiredis) and written in one `write`; Redis answers in order, so each reply resolves the next
waiting request's future (FIFO). The request answers 2xx only once its own entry id is back.
There is no per-flush pipeline object, connection checkout or retry wrapper: redis-py's pipeline
cost ~2-3x this path's CPU per XADD (bench notes in docs/benchmarks.md), and every single-event
request pays it. Everything else (XLEN, health checks, the subscriber) stays on redis-py.

The connection is built from the redis-py client's own pool settings (host or unix socket,
username/password, db, TLS context), so there is one configuration of Redis, not two. It is
opened on first use, and again after it is lost, after Redis left a batch unanswered for the
request timeout, or after it sat idle for the pool's health-check interval (30 s). A loss or a
timeout fails the requests waiting on it (ConnectionError / TimeoutError), which the queue
answers with 503 + Retry-After.

Optionally (AckWait) a flush ends with WAITAOF (Redis >= 7.2: the append-only file fsynced
locally, and on replicas) or WAIT (replicas hold the entries), written with the XADDs; the
requests of the flush answer only once its reply confirms, or 503 when it does not in time.
With the default `appendfsync always` Redis has fsynced before it replies anyway; this is for
`everysec` servers and for replicas."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import hiredis
import redis.asyncio as aioredis
from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

Fields = dict[bytes, bytes]
_CONNECT_TIMEOUT = 5.0  # seconds, unless the Redis URL sets socket_connect_timeout
_IDLE_AFTER = 30.0  # seconds without a reply before a new connection is opened, unless the pool sets one
Observe = Callable[[float], None]
# hiredis.pack_command, typed: its stub declares a one-item tuple (for a tuple of any length) and
# no result (bytes); the ignore covers that stub's signature only
_pack_command: Callable[[tuple[bytes | int, ...]], bytes] = hiredis.pack_command  # type: ignore[assignment]


@dataclass(frozen=True)
class AckWait:
    """What an accepted request waits for beyond its entry id: the append-only file fsynced on
    this Redis (`local`, WAITAOF) and/or on `replicas` replicas (WAITAOF, else WAIT)."""

    local: bool
    replicas: int
    timeout_ms: int

    @classmethod
    def of(cls, local: bool, replicas: int, timeout_seconds: float) -> AckWait | None:
        """None when nothing is to be waited for. Redis is given 80 % of the request's time, so
        that its own answer (not the request's timer) says what was missing."""
        if not local and replicas <= 0:
            return None
        return cls(local, replicas, max(1, int(timeout_seconds * 800)))

    def command(self) -> bytes:
        if self.local:
            return _pack_command((b"WAITAOF", b"1", self.replicas, self.timeout_ms))
        return _pack_command((b"WAIT", self.replicas, self.timeout_ms))

    def confirmed(self, reply: Any) -> bool:
        if self.local:  # [local fsyncs, replica fsyncs]
            return int(reply[0]) >= 1 and int(reply[1]) >= self.replicas
        return int(reply) >= self.replicas

    def settle(self, waited: asyncio.Future[Any], replies: list[asyncio.Future[Any]],
               futures: list[asyncio.Future[bytes]]) -> None:
        """Once the wait's reply is in: each request gets its XADD's reply, or an error when the
        write is not confirmed (its entry may still be in the stream: a resend is deduplicated)."""
        failure: BaseException | None = waited.exception()
        if failure is None and not self.confirmed(waited.result()):
            name = "WAITAOF" if self.local else "WAIT"
            failure = TimeoutError(f"Redis did not confirm the write ({name} answered {waited.result()!r})")
        for reply, future in zip(replies, futures, strict=True):
            if future.done():
                continue
            error = failure or reply.exception()
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(reply.result())


class _Pipe(asyncio.Protocol):
    """One Redis connection: commands are written as they come, replies resolve waiters in order."""

    def __init__(self, observe: Observe, idle_after: float) -> None:
        self._observe = observe
        self._idle_after = idle_after
        self._heard_at = time.monotonic()
        self._reader = hiredis.Reader(replyError=ResponseError)
        # (future, sent at, the timer of the batch it ends or None)
        self._waiting: deque[tuple[asyncio.Future[Any], float, asyncio.TimerHandle | None]] = deque()
        self._transport: asyncio.Transport | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it

    def usable(self) -> bool:
        """Open, and busy or heard from within `idle_after` seconds: a connection idle for longer
        may have been dropped silently by a firewall or load balancer on the way (redis-py pings
        such a connection first; here a new one is cheaper than a round trip, and as safe)."""
        return not self.lost and (bool(self._waiting) or time.monotonic() - self._heard_at < self._idle_after)

    def send(self, packed: bytes, futures: list[asyncio.Future[Any]], timer: asyncio.TimerHandle | None) -> None:
        """Write the packed commands; their replies resolve `futures`, and the last one cancels
        the batch's `timer`."""
        assert self._transport is not None
        start = time.perf_counter()
        waiting = self._waiting
        for future in futures:
            waiting.append((future, start, None))
        if timer is not None:
            waiting[-1] = (futures[-1], start, timer)
        self._transport.write(packed)

    async def command(self, *args: Any) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.send(_pack_command(args), [future], None)
        return await future

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        self._heard_at = time.monotonic()
        now = time.perf_counter()
        while (reply := self._reader.gets()) is not False:
            future, start, timer = self._waiting.popleft()
            self._observe(now - start)
            if timer is not None:
                timer.cancel()
            if future.done():  # timed out or the client went away; the entry is in the stream anyway
                continue
            if isinstance(reply, ResponseError):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        while self._waiting:
            future, _, timer = self._waiting.popleft()
            if timer is not None:
                timer.cancel()
            if not future.done():
                future.set_exception(RedisConnectionError("Connection to Redis lost"))

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def _open(redis: aioredis.Redis, observe: Observe) -> _Pipe:
    """A connection with the settings of the client's pool, authenticated and on its db, within
    the pool's connect timeout."""
    pool = redis.connection_pool
    settings = pool.connection_class(**pool.connection_kwargs)  # parses the options; does not connect
    return await asyncio.wait_for(_connect(settings, observe), settings.socket_connect_timeout or _CONNECT_TIMEOUT)


async def _connect(settings: Any, observe: Observe) -> _Pipe:
    loop = asyncio.get_running_loop()
    pipe = _Pipe(observe, settings.health_check_interval or _IDLE_AFTER)
    if isinstance(settings, UnixDomainSocketConnection):
        await loop.create_unix_connection(lambda: pipe, settings.path)
    else:
        ssl_context = settings.ssl_context.get() if isinstance(settings, SSLConnection) else None
        await loop.create_connection(lambda: pipe, settings.host, settings.port, ssl=ssl_context)
    try:
        if settings.password is not None:
            if settings.username is not None:
                await pipe.command("AUTH", settings.username, settings.password)
            else:
                await pipe.command("AUTH", settings.password)
        if settings.db:
            await pipe.command("SELECT", settings.db)
    except BaseException:
        pipe.close()
        raise
    return pipe


class StreamAppender:
    """Appends entries to one stream, pipelining the XADDs of one event-loop turn."""

    def __init__(self, stream: str, observe: Observe, ack_wait: AckWait | None = None) -> None:
        self._stream = stream.encode()
        self._observe = observe
        self._ack_wait = ack_wait
        # the entries of this event-loop turn and their requests' futures, side by side
        self._entries: list[Fields] = []
        self._futures: list[asyncio.Future[bytes]] = []
        self._scheduled = False
        self._pipe: _Pipe | None = None
        self._opening: asyncio.Future[_Pipe] | None = None
        self._flushes: set[asyncio.Future[None]] = set()  # keeps running flushes referenced

    def append(self, redis: aioredis.Redis, fields: Fields, max_wait: float) -> asyncio.Future[bytes]:
        """A future of the entry id; it fails with TimeoutError after `max_wait` seconds.
        Cancelling it (the client went away) leaves the others alone."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        self._entries.append(fields)
        self._futures.append(future)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush_soon, redis, max_wait)
        return future

    def _flush_soon(self, redis: aioredis.Redis, max_wait: float) -> None:
        self._scheduled = False
        entries, futures = self._entries, self._futures
        self._entries, self._futures = [], []
        timer = asyncio.get_running_loop().call_later(max_wait, self._expire, futures)
        pipe = self._pipe
        if pipe is not None:
            if pipe.usable():
                self._send(pipe, entries, futures, timer)
                return
            self.close()  # lost, or idle long enough to have been dropped on the way
        flush = asyncio.ensure_future(self._open_and_send(redis, entries, futures, timer))
        self._flushes.add(flush)
        flush.add_done_callback(self._flushes.discard)

    def _send(self, pipe: _Pipe, entries: list[Fields], futures: list[asyncio.Future[bytes]],
              timer: asyncio.TimerHandle) -> None:
        stream = self._stream
        packed = b"".join([_pack_command((b"XADD", stream, b"*", *_flat(fields))) for fields in entries])
        wait = self._ack_wait
        if wait is None:
            pipe.send(packed, futures, timer)
            return
        loop = asyncio.get_running_loop()
        replies: list[asyncio.Future[Any]] = [loop.create_future() for _ in entries]
        waited: asyncio.Future[Any] = loop.create_future()
        waited.add_done_callback(lambda done: wait.settle(done, replies, futures))
        pipe.send(packed + wait.command(), [*replies, waited], timer)

    async def _open_and_send(self, redis: aioredis.Redis, entries: list[Fields], futures: list[asyncio.Future[bytes]],
                             timer: asyncio.TimerHandle) -> None:
        try:
            pipe = await self._connection(redis)
        except Exception as exc:  # refused, unreachable, AUTH failed...: every waiter hears about it
            timer.cancel()
            for future in futures:
                if not future.done():
                    future.set_exception(exc)
            return
        if all(future.done() for future in futures):  # expired while connecting: do not append late
            return
        self._send(pipe, entries, futures, timer)

    async def _connection(self, redis: aioredis.Redis) -> _Pipe:
        """The open connection, or one opening (shared by the flushes that wait for it)."""
        if self._pipe is not None and self._pipe.usable():
            return self._pipe
        if self._opening is None:
            self._opening = asyncio.ensure_future(_open(redis, self._observe))
        opening = self._opening
        try:
            self._pipe = await asyncio.shield(opening)
        finally:
            if self._opening is opening and opening.done():
                self._opening = None
        return self._pipe

    def _expire(self, futures: list[asyncio.Future[bytes]]) -> None:
        """A batch Redis did not answer within its time: its requests fail (503), and the
        connection is dropped, so that a half-open or stuck one is replaced rather than waited on
        by every later request. Nothing is lost: none of them was answered 2xx."""
        for future in futures:
            if not future.done():
                future.set_exception(TimeoutError("Redis did not answer in time"))
        self.close()

    def close(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None


def _flat(fields: Fields) -> list[bytes]:
    flat: list[bytes] = []
    for name, value in fields.items():
        flat.append(name)
        flat.append(value)
    return flat
