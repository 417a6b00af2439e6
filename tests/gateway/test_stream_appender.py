"""The gateway's XADD pipeline on its own connection, against a real Redis of its own: it
follows the Redis URL (password, ACL user, db, TLS, unix socket), answers each request with its
own entry id in order, times requests out when Redis stalls and then goes on, on a new
connection, with each request still getting its own entry's id, opens a new connection when the
old one is killed or has been idle too long, and passes a full Redis's refusal on. TLS
(`rediss://`) is checked through a TLS proxy in front of the same Redis, with a certificate made
for the test."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from services.gateway.ingest.appender import StreamAppender
from services.shared.embedded import EmbeddedRedis, free_port
from services.shared.redis import create_redis

STREAM = "appender:test"


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis only these tests use, with a password and an ACL user that may use the stream: its
    `host:port`."""
    server = EmbeddedRedis(Path(tmp_path_factory.mktemp("redis")), free_port())
    url = server.start()
    admin = redis.Redis.from_url(url)
    admin.execute_command("ACL", "SETUSER", "ingest", "on", ">ingest-secret", "~appender:*", "+@all")
    admin.config_set("requirepass", "default-secret")
    admin.close()
    yield f"127.0.0.1:{server.port}"
    server.stop()


def admin_of(host: str, db: int) -> redis.Redis:
    return redis.Redis.from_url(f"redis://:default-secret@{host}/{db}")


@dataclass
class OwnDb:
    client: aioredis.Redis  # what the gateway holds: its URL says where the XADDs go
    admin: redis.Redis  # the test's own view of the same db


_next_db = itertools.count(1)  # every test on the private Redis takes a db of its own


@pytest.fixture
async def own_db(private_redis: str) -> AsyncIterator[OwnDb]:
    """A db of the private Redis no other test uses, seen through a gateway-style client."""
    db = next(_next_db)
    pair = OwnDb(create_redis(f"redis://:default-secret@{private_redis}/{db}"), admin_of(private_redis, db))
    yield pair
    await pair.client.aclose()
    pair.admin.close()


@pytest.fixture
async def appender() -> AsyncIterator[StreamAppender]:
    appender = StreamAppender(STREAM, lambda seconds: None)
    yield appender
    appender.close()


async def test_appends_with_the_urls_user_password_and_db(private_redis: str, appender: StreamAppender) -> None:
    host, db = private_redis, next(_next_db)
    client = create_redis(f"redis://ingest:ingest-secret@{host}/{db}")
    ids = await asyncio.gather(*(appender.append(client, {b"n": str(i).encode()}, 5.0) for i in range(50)))
    await client.aclose()

    own, db0 = admin_of(host, db), admin_of(host, 0)
    entries = own.xrange(STREAM)
    assert [entry_id for entry_id, _ in entries] == ids  # each request got its own id, in order
    assert [fields[b"n"] for _, fields in entries] == [str(i).encode() for i in range(50)]
    assert db0.xlen(STREAM) == 0  # db 0 untouched
    own.close()
    db0.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


@pytest.fixture
async def tls_front(private_redis: str, certificate: tuple[Path, Path]) -> AsyncIterator[tuple[str, Path]]:
    """A TLS endpoint that forwards to the private Redis: its `host:port` and the CA file a
    client must trust."""
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    redis_port = int(private_redis.rsplit(":", 1)[1])

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def forward(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        redis_reader, redis_writer = await asyncio.open_connection("127.0.0.1", redis_port)
        await asyncio.gather(pump(client_reader, redis_writer), pump(redis_reader, client_writer))

    server = await asyncio.start_server(forward, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    yield f"127.0.0.1:{port}", cert
    server.close()


async def test_appends_over_tls_with_the_urls_ca(tls_front: tuple[str, Path], private_redis: str,
                                                 appender: StreamAppender) -> None:
    front, ca = tls_front
    db = next(_next_db)
    client = create_redis(f"rediss://:default-secret@{front}/{db}?ssl_cert_reqs=required&ssl_ca_certs={ca}")
    entry_id = await appender.append(client, {b"n": b"over tls"}, 5.0)
    assert await client.xlen(STREAM) == 1  # the client's own commands (backlog checks) go the same way
    await client.aclose()
    own = admin_of(private_redis, db)
    assert own.xrange(STREAM) == [(entry_id, {b"n": b"over tls"})]
    own.close()


async def test_a_stall_times_out_and_the_next_requests_get_their_own_ids(own_db: OwnDb,
                                                                          appender: StreamAppender) -> None:
    client, admin = own_db.client, own_db.admin
    assert await appender.append(client, {b"n": b"warm"}, 5.0)

    admin.execute_command("CLIENT", "PAUSE", "1500", "WRITE")
    stalled = [appender.append(client, {b"n": f"stalled-{i}".encode()}, 0.3) for i in range(3)]
    outcomes = await asyncio.gather(*stalled, return_exceptions=True)
    assert all(isinstance(o, TimeoutError) for o in outcomes), outcomes

    after = await asyncio.gather(*(appender.append(client, {b"n": f"after-{i}".encode()}, 5.0) for i in range(3)))
    entries = {entry_id: fields[b"n"] for entry_id, fields in admin.xrange(STREAM)}
    # the stalled connection was dropped at the timeout; whatever Redis did with the stalled XADDs,
    # each later request got the id of its own entry, not a reply meant for a stalled one
    assert [entries[i] for i in after] == [b"after-0", b"after-1", b"after-2"]


async def test_a_killed_connection_fails_its_waiters_and_is_opened_again(own_db: OwnDb,
                                                                         appender: StreamAppender) -> None:
    client, admin = own_db.client, own_db.admin
    assert await appender.append(client, {b"n": b"first"}, 5.0)

    admin.execute_command("CLIENT", "PAUSE", "1000", "WRITE")  # so the next XADD is still waiting...
    waiting = appender.append(client, {b"n": b"waiting"}, 5.0)
    await asyncio.sleep(0.2)
    killed = admin.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")  # ...when it dies
    assert killed >= 1
    with pytest.raises(RedisConnectionError):
        await waiting
    admin.execute_command("CLIENT", "UNPAUSE")

    entry_id = await appender.append(client, {b"n": b"again"}, 5.0)
    assert admin.xrange(STREAM, min=entry_id, max=entry_id)[0][1] == {b"n": b"again"}


async def test_a_connection_idle_past_the_health_check_interval_is_replaced(private_redis: str,
                                                                            appender: StreamAppender) -> None:
    """A middlebox may drop an idle connection without a word; the appender does not trust one
    that has been quiet for longer than the pool's health-check interval."""
    db = next(_next_db)
    client = create_redis(f"redis://:default-secret@{private_redis}/{db}?health_check_interval=1")
    admin = admin_of(private_redis, db)

    def appender_connections() -> set[str]:
        return {c["id"] for c in admin.client_list() if c["db"] == str(db) and c["cmd"] == "xadd"}

    await appender.append(client, {b"n": b"first"}, 5.0)
    await appender.append(client, {b"n": b"soon after"}, 5.0)
    first = appender_connections()
    assert len(first) == 1
    await asyncio.sleep(1.3)
    await appender.append(client, {b"n": b"after a pause"}, 5.0)
    second = appender_connections()
    assert len(second) == 1 and second != first
    assert [f[b"n"] for _, f in admin.xrange(STREAM)] == [b"first", b"soon after", b"after a pause"]
    await client.aclose()
    admin.close()


async def test_a_full_redis_refuses_and_the_request_hears_why(own_db: OwnDb, appender: StreamAppender) -> None:
    """At maxmemory (noeviction) Redis refuses the XADD; the queue answers that with 503
    "overloaded", which it recognises by the refusal's OOM prefix."""
    await appender.append(own_db.client, {b"n": b"before"}, 5.0)
    own_db.admin.config_set("maxmemory", "1")
    try:
        with pytest.raises(ResponseError, match=r"^OOM"):
            await appender.append(own_db.client, {b"n": b"refused"}, 5.0)
    finally:
        own_db.admin.config_set("maxmemory", "0")
    assert await appender.append(own_db.client, {b"n": b"after"}, 5.0)  # the connection is still good
    assert [f[b"n"] for _, f in own_db.admin.xrange(STREAM)] == [b"before", b"after"]


@pytest.fixture
def socket_redis(tmp_path: Path) -> Iterator[Path]:
    """A Redis listening only on a unix socket."""
    socket_path = tmp_path / "redis.sock"
    binary = EmbeddedRedis(tmp_path, free_port()).binary
    server = subprocess.Popen([str(binary), "--port", "0", "--unixsocket", str(socket_path), "--save", "",
                               "--appendonly", "no", "--dir", str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            if socket_path.exists():
                break
            time.sleep(0.05)
        yield socket_path
    finally:
        server.terminate()
        server.wait(10)


async def test_appends_over_a_unix_socket(socket_redis: Path, appender: StreamAppender) -> None:
    client = create_redis(f"unix://{socket_redis}?db=1")
    entry_id = await appender.append(client, {b"n": b"over a socket"}, 5.0)
    await client.aclose()
    admin = redis.Redis(unix_socket_path=str(socket_redis), db=1)
    assert admin.xrange(STREAM) == [(entry_id, {b"n": b"over a socket"})]
    admin.close()
