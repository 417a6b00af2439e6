"""Benchmark `bench/soak`: a long run of mixed traffic at a steady rate, watching for what only
time shows (memory that grows, a stream that never drains, a latency that creeps, errors).

    python -m bench.soak [--minutes 30] [--single-rate 200] [--batch-rate 10] [--batch-size 50]
                         [--query-rate 2] [--login-rate 0.2]
    python -m bench.soak --minutes 2          # a quick check that everything runs

Runs a private stack (embedded PostgreSQL + Redis, the four services; the rollup job on) and
sends, each at an even pace from its own loop (open loop: a slow answer does not slow the
sender): single events to `/api/track`, batches of Segment events to `/v1/batch` (web, server and
mobile senders), dashboard questions through the gateway with a real token (summary, timeseries,
breakdowns, realtime), and logins. Every minute it prints, per kind, the requests sent, their p50
and p99 latency and every status that is not 2xx; the resident memory of each part of the stack
(each process's own pages, summed over each process tree; PostgreSQL's shared buffers are
not counted); and the event stream's length and pending count.
At the end: events answered 2xx against rows stored (equal: nothing lost, none doubled), each
service's memory growth from minute 2 to the last, and the errors beyond the expected 503s.
Asserts nothing; the figures go in docs/benchmarks.md."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import statistics
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import redis
import uvloop

from bench.common import machine_summary, register, start_stack
from bench.cpu import resident_mb
from services.devstack import DevStack
from services.shared.db import plain_url
from services.shared.redis import EVENTS_GROUP, EVENTS_STREAM

CHROME = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")
CONTEXTS = (  # the senders a team points at the gateway: web, backend, phone
    {"userAgent": CHROME, "library": {"name": "analytics.js"}, "locale": "en-US",
     "screen": {"width": 1512, "height": 982}},
    {"library": {"name": "analytics-python", "version": "2.3.3"}},
    {"library": {"name": "analytics-swift"}, "os": {"name": "iOS", "version": "18.1"},
     "device": {"type": "ios", "model": "iPhone15,2"}, "app": {"version": "3.2.0"},
     "screen": {"width": 393, "height": 852}},
)
QUESTIONS = ("stats/summary", "stats/timeseries?metric=visitors&interval=hour", "stats/breakdown?by=page",
             "stats/breakdown?by=library", "realtime")


@dataclass
class Minute:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))


@dataclass
class Tally:
    project: int
    minutes: list[Minute] = field(default_factory=lambda: [Minute()])
    memory: list[dict[str, float]] = field(default_factory=list)  # resident MB per part, each minute
    accepted_events: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # kind:status beyond the expected 503s

    def add(self, kind: str, status: int, seconds: float) -> None:
        minute = self.minutes[-1]
        minute.latencies[kind].append(seconds * 1000)
        minute.statuses[kind][status] += 1
        if status >= 400 and status != 503:
            self.errors[f"{kind}:{status}"] += 1


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))] if ordered else float("nan")


async def _paced(rate: float, until: float, send: Any) -> None:
    """Call `send(i)` at an even `rate` per second until `until`, without waiting for answers."""
    if rate <= 0:
        return
    start, i, tasks = time.perf_counter(), 0, set()
    while True:
        due = start + i / rate
        if due >= until:
            break
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        task = asyncio.create_task(send(i))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        i += 1
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)


async def _timed(tally: Tally, kind: str, request: Any, events: int = 0) -> None:
    start = time.perf_counter()
    try:
        response = await request
        status = response.status_code
    except httpx.HTTPError:
        status = 599  # no answer (connection refused, timeout)
    tally.add(kind, status, time.perf_counter() - start)
    if 200 <= status < 300 and events:
        tally.accepted_events += events


async def soak(stack: DevStack, args: argparse.Namespace) -> Tally:
    account = register(stack.gateway_url)
    project, key, token = account["project"]["id"], account["project"]["writeKey"], account["accessToken"]
    tally = Tally(project)
    today = dt.datetime.now(dt.UTC).date()
    week = f"from={today - dt.timedelta(days=6)}&to={today}&tz=UTC"
    until = time.perf_counter() + args.minutes * 60
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30, limits=limits) as http:
        def single(i: int) -> Any:
            body = {"apiKey": key, "eventName": "PAGE_VIEW" if i % 2 else "Clicked", "anonymousId": f"v{i % 5000}",
                    "page": f"https://shop.example/p/{i % 50}", "sessionId": f"s{i // 20}"}
            return _timed(tally, "single", http.post("/api/track", json=body, headers={"User-Agent": CHROME}), 1)

        def batch(i: int) -> Any:
            events = [{"type": "track", "event": "Order Step", "userId": f"u{(i * args.batch_size + n) % 20000}",
                       "messageId": str(uuid.uuid4()), "properties": {"step": n % 5},
                       "context": CONTEXTS[(i + n) % len(CONTEXTS)]} for n in range(args.batch_size)]
            return _timed(tally, "batch", http.post("/v1/batch", json={"batch": events}, auth=(key, "")),
                          args.batch_size)

        def question(i: int) -> Any:
            path = QUESTIONS[i % len(QUESTIONS)]
            if path == "realtime":
                return _timed(tally, "query", http.get(f"/api/projects/{project}/realtime",
                                                       headers={"Authorization": f"Bearer {token}"}))
            sep = "&" if "?" in path else "?"
            return _timed(tally, "query", http.get(f"/api/projects/{project}/{path}{sep}{week}",
                                                   headers={"Authorization": f"Bearer {token}"}))

        def login(i: int) -> Any:
            return _timed(tally, "login", http.post("/api/auth/login", json={"email": account["email"],
                                                                             "password": account["password"]}))

        async def report() -> None:
            rds = redis.Redis.from_url(stack.redis_url)
            print(f"{'min':>3} {'kind':<6} {'sent':>7} {'p50 ms':>8} {'p99 ms':>8}  non-2xx | memory MB "
                  f"(gateway users tracking subscriber postgres redis) | stream length, pending")
            minute = 0
            while time.perf_counter() < until:
                await asyncio.sleep(min(60.0, max(0.0, until - time.perf_counter())))
                minute += 1
                done, tally.minutes = tally.minutes[-1], [*tally.minutes, Minute()]
                memory = resident_mb(stack)
                groups = {g["name"]: g for g in rds.xinfo_groups(EVENTS_STREAM)}
                pending = int(groups.get(EVENTS_GROUP.encode(), {}).get("pending", 0))
                mem = " ".join(f"{memory.get(p, 0):.0f}" for p in ("gateway", "users", "tracking", "subscriber",
                                                                      "postgres", "redis"))
                for kind in ("single", "batch", "query", "login"):
                    values = done.latencies.get(kind, [])
                    other = {s: n for s, n in done.statuses.get(kind, Counter()).items() if not 200 <= s < 300}
                    print(f"{minute:>3} {kind:<6} {len(values):>7} {_p(values, 0.5):>8.1f} {_p(values, 0.99):>8.1f}"
                          f"  {other or '-'}")
                print(f"{'':>3} memory {mem} | stream {rds.xlen(EVENTS_STREAM)}, pending {pending}", flush=True)
                tally.memory.append(memory)
            rds.close()

        await asyncio.gather(
            _paced(args.single_rate, until, single), _paced(args.batch_rate, until, batch),
            _paced(args.query_rate, until, question), _paced(args.login_rate, until, login), report())
    return tally


async def _stored(url: str, project: int, expected: int, wait_seconds: float = 120) -> int:
    """Rows of the project once `expected` are stored, or after `wait_seconds`."""
    conn = await asyncpg.connect(plain_url(url))
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            count = int(await conn.fetchval("SELECT count(*) FROM events WHERE project_id = $1", project))
            if count >= expected or time.monotonic() > deadline:
                return count
            await asyncio.sleep(1)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--single-rate", type=float, default=200, help="single events per second")
    parser.add_argument("--batch-rate", type=float, default=10, help="batches per second")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--query-rate", type=float, default=2, help="dashboard questions per second")
    parser.add_argument("--login-rate", type=float, default=0.2, help="logins per second")
    args = parser.parse_args()
    print(f"# machine: {machine_summary()}")
    print(f"# {args.minutes:g} min: {args.single_rate:g} single events/s, {args.batch_rate:g} batches/s of "
          f"{args.batch_size}, {args.query_rate:g} dashboard questions/s, {args.login_rate:g} logins/s")
    stack = start_stack()
    # the load generator shares the two cores with the stack: its own pauses would show as latency,
    # so start-up objects leave the collector's sight and the event loop is uvloop's, as the services'
    gc.freeze()
    gc.set_threshold(50_000, 50, 50)
    try:
        tally = uvloop.run(soak(stack, args))
        stored = asyncio.run(_stored(stack.database_url, tally.project, tally.accepted_events))
        memory = tally.memory
        print(f"# events answered 2xx: {tally.accepted_events:,}; rows stored: {stored:,} "
              f"({'equal' if stored == tally.accepted_events else 'DIFFERENT'})")
        if len(memory) >= 3:
            growth = {p: memory[-1].get(p, 0) - memory[1].get(p, 0) for p in memory[-1]}
            print("# memory growth from minute 2 to the last (MB): "
                  + ", ".join(f"{p} {g:+.0f}" for p, g in sorted(growth.items())))
        p99s = [_p(m.latencies.get("single", []), 0.99) for m in tally.minutes if m.latencies.get("single")]
        if p99s:
            print(f"# single-event p99 per minute: median {statistics.median(p99s):.1f} ms, worst {max(p99s):.1f} ms")
        print(f"# errors beyond the expected 503s: {dict(tally.errors) or 'none'}")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
