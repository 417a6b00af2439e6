"""Benchmark `bench/queries`: dashboard questions at scale, rollups vs the naive raw SQL.

    python -m bench.queries [--events 10000000] [--days 90] [--runs 20] [--naive-runs 3]
    python -m bench.queries --smoke          # ~50k events, under a minute

Runs a private stack (embedded PostgreSQL + Redis, the four services), fills one project with
the demo generator's bulk path (`tme demo --via bulk`: sessions, pages, referrers, UTMs,
browsers, a partially converting funnel, returning visitors), VACUUM ANALYZEs, waits until the
rollup job has caught up, then measures p50/p95 of the dashboard's questions (summary,
timeseries by day and by hour, top pages, top sources, browsers, sending libraries, screen
classes) over the last 7, 30 and 90 days through the gateway with a real token (what a user
sees), and the mean database time per request from the tracking service's own histogram; then
funnels (3 steps) and retention (12 weeks; its first question registers the weekly cohort
matrix, and the runs are timed once the job has computed it). The naive baseline is a second
tracking instance with rollups disabled (TME_ROLLUPS_ENABLED=false): the straightforward SQL
over the raw event table, asked directly; for the funnel, which no rollup serves, it is the same
question as one plain SQL statement (NAIVE_FUNNEL_SQL, on its own connection with the server's
default settings, as the service's).
Prints figures and ratios; asserts nothing."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from bench.common import machine_summary, register, start_stack
from services.devstack import DevStack
from services.shared.embedded import free_port
from services.shared.internal_auth import internal_headers

RANGES = (7, 30, 90)
ROLLUP_TABLES = ("rollup_hours", "rollup_dim_hours", "rollup_dim_days", "rollup_sessions", "rollup_session_hours",
                 "rollup_visitor_hours", "rollup_retention", "rollup_bot_hours")
SIZES_SQL = ("SELECT concat_ws(', ', 'events ' || pg_size_pretty((SELECT sum(pg_total_relation_size(inhrelid)) "
             "FROM pg_inherits WHERE inhparent = 'events'::regclass)), "
             + ", ".join(f"'{t} ' || pg_size_pretty(pg_total_relation_size('{t}'))" for t in ROLLUP_TABLES) + ")")
FUNNEL = ["Viewed Pricing", "Started Signup", "Signed Up"]
# The funnel's naive baseline: the same question as the straightforward SQL (the tracking service
# has no rollup for funnels, so a second instance would answer it the same way). Visitors through
# their aliases as the service counts them; a visitor reaches step k+1 when, after reaching step k
# from some step-1 event, a step k+1 event follows within the window of that step-1 event (the
# earliest next step is the one to take). Same-instant events are not ordered by step here.
NAIVE_FUNNEL_SQL = """
WITH ev AS MATERIALIZED (
    SELECT coalesce(a.visitor_id, e.visitor_id) AS vid, e.event_name AS name, e.event_time AS t
    FROM events e LEFT JOIN person_aliases a ON a.project_id = e.project_id AND a.alias_id = e.visitor_id
    WHERE e.project_id = $1 AND e.event_time >= $2 AND e.event_time < $3 AND e.event_name = ANY($4::text[])
      AND e.visitor_id IS NOT NULL
), s1 AS (
    SELECT vid, t AS t1 FROM ev WHERE name = $4[1]
), s2 AS (
    SELECT s1.vid, s1.t1, min(e.t) AS t2 FROM s1 JOIN ev e ON e.vid = s1.vid AND e.name = $4[2]
    WHERE e.t > s1.t1 AND e.t <= s1.t1 + $5::interval GROUP BY s1.vid, s1.t1
), s3 AS (
    SELECT DISTINCT s2.vid FROM s2 JOIN ev e ON e.vid = s2.vid AND e.name = $4[3]
    WHERE e.t > s2.t2 AND e.t <= s2.t1 + $5::interval
)
SELECT ARRAY[(SELECT count(DISTINCT vid) FROM s1), (SELECT count(DISTINCT vid) FROM s2), (SELECT count(*) FROM s3)]
"""


@dataclass(frozen=True)
class Question:
    name: str
    section: str
    params: dict[str, str]


def dashboard_questions(days: int, today: dt.date) -> list[Question]:
    """The dashboard's questions over the last `days` days (hourly series only up to 30 days: 90
    days of hours is more than the 2,000 buckets a series may have)."""
    rng = {"from": (today - dt.timedelta(days=days - 1)).isoformat(), "to": today.isoformat(), "tz": "UTC"}
    hourly = [Question("timeseries/hour", "stats/timeseries", {**rng, "metric": "visitors", "interval": "hour"})]
    return [
        Question("summary", "stats/summary", rng),
        Question("timeseries/day", "stats/timeseries", {**rng, "metric": "visitors", "interval": "day"}),
        *(hourly if days <= 30 else []),
        Question("top pages", "stats/breakdown", {**rng, "by": "page", "limit": "10"}),
        Question("top sources", "stats/breakdown", {**rng, "by": "source", "limit": "10"}),
        Question("browsers", "stats/breakdown", {**rng, "by": "browser", "limit": "10"}),
        Question("sent by", "stats/breakdown", {**rng, "by": "library", "limit": "10"}),
        Question("screens", "stats/breakdown", {**rng, "by": "screen", "limit": "10"}),
    ]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _db_seconds(tracking_url: str) -> dict[str, tuple[float, float]]:
    """{endpoint: (sum, count)} of tme_analytics_query_duration_seconds."""
    text = httpx.get(f"{tracking_url}/metrics", timeout=30).text
    out: dict[str, list[float]] = {}
    for kind, endpoint, value in re.findall(
            r'tme_analytics_query_duration_seconds_(sum|count)\{endpoint="([^"]+)"\} (\S+)', text):
        out.setdefault(endpoint, [0.0, 0.0])[0 if kind == "sum" else 1] = float(value)
    return {k: (v[0], v[1]) for k, v in out.items()}


def measure(http: httpx.Client, method: str, url: str, runs: int, headers: dict[str, str],
            params: dict[str, str] | None = None, body: Any = None) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = http.request(method, url, params=params, json=body, headers=headers)
        times.append(time.perf_counter() - start)
        if response.status_code != 200:
            raise SystemExit(f"{method} {url} {params}: {response.status_code} {response.text[:300]}")
    return times


def _timed_db(tracking_url: str, endpoint: str, action: Any) -> tuple[Any, float]:
    before = _db_seconds(tracking_url).get(endpoint, (0.0, 0.0))
    result = action()
    after = _db_seconds(tracking_url).get(endpoint, (0.0, 0.0))
    count = after[1] - before[1]
    return result, (after[0] - before[0]) / count if count else float("nan")


async def _sql(url: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def _naive_funnel(url: str, project_id: int, today: dt.date, runs: int) -> tuple[list[float], list[int]]:
    """Seconds of each run of NAIVE_FUNNEL_SQL over the funnel question's 30 days, and its answer."""
    start = dt.datetime.combine(today - dt.timedelta(days=29), dt.time(), dt.UTC)
    end = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), dt.UTC)
    conn = await asyncpg.connect(url)
    try:
        seconds, users = [], []
        for _ in range(runs):
            began = time.perf_counter()
            users = await conn.fetchval(NAIVE_FUNNEL_SQL, project_id, start, end, FUNNEL, dt.timedelta(days=1))
            seconds.append(time.perf_counter() - began)
        return seconds, list(users)
    finally:
        await conn.close()


def load(stack: DevStack, project_id: int, events: int, days: int, seed: int) -> float:
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "services.cli", "demo", "--events", str(events), "--days", str(days),
                    "--via", "bulk", "--project-id", str(project_id), "--database-url", stack.database_url,
                    "--seed", str(seed), "--quiet"], check=True, env=stack.base_env(), stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def _wait(stack: DevStack, sql: str, *args: Any, timeout: float, what: str) -> float:
    """Seconds until `sql` returns a true value (polled every second)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if asyncio.run(_sql(stack.database_url, sql, *args)):
            return time.monotonic() - start
        time.sleep(1)
    raise SystemExit(f"{what} within {timeout:.0f} s")


def wait_for_rollups(stack: DevStack, since: dt.datetime, timeout: float) -> float:
    """Seconds until a rollup run that started after `since` has finished."""
    return _wait(stack, "SELECT watermark > $1 FROM rollup_state WHERE id = 1", since, timeout=timeout,
                 what="rollups did not catch up")


def wait_for_matrix(stack: DevStack, project_id: int, timeout: float) -> float:
    """Seconds until the project's weekly UTC cohort matrix has been computed by the rollup job."""
    return _wait(stack, "SELECT ready FROM rollup_retention_zones WHERE project_id = $1 AND tz = 'UTC' "
                 "AND period = 'week'", project_id, timeout=timeout, what="the cohort matrix was not computed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=20, help="runs per question (rollups)")
    parser.add_argument("--naive-runs", type=int, default=3, help="runs per question (naive baseline)")
    parser.add_argument("--slow-runs", type=int, default=5, help="runs of the funnel and the retention question")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="~50k events, a quick check that everything runs")
    args = parser.parse_args()
    env = {"TME_ROLLUP_INTERVAL_SECONDS": "2", "TME_QUERY_TIMEOUT_SECONDS": "600",
           "TME_UPSTREAM_TIMEOUT_SECONDS": "600"}
    if args.smoke:  # rollups answer even at this size (by default ranges under 10k events are raw)
        args.events, args.runs, args.naive_runs, args.slow_runs = 50_000, 5, 2, 3
        env["TME_ROLLUP_MIN_EVENTS"] = "0"

    print(f"# machine: {machine_summary()}")
    stack = start_stack(env)
    try:
        run(stack, args)
    finally:
        stack.stop()


def run(stack: DevStack, args: argparse.Namespace) -> None:
    account = register(stack.gateway_url)
    project_id, token = int(account["project"]["id"]), account["accessToken"]
    seconds = load(stack, project_id, args.events, args.days, args.seed)
    print(f"# loaded {args.events:,} events over {args.days} days with `tme demo --via bulk` in {seconds:.0f} s "
          f"({args.events / seconds:,.0f} events/s)")
    loaded_at = dt.datetime.now(dt.UTC)
    start = time.monotonic()
    asyncio.run(_sql(stack.database_url, "VACUUM (ANALYZE) events"))
    print(f"# VACUUM ANALYZE events: {time.monotonic() - start:.0f} s")
    caught_up = wait_for_rollups(stack, loaded_at, timeout=3600)
    print(f"# rollups caught up {caught_up:.0f} s after the load (first run builds everything)")
    sizes = asyncio.run(_sql(stack.database_url, SIZES_SQL))
    print(f"# sizes: {sizes}")

    naive = stack.start_service("tracking", key="tracking-naive", port=free_port(),
                                env={"TME_ROLLUPS_ENABLED": "false", "TME_ROLLUP_INTERVAL_SECONDS": "0",
                                     "TME_QUERY_TIMEOUT_SECONDS": "600"})
    tracking_url = stack.services["tracking"].url
    today = dt.datetime.now(dt.UTC).date()
    gateway_headers = {"Authorization": f"Bearer {token}"}
    direct_headers = {"X-TME-Project-Id": str(project_id), **internal_headers(stack.internal_token)}
    base = f"/api/projects/{project_id}/"
    rows = []
    with httpx.Client(base_url=stack.gateway_url, timeout=600) as gw, httpx.Client(base_url=naive.url,
                                                                                   timeout=600) as raw:
        for days in RANGES:
            for q in dashboard_questions(days, today):
                endpoint = q.section.split("/")[-1]
                measure(gw, "GET", base + q.section, 2, gateway_headers, q.params)  # warm up
                fast, db_mean = _timed_db(tracking_url, endpoint, lambda q=q: measure(
                    gw, "GET", base + q.section, args.runs, gateway_headers, q.params))
                slow, _naive_db = _timed_db(naive.url, endpoint, lambda q=q: measure(
                    raw, "GET", base + q.section, args.naive_runs, direct_headers, q.params))
                rows.append((f"{q.name} {days}d", fast, db_mean, slow))
                print(f"  {q.name} {days}d: p50 {_pct(fast, .5) * 1000:.1f} ms, p95 {_pct(fast, .95) * 1000:.1f} ms;"
                      f" naive p50 {_pct(slow, .5) * 1000:.0f} ms", flush=True)
        funnel = {"steps": [{"event": e} for e in FUNNEL], "windowSeconds": 86_400,
                  "from": (today - dt.timedelta(days=29)).isoformat(), "to": today.isoformat()}
        measure(gw, "POST", base + "funnels", 1, gateway_headers, body=funnel)
        fast, db_mean = _timed_db(tracking_url, "funnels", lambda: measure(
            gw, "POST", base + "funnels", args.slow_runs, gateway_headers, body=funnel))
        answer = gw.post(base + "funnels", json=funnel, headers=gateway_headers).json()
        slow, naive_users = asyncio.run(_naive_funnel(stack.database_url, project_id, today, args.naive_runs))
        print(f"# funnel users per step: tracking {[s['users'] for s in answer['steps']]}, "
              f"naive SQL {naive_users}", flush=True)
        rows.append(("funnel 3 steps 30d", fast, db_mean, slow))
        retention = {"period": "week", "periods": "12"}
        asked = dt.datetime.now(dt.UTC)
        measure(gw, "GET", base + "retention", 1, gateway_headers, retention)  # registers the cohort matrix
        ready = wait_for_matrix(stack, project_id, timeout=3600)
        print(f"# the weekly cohort matrix was ready {ready:.0f} s after the first retention question "
              f"(asked at {asked:%H:%M:%S}; answered from raw events)")
        fast, db_mean = _timed_db(tracking_url, "retention", lambda: measure(
            gw, "GET", base + "retention", args.slow_runs, gateway_headers, retention))
        slow = measure(raw, "GET", base + "retention", args.naive_runs, direct_headers, retention)
        rows.append(("retention 12 weeks", fast, db_mean, slow))

    print()
    print(f"{args.events:,} events over {args.days} days, one project; {args.runs} runs per dashboard question "
          f"(naive: {args.naive_runs}; funnel, retention: {args.slow_runs})")
    print("| question | p50 ms | p95 ms | db mean ms | naive p50 ms | naive/p50 | p95 < 150 ms |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, fast, db_mean, slow in rows:
        p50, p95 = _pct(fast, .5) * 1000, _pct(fast, .95) * 1000
        target = 1000 if name.startswith(("funnel", "retention")) else 150
        naive_cell = f"{statistics.median(slow) * 1000:.0f}" if slow else "-"
        ratio = f"{statistics.median(slow) * 1000 / p50:.0f}x" if slow else "-"
        met = "yes" if p95 < target else "NO"
        print(f"| {name} | {p50:.1f} | {p95:.1f} | {db_mean * 1000:.1f} | {naive_cell} | {ratio} | "
              f"{met if target == 150 else f'< 1 s: {met}'} |")


if __name__ == "__main__":
    main()
