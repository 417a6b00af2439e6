"""Benchmark `bench/ingest`: end-to-end ingest rate, from HTTP request to committed row.

    python -m bench.ingest [--seconds 15] [--connections 32]

Runs a private stack (embedded PostgreSQL + Redis, the four services), then measures:
  1. batched: 100 events per request (wrk), 1 subscriber and 2 subscribers;
  2. single: one event per request (wrk);
  3. acknowledgement latency p50/p99 at a fixed 1,000 req/s (hey);
and, in the same run against the same PostgreSQL, the baseline: a raw binary COPY of the very
rows the pipeline wrote into an identical table. Prints figures and ratios; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg

from bench.common import machine_summary, register, require_tool, start_stack
from services.devstack import DevStack
from services.shared.embedded import free_port


def _event(i: int) -> dict:
    return {"eventName": "Bench Event" if i % 3 else "PAGE_VIEW", "sessionId": f"s{i % 50}",
            "userId": f"u{i % 500}", "page": f"https://shop.example.com/p/{i % 40}?utm_source=bench",
            "referrer": "https://www.google.com/", "context": {"plan": "pro", "n": i}}


def _lua(body: str, path: Path) -> Path:
    path.write_text("wrk.method = 'POST'\nwrk.headers['Content-Type'] = 'application/json'\n"
                    f"wrk.body = {json.dumps(body)}\n")
    return path


def _wrk(url: str, script: Path, seconds: int, connections: int) -> dict:
    out = subprocess.run([require_tool("wrk"), "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-s", str(script), url], capture_output=True, text=True, check=True).stdout
    reqs = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    bad = int(non2xx.group(1)) if non2xx else 0
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    return {"requests": reqs, "non2xx": bad, "p50": lat.get("50"), "p99": lat.get("99")}


async def _count(url: str, project_id: int) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM events WHERE project_id = $1", project_id))
    finally:
        await conn.close()


def _wait_rows(stack: DevStack, project_id: int, expected: int, timeout: float = 300) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if asyncio.run(_count(stack.database_url, project_id)) >= expected:
            return time.monotonic()
        time.sleep(0.2)
    raise SystemExit(f"only {asyncio.run(_count(stack.database_url, project_id))} of {expected} rows arrived")


def _end_to_end(stack: DevStack, project: dict, body: str, per_request: int, seconds: int,
                connections: int, label: str) -> dict:
    before = asyncio.run(_count(stack.database_url, project["id"]))
    with tempfile.TemporaryDirectory() as tmp:
        script = _lua(body, Path(tmp) / "post.lua")
        start = time.monotonic()
        res = _wrk(f"{stack.gateway_url}/api/track", script, seconds, connections)
    accepted = (res["requests"] - res["non2xx"]) * per_request
    end = _wait_rows(stack, project["id"], before + accepted)
    rate = accepted / (end - start)
    print(f"{label:<34} {accepted:>9} events  {rate:>10,.0f} events/s end-to-end  "
          f"{(res['requests'] - res['non2xx']) / seconds:>8,.0f} req/s  ack p50 {res['p50']}  p99 {res['p99']}"
          f"  non-2xx {res['non2xx']}")
    return {"label": label, "events": accepted, "events_per_s": rate, **res}


async def _copy_baseline(url: str, project_id: int) -> tuple[int, float]:
    conn = await asyncpg.connect(url)
    try:
        buf = io.BytesIO()
        await conn.copy_from_query("SELECT * FROM events WHERE project_id = $1", project_id,
                                   output=buf, format="binary")
        rows = int(await conn.fetchval("SELECT count(*) FROM events WHERE project_id = $1", project_id))
        await conn.execute("DROP TABLE IF EXISTS bench_copy; CREATE TABLE bench_copy (LIKE events)")
        buf.seek(0)
        start = time.perf_counter()
        await conn.copy_to_table("bench_copy", source=buf, format="binary")
        elapsed = time.perf_counter() - start
        await conn.execute("DROP TABLE bench_copy")
        return rows, rows / elapsed
    finally:
        await conn.close()


def _fixed_rate_latency(stack: DevStack, body: str, rate: int, seconds: int) -> dict:
    workers = 20
    out = subprocess.run([require_tool("hey"), "-z", f"{seconds}s", "-c", str(workers), "-q", str(rate // workers),
                          "-m", "POST", "-T", "application/json", "-d", body, f"{stack.gateway_url}/api/track"],
                         capture_output=True, text=True, check=True).stdout
    pct = dict(re.findall(r"(50|99)%% in ([\d.]+) secs".replace("%%", "%"), out))
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    codes = re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)
    return {"p50_ms": float(pct.get("50", "nan")) * 1000, "p99_ms": float(pct.get("99", "nan")) * 1000,
            "rps": float(rps.group(1)) if rps else 0.0, "codes": dict(codes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    print(f"# machine: {machine_summary()}")
    stack = start_stack()
    try:
        account = register(stack.gateway_url)
        project, key = account["project"], account["project"]["writeKey"]
        batch_body = json.dumps({"apiKey": key, "batch": [_event(i) for i in range(100)]})
        single_body = json.dumps({"apiKey": key, **_event(7)})

        results = [_end_to_end(stack, project, batch_body, 100, args.seconds, args.connections,
                               "batched x100, 1 subscriber")]
        stack.start_service("subscriber", key="subscriber-2", port=free_port())
        results.append(_end_to_end(stack, project, batch_body, 100, args.seconds, args.connections,
                                   "batched x100, 2 subscribers"))
        results.append(_end_to_end(stack, project, single_body, 1, args.seconds, args.connections,
                                   "single, 1 subscriber"))
        lat = _fixed_rate_latency(stack, single_body, 1000, 10)
        print(f"{'ack latency at 1,000 req/s':<34} p50 {lat['p50_ms']:.1f} ms  p99 {lat['p99_ms']:.1f} ms  "
              f"({lat['rps']:.0f} req/s achieved, status {lat['codes']})")
        rows, copy_rate = asyncio.run(_copy_baseline(stack.database_url, project["id"]))
        print(f"{'baseline: raw binary COPY':<34} {rows:>9} rows    {copy_rate:>10,.0f} rows/s")
        best_batched = max(r["events_per_s"] for r in results if "batched" in r["label"])
        print(f"# batched end-to-end / raw COPY = {best_batched / copy_rate:.0%}  (target >= 40%, >= 50,000 events/s)")
        single = next(r for r in results if r["label"].startswith("single"))
        print(f"# single-event requests/s = {(single['requests'] - single['non2xx']) / args.seconds:,.0f} "
              "(target >= 5,000)")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
