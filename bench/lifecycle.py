"""Benchmark `bench/lifecycle`: deleting a large project and erasing one person, beside ingest.

    python -m bench.lifecycle [--events 10000000] [--deleted 1000000] [--days 90]
    python -m bench.lifecycle --smoke      # 60k events, a few minutes

Runs a private stack, fills project A with `--events` minus `--deleted` events and project B with
`--deleted` events (`tme demo --via bulk`), waits until the rollup job has caught up, then sends
batched events to a third project C with wrk for three phases:
1. alone (the baseline, measured in this run);
2. while B is deleted (`DELETE /api/projects/{B}`, a data job: until its record says done);
3. while the person of A with the most events is erased (a Segment-shaped regulation, until done).
For each phase it prints the events/s C's requests were acknowledged at and the events/s stored
for C (from the rows' `created_at`, in 5-second windows: the mean and the lowest window), the data
job's time and rows, and the machine's load averages at the phase's start and end. The target: no
5-second window of C's stored rate below half the baseline's mean.

To tell what a dip came from, pg_stat_activity is sampled every second throughout (attribution.py):
the erasure's step (the application_name of its connection, `*` when its statement was running),
autovacuum workers and their tables, a rollup run holding the job's lock, a checkpoint writing. For
the phases after the baseline it prints, per 5-second window below ATTRIBUTED_BELOW of the baseline
(and the lowest window of each), what was going on, and per erasure step how C fared while it ran.
Prints figures and ratios; asserts nothing."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from bench.attribution import Sampler, Window, describe, overall, step_summary
from bench.common import machine_summary, register, require_tool, start_stack
from bench.ingest import _event, _wrk
from bench.queries import load, wait_for_rollups
from services.devstack import DevStack

WINDOW_SECONDS = 5
ATTRIBUTED_BELOW = 0.7  # windows of C's stored rate below this share of its rate alone are explained


@dataclass
class Phase:
    label: str
    acked_per_s: float
    stored_per_s: float
    lowest_window_per_s: float
    seconds: float
    job: str = ""
    windows: list[Window] | None = None
    load: str = ""  # load averages (1, 5, 15 min) at the start and the end


async def _sql(url: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


def _stored_windows(stack: DevStack, project_id: int, since: dt.datetime,
                    until: dt.datetime) -> list[tuple[dt.datetime, int]]:
    """Events of the project stored in each full 5-second window between `since` and `until` (by
    the window's start)."""
    rows = asyncio.run(_sql(
        stack.database_url,
        f"""SELECT w, count(e.created_at) AS n
            FROM generate_series($2::timestamptz, $3::timestamptz - interval '{WINDOW_SECONDS} s',
                                 interval '{WINDOW_SECONDS} s') w
            LEFT JOIN events e ON e.project_id = $1 AND e.created_at >= w
                               AND e.created_at < w + interval '{WINDOW_SECONDS} s'
            GROUP BY w ORDER BY w""", project_id, since, until))
    return [(r["w"], int(r["n"])) for r in rows]


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _phase(stack: DevStack, project_id: int, label: str, body: str, connections: int, seconds: int | None,
           job: Any = None) -> Phase:
    """wrk against the gateway for `seconds`, or for as long as `job()` (run in a thread) takes."""
    url = f"{stack.gateway_url}/api/track"
    load_before = _load()
    began = dt.datetime.now(dt.UTC)
    outcome: dict[str, Any] = {}
    if job is None:
        result = _wrk(url, body, seconds or 20, connections)
    else:
        done = threading.Event()

        def run_job() -> None:
            time.sleep(3)  # ingest first reaches its pace
            outcome["report"] = job()
            done.set()

        thread = threading.Thread(target=run_job)
        thread.start()
        results = []
        while not done.is_set():  # wrk in 10 s slices until the job is over
            results.append(_wrk(url, body, 10, connections))
        thread.join()
        result = results[0]
        result.requests = sum(r.requests for r in results)
        result.non2xx = sum(r.non2xx for r in results)
        result.seconds = sum(r.seconds for r in results)
    ended = dt.datetime.now(dt.UTC)
    time.sleep(3)  # the last acknowledged events are stored
    load_after = _load()
    stored = _stored_windows(stack, project_id, began + dt.timedelta(seconds=1), ended - dt.timedelta(seconds=1))
    counts = [n for _, n in stored]
    per_request = body.count('"eventName"')
    return Phase(label, result.ok * per_request / result.seconds,
                 sum(counts) / (len(counts) * WINDOW_SECONDS) if counts else 0.0,
                 min(counts) / WINDOW_SECONDS if counts else 0.0, (ended - began).total_seconds(),
                 outcome.get("report", ""),
                 [Window(start, n / WINDOW_SECONDS) for start, n in stored], f"{load_before} -> {load_after}")


def _wait_job(http: httpx.Client, headers: dict[str, str], job_id: str, started: float) -> str:
    while True:
        job = http.get(f"/api/data-jobs/{job_id}", headers=headers).raise_for_status().json()
        if job["status"] in ("done", "failed"):
            rows = sum(int(v) for v in job["rowsDeleted"].values())
            return f"{job['status']} in {time.monotonic() - started:.1f} s, {rows:,} rows deleted"
        time.sleep(0.5)


def run(stack: DevStack, args: argparse.Namespace) -> None:
    account = register(stack.gateway_url)
    token = account["accessToken"]
    headers = {"Authorization": f"Bearer {token}"}
    http = httpx.Client(base_url=stack.gateway_url, timeout=600)
    a = int(account["project"]["id"])
    b = int(http.post("/api/projects", json={"name": "Deleted"}, headers=headers).raise_for_status().json()["id"])
    c_project = http.post("/api/projects", json={"name": "Ingesting"}, headers=headers).raise_for_status().json()
    c = int(c_project["id"])
    seconds = load(stack, a, args.events - args.deleted, args.days, 7) + load(stack, b, args.deleted, args.days, 8)
    print(f"# loaded {args.events - args.deleted:,} events into A and {args.deleted:,} into B in {seconds:.0f} s")
    loaded_at = dt.datetime.now(dt.UTC)
    asyncio.run(_sql(stack.database_url, "VACUUM (ANALYZE) events"))
    print(f"# rollups caught up {wait_for_rollups(stack, loaded_at, timeout=3600):.0f} s after the load")
    person = asyncio.run(_sql(stack.database_url,
                              "SELECT user_id, count(*) AS n FROM events WHERE project_id = $1 AND user_id IS NOT NULL "
                              "GROUP BY 1 ORDER BY 2 DESC LIMIT 1", a))[0]
    print(f"# person to erase: {person['n']:,} events in A")

    body = json.dumps({"apiKey": c_project["writeKey"], "batch": [_event(i) for i in range(20)]})
    _wrk(f"{stack.gateway_url}/api/track", body, 2, 4)  # warm-up

    def delete_b() -> str:
        started = time.monotonic()
        job = http.delete(f"/api/projects/{b}", headers=headers).raise_for_status().json()
        return _wait_job(http, headers, str(job["id"]), started)

    def erase() -> str:
        started = time.monotonic()
        answer = http.post(f"/api/projects/{a}/regulations", headers=headers, json={
            "regulationType": "DELETE_ONLY", "subjectType": "USER_ID", "subjectIds": [person["user_id"]],
        }).raise_for_status().json()
        return _wait_job(http, headers, answer["data"]["regulateId"], started)

    with Sampler(stack.database_url) as sampler:
        phases = [
            _phase(stack, c, "ingest alone", body, args.connections, args.seconds),
            _phase(stack, c, f"while deleting B ({args.deleted:,} events)", body, args.connections, None, delete_b),
            _phase(stack, c, f"while erasing a person ({person['n']:,} events)", body, args.connections, None, erase),
            _phase(stack, c, "ingest alone, after", body, args.connections, args.seconds)]
    base = phases[0].stored_per_s
    for p in phases:
        print(f"{p.label:<44} acked {p.acked_per_s:>9,.0f} ev/s  stored {p.stored_per_s:>9,.0f} ev/s "
              f"(lowest {WINDOW_SECONDS} s window {p.lowest_window_per_s:>9,.0f} ev/s = "
              f"{p.lowest_window_per_s / base:.0%} of alone)  over {p.seconds:.0f} s; load {p.load}"
              + (f"; job {p.job}" if p.job else ""))
    for p in phases:
        print(f"# {p.label}: {overall(sampler.samples, p.windows or [], WINDOW_SECONDS)}")
    for p in phases[1:]:
        windows = p.windows or []
        print(f"# {p.label}: windows below {ATTRIBUTED_BELOW:.0%} of alone, and the lowest")
        lowest_window = min(windows, key=lambda w: w.per_s, default=None)
        for w in windows:
            if w.per_s < ATTRIBUTED_BELOW * base or w is lowest_window:
                print(f"  {w.start:%H:%M:%S} {w.per_s / base:>5.0%}  {describe(sampler.samples, w, WINDOW_SECONDS)}")
        for line in step_summary(sampler.samples, windows, WINDOW_SECONDS, base):
            print(f"  {line}")
    lowest = min(p.lowest_window_per_s for p in phases[1:3])
    print(f"# lowest 5 s window of C's stored rate during the jobs: {lowest / base:.0%} of its rate alone "
          "(target >= 50 %)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--deleted", type=int, default=1_000_000, help="events of the project that is deleted")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seconds", type=int, default=30, help="length of the phases without a job")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--smoke", action="store_true", help="60k events: checks the benchmark in a few minutes")
    args = parser.parse_args()
    if args.smoke:
        args.events, args.deleted, args.seconds = 60_000, 20_000, 10
    require_tool("wrk")
    print(f"# machine: {machine_summary()}")
    stack = start_stack({"TME_ROLLUP_INTERVAL_SECONDS": "2", "TME_UPSTREAM_TIMEOUT_SECONDS": "600"})
    try:
        run(stack, args)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
