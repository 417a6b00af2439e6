"""Benchmark `bench/ingest`: end-to-end ingest rate, from HTTP request to committed row.

    python -m bench.ingest [--seconds 15] [--connections 32]   # about 10 minutes
    python -m bench.ingest --smoke                              # the same phases, shortened: about 90 s

Needs `wrk` and `hey` on the PATH (Debian/Ubuntu: `apt-get install wrk hey`).

Runs a private stack in its default configuration (embedded PostgreSQL + Redis, the four
services; the gateway with its default number of workers, one subscriber), then measures:

  1. batched: 100 events per request (wrk, `--connections` connections), 1 subscriber, then
     2 subscribers (a second one is started for that phase and stopped after it);
  2. batched again with the tracking service's rollup job off: what keeping rollups current
     costs ingest;
  3. drain: the subscribers stopped while the gateway fills the stream, then 1 (and then 2)
     subscribers started and timed until the backlog is stored: the write path's own rate;
  4. single: one event per request (wrk), 1 subscriber;
  5. acknowledgement latency p50/p99 of single-event requests at a fixed 1,000 req/s: open loop,
     evenly spaced, each latency counted from the request's due time (bench/loadgen.py, the
     method of wrk2), and with hey (`-c 20 -q 50`, whose workers tick together: bursts of 20
     every 20 ms), the figure of earlier runs;
  6. the fast acknowledgement mode: phases 1 (1 subscriber), 4 and 5 (open loop) again with Redis
     switched to `appendfsync everysec` (CONFIG SET, same stack, same run; a power loss may drop
     the last second of acknowledged events), then back to the default `always` (an event
     answered 2xx is on disk), the mode of every other phase; both modes side by side at the end;

and, in the same run against the same PostgreSQL, the baseline: a raw binary COPY of the very
rows the pipeline stored (copied out of `events`, all columns but the generated one), both into
a bare heap table (no indexes) and into `events` itself (same partitions and indexes; rolled
back). Prints figures and ratios; it asserts nothing.

Where the CPU goes: under each end-to-end and drain phase, the CPU time of every part of the
stack (bench/cpu.py: the gateway's and each subscriber's process trees, PostgreSQL with its
backends, Redis, ...) divided by the events the phase stored. On two cores, 2,000,000 µs of CPU
per second divided by the "all" figure bounds the rate any phase can reach. A drain phase
includes the subscribers' start-up.

Quiet start: every measured phase begins once the database is quiet (the rollup job has
digested the rows of the phase before and autovacuum is done with them: no other backend active
in most samples over 3 s; the wait is printed). The job's cost on ingest is measured by its own
phase (2), not by leaving earlier phases' work to run under later ones.

Honest counting: an end-to-end phase runs from just before the first request to the moment the
consumer group has every entry of the stream delivered and acknowledged (the subscriber
acknowledges only after COMMIT); its events are the rows that phase added to `events`, counted
in PostgreSQL afterwards, and checked against what wrk saw acknowledged (fewer rows than
acknowledged events would be a loss and is reported as such).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import redis

from bench import cpu, loadgen
from bench.common import machine_summary, register, require_tool, start_stack
from services.devstack import DevStack
from services.shared.embedded import free_port
from services.shared.redis import EVENTS_GROUP, EVENTS_STREAM
from services.shared.serve import workers_for

REQUEST_TOKEN = "@R@"  # replaced by wrk with a number unique to each request


def _event(i: int) -> dict:
    """Event i of a request: 5 sessions of 20 events per request (the session ids carry the
    request's token), 500 returning users, 40 pages."""
    return {"eventName": "Bench Event" if i % 3 else "PAGE_VIEW", "sessionId": f"s{REQUEST_TOKEN}-{i % 5}",
            "userId": f"u{i % 500}", "page": f"https://shop.example.com/p/{i % 40}?utm_source=bench",
            "referrer": "https://www.google.com/", "context": {"plan": "pro", "n": i}}


# Each wrk thread numbers its requests (thread k sends k, k + 1000, ...) so that sessions stay
# the size real sessions have: one body with the same session ids over and over would make a few
# sessions of a million events, which no site has (and which the rollup job recomputes whole).
_LUA = """
local threads = 0
function setup(thread)
  thread:set("first", threads)
  threads = threads + 1
end
function init(args)
  n = first
end
function request()
  n = n + 1000
  local body = template:gsub("@R@", tostring(n))
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
"""


def _lua(body: str, path: Path) -> Path:
    path.write_text(f"template = {json.dumps(body)}\n{_LUA}")
    return path


@dataclass
class WrkResult:
    requests: int
    non2xx: int
    seconds: float
    p50: str
    p99: str

    @property
    def ok(self) -> int:
        return self.requests - self.non2xx


def _wrk(url: str, body: str, seconds: int, connections: int) -> WrkResult:
    with tempfile.TemporaryDirectory() as tmp:
        script = _lua(body, Path(tmp) / "post.lua")
        out = subprocess.run([require_tool("wrk"), "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
                              "-s", str(script), url], capture_output=True, text=True, check=True).stdout
    found = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    assert found, out
    elapsed = float(found.group(2)) / (1000 if found.group(3) == "ms" else 1)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    return WrkResult(int(found.group(1)), int(non2xx.group(1)) if non2xx else 0, elapsed,
                     lat.get("50", "?"), lat.get("99", "?"))


def _count(url: str, project_id: int) -> int:
    async def count() -> int:
        conn = await asyncpg.connect(url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM events WHERE project_id = $1", project_id))
        finally:
            await conn.close()
    return asyncio.run(count())


def _settle(url: str, timeout: float = 600) -> None:
    """Wait until PostgreSQL is quiet: over 3 s of samples (every 0.25 s), another backend was
    active (the rollup job, autovacuum, the subscriber) in at most 2 of 12."""
    async def wait() -> float:
        conn = await asyncpg.connect(url)
        start = time.monotonic()
        busy: list[bool] = []
        try:
            while time.monotonic() - start < timeout:
                active = await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() "
                    "AND backend_type IN ('client backend', 'autovacuum worker')")
                busy = [*busy[-11:], bool(active)]
                if len(busy) == 12 and sum(busy) <= 2:
                    return time.monotonic() - start
                await asyncio.sleep(0.25)
            raise SystemExit(f"PostgreSQL did not quieten within {timeout:.0f} s")
        finally:
            await conn.close()
    waited = asyncio.run(wait())
    print(f"# (database quiet after {waited:.0f} s)")


def _before_phase(stack: DevStack, rds: redis.Redis) -> None:
    """A measured phase starts with the stream stored and PostgreSQL quiet."""
    _wait_drained(rds)
    _settle(stack.database_url)


def _drained(rds: redis.Redis) -> bool:
    """Every entry of the stream delivered to the group and acknowledged (i.e. committed)."""
    last = rds.xinfo_stream(EVENTS_STREAM)["last-generated-id"]
    for group in rds.xinfo_groups(EVENTS_STREAM):
        if group["name"] in (EVENTS_GROUP, EVENTS_GROUP.encode()):
            return group["last-delivered-id"] == last and int(group["pending"]) == 0
    return False


def _wait_drained(rds: redis.Redis, timeout: float = 600) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _drained(rds):
            return time.monotonic()
        time.sleep(0.01)
    raise SystemExit(f"the stream was not drained within {timeout:.0f} s")


@dataclass
class Phase:
    label: str
    rows: int  # rows the phase added to events
    elapsed: float  # first request -> last row committed
    wrk: WrkResult
    per_request: int

    @property
    def events_per_s(self) -> float:
        return self.rows / self.elapsed

    @property
    def req_per_s(self) -> float:
        return self.wrk.ok / self.wrk.seconds


def _end_to_end(stack: DevStack, rds: redis.Redis, project_id: int, body: str, per_request: int, seconds: int,
                connections: int, label: str) -> Phase:
    _before_phase(stack, rds)
    before = _count(stack.database_url, project_id)
    cpu_before = cpu.snapshot(stack)
    start = time.monotonic()
    res = _wrk(f"{stack.gateway_url}/api/track", body, seconds, connections)
    end = _wait_drained(rds)
    cpu_after = cpu.snapshot(stack)
    rows = _count(stack.database_url, project_id) - before
    phase = Phase(label, rows, end - start, res, per_request)
    acknowledged = res.ok * per_request
    check = "" if rows >= acknowledged else f"  LOST: {acknowledged - rows} acknowledged events have no row!"
    print(f"{label:<30} {rows:>9,} rows in {phase.elapsed:5.1f} s = {phase.events_per_s:>8,.0f} events/s end-to-end"
          f" | gateway {phase.req_per_s:>6,.0f} req/s ({phase.req_per_s * per_request:>7,.0f} events/s),"
          f" ack p50 {res.p50} p99 {res.p99}, non-2xx {res.non2xx}{check}")
    print(f"{'':<30} {cpu.per_event(cpu_before, cpu_after, rows)}")
    return phase


def _drain(stack: DevStack, rds: redis.Redis, project_id: int, body: str, seconds: int, connections: int,
           subscribers: int) -> float:
    """The subscribers' own rate: with them stopped, the gateway fills the stream for `seconds`;
    then `subscribers` start and the time until every entry is acknowledged is measured (start-up
    included), with nothing else competing for the CPU."""
    _before_phase(stack, rds)
    stack.services["subscriber"].stop()
    _wrk(f"{stack.gateway_url}/api/track", body, seconds, connections)
    before = _count(stack.database_url, project_id)
    cpu_before = cpu.snapshot(stack)
    start = time.monotonic()
    stack.start_service("subscriber")
    extra = [f"subscriber-drain-{i}" for i in range(2, subscribers + 1)]
    for key in extra:
        stack.start_service("subscriber", key=key, port=free_port())
    end = _wait_drained(rds)
    cpu_after = cpu.snapshot(stack)
    for key in extra:
        stack.services.pop(key).stop()
    rows = _count(stack.database_url, project_id) - before
    rate = rows / (end - start)
    print(f"{f'drain backlog, {subscribers} subscriber(s)':<30} {rows:>9,} rows in {end - start:5.1f} s = "
          f"{rate:>8,.0f} events/s (gateway idle: the write path alone)")
    print(f"{'':<30} {cpu.per_event(cpu_before, cpu_after, rows)}")
    return rate


def _fixed_rate_latency(stack: DevStack, body: str, rate: int, seconds: int) -> dict:
    workers = 20
    out = subprocess.run([require_tool("hey"), "-z", f"{seconds}s", "-c", str(workers), "-q", str(rate // workers),
                          "-m", "POST", "-T", "application/json", "-d", body, f"{stack.gateway_url}/api/track"],
                         capture_output=True, text=True, check=True).stdout
    pct = dict(re.findall(r"(50|99)% in ([\d.]+) secs", out))
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    codes = re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)
    return {"p50_ms": float(pct.get("50", "nan")) * 1000, "p99_ms": float(pct.get("99", "nan")) * 1000,
            "rps": float(rps.group(1)) if rps else 0.0, "codes": dict(codes)}


async def _copy_baselines(url: str, project_id: int) -> tuple[int, float, float]:
    """Rows/s of one binary COPY of the project's rows (as stored) into a bare heap table, and
    into `events` itself (its partitions, indexes; rolled back)."""
    conn = await asyncpg.connect(url)
    try:
        columns = [r["attname"] for r in await conn.fetch(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'events'::regclass AND attnum > 0 "
            "AND NOT attisdropped AND attgenerated = '' ORDER BY attnum")]
        cols = ", ".join(columns)
        buf = io.BytesIO()
        await conn.copy_from_query(f"SELECT {cols} FROM events WHERE project_id = $1", project_id,
                                   output=buf, format="binary")
        rows = int(await conn.fetchval("SELECT count(*) FROM events WHERE project_id = $1", project_id))
        await conn.execute("DROP TABLE IF EXISTS bench_copy")
        await conn.execute(f"CREATE TABLE bench_copy AS SELECT {cols} FROM events WITH NO DATA")
        buf.seek(0)
        start = time.perf_counter()
        await conn.copy_to_table("bench_copy", source=buf, columns=columns, format="binary")
        bare = rows / (time.perf_counter() - start)
        await conn.execute("DROP TABLE bench_copy")
        await conn.execute("CHECKPOINT")
        buf.seek(0)
        tx = conn.transaction()
        await tx.start()
        start = time.perf_counter()
        await conn.copy_to_table("events", source=buf, columns=columns, format="binary")
        same = rows / (time.perf_counter() - start)
        await tx.rollback()
        return rows, bare, same
    finally:
        await conn.close()


@contextlib.contextmanager
def _rollup_job_off(stack: DevStack) -> Iterator[None]:
    """The tracking service restarted with its rollup job off for the block, then as it was."""
    tracking = stack.services["tracking"]
    tracking.stop()
    stack.start_service("tracking", env={"TME_ROLLUP_INTERVAL_SECONDS": "0"})
    try:
        yield
    finally:
        stack.services["tracking"].stop()
        stack.start_service("tracking", env=tracking.env)


def _rollup_runs(stack: DevStack) -> str:
    """The rollup job's runs since the tracking service (re)started, from its /metrics."""
    text = httpx.get(f"{stack.services['tracking'].url}/metrics", timeout=10).text
    values = {m.group(1): float(m.group(2)) for m in re.finditer(
        r'^tme_rollup_run_duration_seconds_(count|sum) (\S+)$', text, re.M)}
    buckets = [(float(m.group(1)), float(m.group(2))) for m in re.finditer(
        r'^tme_rollup_run_duration_seconds_bucket\{le="([0-9.e+]+)"\} (\S+)$', text, re.M)]
    count, total = values.get("count", 0.0), values.get("sum", 0.0)
    slowest = next((le for le, n in buckets if n >= count), float("inf")) if count else 0.0
    return (f"{count:.0f} runs, mean {total / count if count else 0:.2f} s, all under {slowest:g} s "
            f"({total:.0f} s of a database core)")


@dataclass
class AckFigures:
    """The figures compared between the acknowledgement modes."""

    batched: Phase
    single: Phase
    p99_ms: float


def _fast_ack_phases(stack: DevStack, rds: redis.Redis, project_id: int, batch_body: str, single_body: str,
                     args: argparse.Namespace) -> AckFigures:
    """Phases 1, 4 and the open-loop latency with Redis on `appendfsync everysec`, then back."""
    mode = rds.config_get("appendfsync")["appendfsync"]
    rds.config_set("appendfsync", "everysec")
    try:
        batched = _end_to_end(stack, rds, project_id, batch_body, 100, args.seconds, args.connections,
                              "fast ack: batched x100, 1 sub")
        single = _end_to_end(stack, rds, project_id, single_body, 1, args.seconds, args.connections,
                             "fast ack: single, 1 subscriber")
        _before_phase(stack, rds)
        even = loadgen.measure(f"{stack.gateway_url}/api/track", single_body.replace(REQUEST_TOKEN, "fa").encode(),
                               1000, args.latency_seconds)
        print(f"{'fast ack: latency, open loop':<30} {even.summary()}")
    finally:
        rds.config_set("appendfsync", mode)
    return AckFigures(batched, single, even.percentile(99))


def _ack_modes_table(durable: AckFigures, fast: AckFigures) -> None:
    print("# acknowledgement modes, same run, same stack (Redis appendfsync):")
    print(f"#   {'':<34} {'always (default)':>18} {'everysec (fast)':>18} {'fast/durable':>13}")
    rows = [("batched x100 end-to-end events/s", durable.batched.events_per_s, fast.batched.events_per_s),
            ("single-event requests/s", durable.single.req_per_s, fast.single.req_per_s),
            ("p99 ack at 1,000 req/s (ms)", durable.p99_ms, fast.p99_ms)]
    for label, always, everysec in rows:
        ratio = f"{everysec / always:.2f}x" if always else "-"
        print(f"#   {label:<34} {always:>18,.1f} {everysec:>18,.1f} {ratio:>13}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=15, help="length of each wrk phase")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--latency-seconds", type=int, default=15, help="length of the fixed-rate latency phase")
    parser.add_argument("--smoke", action="store_true", help="short phases (3 s): checks the benchmark in about 90 s")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.latency_seconds = 3, 3
    require_tool("wrk"), require_tool("hey")
    print(f"# machine: {machine_summary()}; load average before the run: {os.getloadavg()[0]:.2f}")
    stack = start_stack()
    rds = redis.Redis.from_url(stack.redis_url)
    try:
        print(f"# stack: gateway {workers_for('gateway')} worker process(es), subscriber(s) as stated, "
              f"embedded PostgreSQL + Redis (appendfsync {rds.config_get('appendfsync')['appendfsync']} unless "
              f"a phase says 'fast ack'); wrk -t2 -c{args.connections}, {args.seconds} s per phase")
        account = register(stack.gateway_url)
        project_id, key = account["project"]["id"], account["project"]["writeKey"]
        batch_body = json.dumps({"apiKey": key, "batch": [_event(i) for i in range(100)]})
        single_body = json.dumps({"apiKey": key, **_event(7)})
        _wrk(f"{stack.gateway_url}/api/track", batch_body, 1, 4)  # warm-up: every worker's caches, not counted

        batched = [_end_to_end(stack, rds, project_id, batch_body, 100, args.seconds, args.connections,
                               "batched x100, 1 subscriber")]
        second = stack.start_service("subscriber", key="subscriber-2", port=free_port())
        try:
            batched.append(_end_to_end(stack, rds, project_id, batch_body, 100, args.seconds, args.connections,
                                       "batched x100, 2 subscribers"))
        finally:
            second.stop()
            del stack.services["subscriber-2"]
        with _rollup_job_off(stack):  # what the tracking service's rollup job costs ingest (issue: queries)
            without_rollups = _end_to_end(stack, rds, project_id, batch_body, 100, args.seconds, args.connections,
                                          "batched x100, rollup job off")
        for subscribers in (1, 2):
            _drain(stack, rds, project_id, batch_body, args.seconds, args.connections, subscribers)
        single = _end_to_end(stack, rds, project_id, single_body, 1, args.seconds, args.connections,
                             "single, 1 subscriber")
        _before_phase(stack, rds)
        lat = _fixed_rate_latency(stack, single_body.replace(REQUEST_TOKEN, "hey"), 1000, args.latency_seconds)
        print(f"{'ack latency, hey bursts':<30} p50 {lat['p50_ms']:.1f} ms  p99 {lat['p99_ms']:.1f} ms  "
              f"({lat['rps']:,.0f} req/s achieved, status {lat['codes']}; 20 workers ticking together)")
        _before_phase(stack, rds)
        ticks = cpu.machine_ticks()
        even = loadgen.measure(f"{stack.gateway_url}/api/track", single_body.replace(REQUEST_TOKEN, "lg").encode(),
                               1000, args.latency_seconds)
        steal = cpu.steal_share(ticks, cpu.machine_ticks())
        print(f"{'ack latency, open loop':<30} {even.summary()}; CPU steal {steal:.0%}")
        fast = _fast_ack_phases(stack, rds, project_id, batch_body, single_body, args)
        _before_phase(stack, rds)
        rows, bare, same = asyncio.run(_copy_baselines(stack.database_url, project_id))
        print(f"{'baseline: raw binary COPY':<30} {rows:>9,} rows: {bare:>9,.0f} rows/s into a bare table (no indexes),"
              f" {same:>9,.0f} rows/s into events (its partitions and indexes)")
        best = max(batched, key=lambda p: p.events_per_s)
        print(f"# batched end-to-end (best: {best.label}) = {best.events_per_s:,.0f} events/s (target >= 50,000) = "
              f"{best.events_per_s / same:.0%} of raw COPY into events, {best.events_per_s / bare:.0%} of raw COPY "
              "into a bare table (target >= 40 %)")
        with_job, without_job = batched[0].events_per_s, without_rollups.events_per_s
        print(f"# cost of the rollup job on ingest: {with_job:,.0f} events/s with it, {without_job:,.0f} without "
              f"(with = {with_job / without_job:.0%} of without)")
        print(f"# rollup job during the phases after the one without it: {_rollup_runs(stack)}")
        print(f"# single-event requests/s = {single.req_per_s:,.0f} (target >= 5,000); "
              f"p99 ack at 1,000 req/s = {even.percentile(99):.1f} ms evenly spaced, from each request's due time "
              f"(target < 20 ms; {lat['p99_ms']:.1f} ms in hey's bursts of 20); the load generator itself wrote "
              f"1 % of its requests {even.percentile(99, even.late_ms):.1f} ms or more late, with {steal:.0%} of "
              "the machine's CPU time stolen by the hypervisor")
        _ack_modes_table(AckFigures(batched[0], single, even.percentile(99)), fast)
    finally:
        rds.close()
        stack.stop()


if __name__ == "__main__":
    main()
