"""The gateway's XADD pipeline on its own connection, against a real Redis of its own: it follows
the Redis URL (password, ACL user, db), answers each request with its own entry id in order,
times a request out when Redis stalls without mixing up the replies that come later, and opens
a new connection when the old one is killed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
from redis.exceptions import ConnectionError as RedisConnectionError

from services.gateway.ingest.appender import StreamAppender
from services.shared.embedded import EmbeddedRedis, free_port
from services.shared.redis import create_redis

STREAM = "appender:test"


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis only these tests use, with a password and an ACL user that may use the stream."""
    server = EmbeddedRedis(Path(tmp_path_factory.mktemp("redis")), free_port())
    url = server.start()
    admin = redis.Redis.from_url(url)
    admin.execute_command("ACL", "SETUSER", "ingest", "on", ">ingest-secret", "~appender:*", "+@all")
    admin.config_set("requirepass", "default-secret")
    admin.close()
    yield f"redis://127.0.0.1:{server.port}"
    server.stop()


def admin_of(host: str, db: int) -> redis.Redis:
    return redis.Redis.from_url(f"redis://:default-secret@{host}/{db}")


@pytest.fixture
async def appender() -> AsyncIterator[StreamAppender]:
    appender = StreamAppender(STREAM, lambda seconds: None)
    yield appender
    appender.close()


async def test_appends_with_the_urls_user_password_and_db(private_redis: str, appender: StreamAppender) -> None:
    host = private_redis.split("//")[1]
    client = create_redis(f"redis://ingest:ingest-secret@{host}/3")
    ids = await asyncio.gather(*(appender.append(client, {b"n": str(i).encode()}, 5.0) for i in range(50)))
    await client.aclose()

    db3, db0 = admin_of(host, 3), admin_of(host, 0)
    entries = db3.xrange(STREAM)
    assert [entry_id for entry_id, _ in entries] == ids  # each request got its own id, in order
    assert [fields[b"n"] for _, fields in entries] == [str(i).encode() for i in range(50)]
    assert db0.xlen(STREAM) == 0  # db 0 untouched
    db3.close()
    db0.close()


async def test_a_stall_times_out_and_later_replies_stay_in_order(private_redis: str,
                                                                  appender: StreamAppender) -> None:
    host = private_redis.split("//")[1]
    client = create_redis(f"redis://:default-secret@{host}/4")
    admin = admin_of(host, 4)
    assert await appender.append(client, {b"n": b"warm"}, 5.0)

    admin.execute_command("CLIENT", "PAUSE", "1500", "WRITE")
    stalled = [appender.append(client, {b"n": f"stalled-{i}".encode()}, 0.3) for i in range(3)]
    outcomes = await asyncio.gather(*stalled, return_exceptions=True)
    assert all(isinstance(o, TimeoutError) for o in outcomes), outcomes

    after = await asyncio.gather(*(appender.append(client, {b"n": f"after-{i}".encode()}, 5.0) for i in range(3)))
    entries = {entry_id: fields[b"n"] for entry_id, fields in admin.xrange(STREAM)}
    # the stalled XADDs were written before the timeout, so Redis stored them; each later request
    # still got the id of its own entry, not the reply meant for a stalled one
    assert [entries[i] for i in after] == [b"after-0", b"after-1", b"after-2"]
    await client.aclose()
    admin.close()


async def test_a_killed_connection_fails_its_waiters_and_is_opened_again(private_redis: str,
                                                                         appender: StreamAppender) -> None:
    host = private_redis.split("//")[1]
    client = create_redis(f"redis://:default-secret@{host}/5")
    admin = admin_of(host, 5)
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
    await client.aclose()
    admin.close()
