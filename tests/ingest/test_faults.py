"""Faults under load, each ending by counting rows against the events answered 2xx: equal, none
doubled. A poison entry that PostgreSQL always refuses is dead-lettered while the events around
it land; a gateway flooded while no subscriber runs answers 503 at its backlog bound, keeps its
memory, never trims an entry nobody acknowledged, and everything it accepted lands once a
subscriber is back; a gateway told to wait for a replica (TME_INGEST_ACK_REPLICAS) answers 2xx
only once one holds the entry. (Redis and PostgreSQL SIGKILLed under `tme dev`:
tests/test_tme_dev.py; the minutes-long runs: bench/faults.py.)"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
import schema_check

from bench.faults import AckedLoad, count_against_acked
from services.devstack import DevStack
from services.shared.embedded import free_port
from services.shared.redis import DEAD_LETTER_STREAM, EVENTS_STREAM
from services.shared.stream import encode_batch

from .helpers import Project, ensure_healthy, wait_drained, wait_until


@pytest.fixture
def restore(stack: DevStack) -> Iterator[DevStack]:
    yield stack
    ensure_healthy(stack)


def test_a_poison_entry_is_dead_lettered_while_the_events_around_it_land_exactly_once(
    stack: DevStack, rds: redis.Redis, project: Project
) -> None:
    last = rds.xrevrange(DEAD_LETTER_STREAM, count=1)
    since = last[0][0].decode() if last else "0-0"
    now = int(time.time() * 1000)
    poison_id = f"poison-{uuid.uuid4()}"
    poison = encode_batch(project.id, project.write_key, now, [{  # PostgreSQL refuses a NUL in text, every time
        "messageId": poison_id, "type": "track", "event": "nul\x00byte", "userId": "u", "timestamp": now,
        "properties": {}, "context": {}, "isBot": False}], {})
    with AckedLoad(stack.gateway_url, project.write_key) as load:
        load.wait_acked(200, 60)
        rds.xadd(EVENTS_STREAM, poison)
        load.wait_acked(load.acked_count() + 400, 60)
    outcome = count_against_acked(stack.database_url, project.id, load.acked, timeout=60)
    assert outcome.ok, outcome.summary()  # the poison has no row, every acknowledged event has one
    letters = wait_until(lambda: [f for _, f in rds.xrange(DEAD_LETTER_STREAM, min=f"({since}")
                                  if f.get(b"e") == poison[b"e"]], 60, "the poison entry's dead letter")
    assert letters[0][b"kind"] == b"refused"
    wait_drained(rds)


def _rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (a gateway and its workers), in KiB."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(entry.name) == pid or int(fields.get("PPid", "0").strip() or 0) == pid:
            total += int(fields.get("VmRSS", "0 kB").split()[0])
    return total


def test_a_flood_without_a_subscriber_is_bounded_and_nothing_accepted_is_lost(
    restore: DevStack, rds: redis.Redis, project: Project
) -> None:
    """The subscriber stopped, 8 clients flood a gateway whose backlog bound is 200 entries: it
    answers 2xx up to the bound and 503 + Retry-After ("overloaded") beyond it; the stream holds
    exactly the accepted entries (none trimmed), the gateway's memory stays where it was, and
    once a subscriber is back every accepted event is stored exactly once."""
    stack = restore
    wait_drained(rds)
    stack.services["subscriber"].stop()  # SIGTERM: nothing consumes the stream now
    length = int(rds.xlen(EVENTS_STREAM))
    bound, clients, requests = 200, 8, 150
    gateway = stack.start_service("gateway", key="gateway-flood", port=free_port(), env={
        "TME_INGEST_MAX_BACKLOG": str(length + bound), "TME_INGEST_BACKLOG_CHECK_SECONDS": "0"})
    acked: set[str] = set()
    answers: Counter[str] = Counter()
    lock = threading.Lock()
    assert gateway.proc is not None

    def flood(n: int) -> None:
        with httpx.Client(base_url=gateway.url, timeout=30, event_hooks=schema_check.schema_hooks()) as client:
            for i in range(requests):
                events = [{"eventName": "Flood", "userId": f"u{n}", "messageId": str(uuid.uuid4()), "n": i}
                          for _ in range(10)]
                response = client.post("/api/track", json={"apiKey": project.write_key, "batch": events})
                with lock:
                    if response.status_code == 200:
                        answers["200"] += 1
                        acked.update(e["messageId"] for e in events)
                    else:
                        code = response.json()["error"]["code"]
                        assert response.status_code == 503 and int(response.headers["retry-after"]) > 0, code
                        answers[f"{response.status_code} {code}"] += 1

    try:
        warm = str(uuid.uuid4())  # first a request that caches the key: the workers are up
        assert schema_check.post(f"{gateway.url}/api/track", json={"apiKey": project.write_key, "eventName": "warm",
                                                                  "messageId": warm}).status_code == 200
        acked.add(warm)
        before = _rss_kib(gateway.proc.pid)
        threads = [threading.Thread(target=flood, args=(n,)) for n in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        after = _rss_kib(gateway.proc.pid)
        accepted = int(rds.xlen(EVENTS_STREAM)) - length
    finally:
        gateway.stop()
        del stack.services["gateway-flood"]
    assert answers["503 overloaded"] > 0, answers
    assert set(answers) <= {"200", "503 overloaded"}, answers
    assert accepted == answers["200"] + 1  # exactly the accepted entries: nothing trimmed, nothing extra
    assert accepted <= bound + clients  # the bound, give or take the requests checked at the same moment
    assert after - before < 64 * 1024, f"gateway RSS grew from {before} to {after} KiB"
    ensure_healthy(stack)  # the subscriber comes back and drains the backlog
    outcome = count_against_acked(stack.database_url, project.id, acked, timeout=60)
    assert outcome.ok, outcome.summary()


def test_a_gateway_waiting_for_a_replica_answers_2xx_only_once_one_holds_the_entry(
    stack: DevStack, rds: redis.Redis, project: Project, tmp_path: Path
) -> None:
    """TME_INGEST_ACK_REPLICAS=1 (WAIT after the XADDs): with no replica the batch is answered
    503 + Retry-After; once a replica follows the stack's Redis the SDK's resend of the same
    batch is answered 2xx, and every event is stored exactly once (the first attempt's entry,
    which did reach the stream, is deduplicated against the resend)."""
    assert stack.redis is not None, "this test needs the embedded Redis"
    gateway = stack.start_service("gateway", key="gateway-replica", port=free_port(), env={
        "TME_INGEST_ACK_REPLICAS": "1", "TME_INGEST_ENQUEUE_TIMEOUT_SECONDS": "1"})
    replica: subprocess.Popen[bytes] | None = None
    try:
        url = f"{gateway.url}/api/track"
        first = [{"eventName": "Replicated", "userId": "u", "messageId": str(uuid.uuid4())} for _ in range(5)]
        refused = schema_check.post(url, json={"apiKey": project.write_key, "batch": first}, timeout=30)
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "queue_unavailable"
        assert int(refused.headers["retry-after"]) > 0

        replica_port = free_port()
        replica = subprocess.Popen(
            [str(stack.redis.binary), "--port", str(replica_port), "--bind", "127.0.0.1", "--dir", str(tmp_path),
             "--save", "", "--appendonly", "no", "--replicaof", "127.0.0.1", str(stack.redis.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        follower = redis.Redis(port=replica_port)
        wait_until(lambda: _linked(follower), 30, "the replica to follow the stack's Redis")
        resent = schema_check.post(url, json={"apiKey": project.write_key, "batch": first}, timeout=30)
        assert resent.status_code == 200, resent.text
        second = [{"eventName": "Replicated", "userId": "u", "messageId": str(uuid.uuid4())} for _ in range(5)]
        accepted = schema_check.post(url, json={"apiKey": project.write_key, "batch": second}, timeout=30)
        assert accepted.status_code == 200, accepted.text
        assert follower.xlen(EVENTS_STREAM) > 0
        follower.close()
    finally:
        gateway.stop()
        del stack.services["gateway-replica"]
        if replica is not None:
            replica.terminate()
            replica.wait(30)
    outcome = count_against_acked(stack.database_url, project.id, {e["messageId"] for e in first + second},
                                  timeout=60)
    assert outcome.ok, outcome.summary()


def _linked(follower: redis.Redis) -> bool:
    try:
        return follower.info("replication").get("master_link_status") == "up"
    except redis.RedisError:
        return False
