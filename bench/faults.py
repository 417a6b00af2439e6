"""Fault runs `bench/faults`: real processes killed under load, then every event answered 2xx
counted in PostgreSQL (each stored exactly once). The short ones run in `make test`
(tests/test_tme_dev.py, tests/ingest/test_faults.py); these take minutes:

    python -m bench.faults                                  # every scenario, about 6 minutes
    python -m bench.faults --scenario postgres-down --down-seconds 60
    python -m bench.faults --scenario subscriber-kills --minutes 3 --every 3

Scenarios (each on its own private stack: embedded PostgreSQL and Redis, the four services,
supervised as `tme dev` supervises them):

  redis-kill        Redis SIGKILLed mid-ingest; the supervisor restarts it on its data. Prints
                    how long ingest answered 503 (target: back within 15 s).
  postgres-kill     the postmaster SIGKILLed mid-ingest; restarted by the supervisor. Prints how
                    long until events sent after the kill are stored again (target: 15 s).
  postgres-down     the postmaster SIGKILLed and left down for --down-seconds (60) while events
                    arrive; then the supervisor brings it back.
  subscriber-kills  two subscribers, one SIGKILLed every --every seconds (3) for --minutes (3),
                    each replaced a second later (as a Deployment would), under steady load.

The load is an SDK's: batches of 10 events with their own messageIds, a 503 or a lost connection
retried with the same batch until it is answered 2xx. Each scenario ends by counting rows against
the events answered 2xx: equal, none doubled. Prints PASS/FAIL per scenario; exits 1 on a FAIL."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg
import httpx

from bench.common import register, start_stack
from services.devstack import DevStack
from services.shared.embedded import free_port

# subscribers reclaim entries a killed consumer left pending after 2 s rather than 30 s
FAST_RECLAIM = {"TME_SUBSCRIBER_CLAIM_IDLE_MS": "2000", "TME_SUBSCRIBER_CLAIM_INTERVAL_SECONDS": "0.5"}
RETRY_PAUSE = 0.2  # seconds an SDK waits before resending a refused batch (here: short, to see recovery)


class AckedLoad:
    """Batches sent by `senders` threads like an SDK sends them, keeping the messageIds of every
    event answered 2xx; a refused batch (503, timeout, connection refused) is resent unchanged."""

    def __init__(self, gateway_url: str, write_key: str, *, batch: int = 10, senders: int = 2,
                 pause: float = 0.0) -> None:
        self.url = f"{gateway_url}/api/track"
        self.write_key = write_key
        self.batch = batch
        self.pause = pause
        self.acked: set[str] = set()
        self.statuses: Counter[str] = Counter()
        self.refused_at: list[float] = []  # monotonic times of refusals
        self.acked_at: list[tuple[float, str]] = []  # monotonic time of each 2xx, a messageId of its batch
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(senders)]

    def __enter__(self) -> AckedLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stops sending; a batch in flight is finished (resent until 2xx) first."""
        self._stop.set()
        for thread in self._threads:
            thread.join(120)

    def _run(self, n: int) -> None:
        with httpx.Client(timeout=15) as client:
            i = 0
            while not self._stop.is_set():
                events = [{"eventName": "Fault Run", "userId": f"u{n}-{i % 50}", "sessionId": f"s{n}-{i // 20}",
                           "messageId": str(uuid.uuid4()), "properties": {"i": i}} for _ in range(self.batch)]
                self._deliver(client, {"apiKey": self.write_key, "batch": events})
                i += 1
                if self.pause:
                    time.sleep(self.pause)

    def _deliver(self, client: httpx.Client, body: dict) -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                status = str(client.post(self.url, json=body).status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            now = time.monotonic()
            with self._lock:
                self.statuses[status] += 1
                if status.startswith("2"):
                    self.acked.update(e["messageId"] for e in body["batch"])
                    self.acked_at.append((now, body["batch"][0]["messageId"]))
                    return
                self.refused_at.append(now)
            time.sleep(RETRY_PAUSE)
        raise RuntimeError("a batch was refused for 10 minutes")

    def acked_count(self) -> int:
        with self._lock:
            return len(self.acked)

    def wait_acked(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.acked_count() < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {self.acked_count()} of {count} events answered 2xx within {timeout:.0f} s "
                                   f"(answers so far: {dict(self.statuses)})")
            time.sleep(0.05)

    def ingest_back_after(self, since: float) -> float:
        """Seconds from `since` until the first 2xx after the last refusal that followed it (0 when
        no request was refused)."""
        with self._lock:
            refusals = [t for t in self.refused_at if t >= since]
            if not refusals:
                return 0.0
            last = refusals[-1]
            return next((t for t, _ in self.acked_at if t > last), float("nan")) - since

    def first_acked_after(self, since: float) -> str | None:
        """A messageId of the first batch answered 2xx after `since`."""
        with self._lock:
            return next((mid for t, mid in self.acked_at if t > since), None)


@dataclass
class Outcome:
    acked: int
    rows: int
    distinct: int
    missing: int  # answered 2xx, not stored
    unexpected: int  # stored, never answered 2xx (none: a refused batch is resent until 2xx)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.rows == self.distinct == self.acked and not self.missing and not self.unexpected

    def summary(self) -> str:
        return (f"{self.acked:,} events answered 2xx, {self.rows:,} rows ({self.distinct:,} distinct), "
                f"{self.missing:,} missing, {self.rows - self.distinct:,} doubled, {self.unexpected:,} unexpected")


async def _stored(database_url: str, project_id: int) -> tuple[int, set[str]]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT message_id FROM events WHERE project_id = $1", project_id)
    finally:
        await conn.close()
    return len(rows), {r["message_id"] for r in rows}


def stored(database_url: str, project_id: int) -> tuple[int, set[str]]:
    """Rows of the project and their distinct messageIds, as PostgreSQL has them now."""
    return asyncio.run(_stored(database_url, project_id))


def count_against_acked(database_url: str, project_id: int, acked: set[str], timeout: float = 120,
                        idle: Callable[[], None] | None = None) -> Outcome:
    """Waits (up to `timeout`) until every acknowledged event has its row, then compares;
    `idle` runs between looks (e.g. a round of supervision)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            rows, ids = stored(database_url, project_id)
        except (OSError, asyncpg.PostgresError):  # PostgreSQL still coming back
            rows, ids = 0, set()
        if acked <= ids or time.monotonic() > deadline:
            return Outcome(len(acked), rows, len(ids), len(acked - ids), len(ids - acked))
        if idle:
            idle()
        time.sleep(0.5)


def _wait(seconds: float, stack: DevStack) -> None:
    """Sleeps `seconds` while supervising the stack as `tme dev` would."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        stack.supervise_once()
        time.sleep(0.2)


async def _has_row(database_url: str, project_id: int, message_id: str) -> bool:
    conn = await asyncpg.connect(database_url)
    try:
        return bool(await conn.fetchval("SELECT count(*) FROM events WHERE project_id = $1 AND message_id = $2",
                                        project_id, message_id))
    finally:
        await conn.close()


def _rows_back_after(stack: DevStack, project_id: int, load: AckedLoad, since: float, timeout: float) -> float:
    """Seconds from `since` until an event answered 2xx after `since` is stored (supervising)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.supervise_once()
        message_id = load.first_acked_after(since)
        if message_id is not None:
            try:
                if asyncio.run(_has_row(stack.database_url, project_id, message_id)):
                    return time.monotonic() - since
            except (OSError, asyncpg.PostgresError):  # not back yet
                pass
        time.sleep(0.2)
    return float("nan")


def _server_pid(stack: DevStack, name: str) -> int:
    server = stack.postgres if name == "postgres" else stack.redis
    assert server is not None and server.proc is not None, f"this run needs the embedded {name}"
    return server.proc.pid


def _account(stack: DevStack) -> tuple[int, str]:
    account = register(stack.gateway_url)
    return int(account["project"]["id"]), account["project"]["writeKey"]


def redis_kill(stack: DevStack, args: argparse.Namespace) -> Outcome:
    project_id, key = _account(stack)
    with AckedLoad(stack.gateway_url, key) as load:
        load.wait_acked(500, 60)
        killed = time.monotonic()
        os.kill(_server_pid(stack, "redis"), signal.SIGKILL)
        mark = load.acked_count()
        while load.acked_count() < mark + 500:
            _wait(0.2, stack)
            if time.monotonic() - killed > 120:
                raise TimeoutError("ingest did not come back within 120 s of Redis's SIGKILL")
        back = load.ingest_back_after(killed)
    outcome = count_against_acked(stack.database_url, project_id, load.acked, idle=stack.supervise_once)
    outcome.notes.append(f"ingest answered 2xx again {back:.1f} s after the SIGKILL (target <= 15 s); "
                         f"answers: {dict(load.statuses)}")
    return outcome


def postgres_kill(stack: DevStack, args: argparse.Namespace, down: float = 0.0) -> Outcome:
    project_id, key = _account(stack)
    with AckedLoad(stack.gateway_url, key) as load:
        load.wait_acked(500, 60)
        os.kill(_server_pid(stack, "postgres"), signal.SIGKILL)
        killed = time.monotonic()
        if down:
            time.sleep(down)  # nobody restarts it meanwhile: the stack runs without its database
        during = load.acked_count()
        back = _rows_back_after(stack, project_id, load, killed, 180)
        _wait(5, stack)
    outcome = count_against_acked(stack.database_url, project_id, load.acked, idle=stack.supervise_once)
    what = f"down {down:.0f} s" if down else "restarted by the supervisor"
    outcome.notes.append(f"PostgreSQL {what}: events sent after the SIGKILL stored {back:.1f} s after it"
                         + ("" if down else " (target <= 15 s)")
                         + f"; {during:,} events answered 2xx by then; answers: {dict(load.statuses)}")
    return outcome


def postgres_down(stack: DevStack, args: argparse.Namespace) -> Outcome:
    return postgres_kill(stack, args, down=args.down_seconds)


def subscriber_kills(stack: DevStack, args: argparse.Namespace) -> Outcome:
    project_id, key = _account(stack)
    keys = ["subscriber", "subscriber-2"]
    stack.start_service("subscriber", key="subscriber-2", port=free_port(), env=FAST_RECLAIM)
    kills = 0
    with AckedLoad(stack.gateway_url, key, pause=0.005) as load:
        load.wait_acked(500, 60)
        end = time.monotonic() + args.minutes * 60
        while time.monotonic() < end:
            victim_key = random.choice(keys)
            victim = stack.services[victim_key]
            if victim.alive():
                assert victim.proc is not None
                victim.proc.kill()  # SIGKILL mid-batch: no shutdown, no acknowledgement
                victim.proc.wait(10)
                kills += 1
                time.sleep(1.0)  # then a replacement, as a Deployment schedules one
                stack.start_service("subscriber", key=victim_key, port=victim.port, env=victim.env, wait=False)
            time.sleep(max(0.0, args.every - 1.0))
    stack.supervise_once()
    outcome = count_against_acked(stack.database_url, project_id, load.acked, timeout=300)
    outcome.notes.append(f"{kills} subscriber SIGKILLs in {args.minutes:g} min; answers: {dict(load.statuses)}")
    return outcome


SCENARIOS: dict[str, Callable[[DevStack, argparse.Namespace], Outcome]] = {
    "redis-kill": redis_kill, "postgres-kill": postgres_kill, "postgres-down": postgres_down,
    "subscriber-kills": subscriber_kills,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    parser.add_argument("--down-seconds", type=float, default=60.0, help="postgres-down: how long it stays down")
    parser.add_argument("--minutes", type=float, default=3.0, help="subscriber-kills: length of the run")
    parser.add_argument("--every", type=float, default=3.0, help="subscriber-kills: seconds between kills")
    args = parser.parse_args()
    failed = []
    for name in SCENARIOS if args.scenario == "all" else [args.scenario]:
        print(f"# {name}: starting a private stack", flush=True)
        stack = start_stack(FAST_RECLAIM)
        try:
            started = time.monotonic()
            outcome = SCENARIOS[name](stack, args)
            for note in outcome.notes:
                print(f"# {name}: {note}")
            print(f"{'PASS' if outcome.ok else 'FAIL'} {name}: {outcome.summary()} "
                  f"({time.monotonic() - started:.0f} s)", flush=True)
            if not outcome.ok:
                failed.append(name)
        finally:
            stack.stop()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
