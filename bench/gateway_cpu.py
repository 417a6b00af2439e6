"""Benchmark `bench/gateway_cpu`: Python CPU time of one single-event ingest request in the gateway.

    python -m bench.gateway_cpu [--requests 800] [--concurrency 32]

Builds the gateway app (create_app) against an embedded Redis, with multi-process metrics on as
in production (2 workers), a write key already in its cache, and drives single-event requests
(the bench/ingest body) straight through the ASGI app (the same middleware, router, ingest
endpoint and Redis pipeline; no HTTP server and no sockets to the client) from `--concurrency`
concurrent loops. Prints CPU microseconds per request (time.process_time, so the Redis server's
work is not counted) and, as the baseline measured in the same run, the same loop driving a
bare ASGI app that answers 200: what the driver itself costs. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="tme-bench-metrics-"))

from bench.ingest import REQUEST_TOKEN, _event
from services.shared.embedded import EmbeddedRedis, free_port

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]
KEY = "wk_bench_gateway_cpu"
AGENT = b"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"


def _scope(body: bytes) -> dict[str, Any]:
    headers = [(b"host", b"localhost"), (b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode()), (b"user-agent", AGENT)]
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": "/api/track", "raw_path": b"/api/track", "query_string": b"",
            "root_path": "", "headers": headers, "client": ("127.0.0.1", 5555), "server": ("127.0.0.1", 8000)}


async def _drive(app: App, body: bytes, requests: int, concurrency: int) -> tuple[float, set[int]]:
    statuses: set[int] = set()
    scope = _scope(body)

    async def one() -> None:
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(3600)
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.add(message["status"])

        await app(dict(scope), receive, send)

    async def loop(n: int) -> None:
        for _ in range(n):
            await one()

    await asyncio.gather(*(loop(max(1, requests // 10)) for _ in range(concurrency)))  # warm-up
    start = time.process_time()
    await asyncio.gather(*(loop(requests) for _ in range(concurrency)))
    return (time.process_time() - start) / (requests * concurrency) * 1e6, statuses


async def _bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"success":true}'})


async def _measure(redis_url: str, requests: int, concurrency: int) -> None:
    os.environ.update(TME_REDIS_URL=redis_url, TME_USERS_URL="http://127.0.0.1:1",
                      TME_TRACKING_URL="http://127.0.0.1:1", TME_LOG_LEVEL="WARNING")
    os.environ.setdefault("TME_INTERNAL_TOKEN", "bench")  # no upstream is called: the key is cached
    from services.gateway.app import create_app
    from services.gateway.ingest.state import ingest_state
    from services.gateway.ingest.writekeys import Project

    app = create_app()
    body = json.dumps({"apiKey": KEY, **_event(7)}).replace(REQUEST_TOKEN, "1").encode()
    async with app.router.lifespan_context(app):
        ingest_state(app).keys._cache[KEY] = (time.monotonic() + 1e9, Project(1, 1))
        gateway, statuses = await _drive(app, body, requests, concurrency)
    bare, _ = await _drive(_bare, body, requests, concurrency)
    print(f"gateway ingest path: {gateway:6.1f} us CPU per single-event request (statuses {sorted(statuses)})")
    print(f"bare ASGI app:       {bare:6.1f} us CPU per request (the driver's own cost)")
    print(f"# the gateway's Python per request, driver excluded: {gateway - bare:.1f} us "
          f"(= {1e6 / (gateway - bare):,.0f} requests/s of one core)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=800, help="requests per concurrent loop")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    redis = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="tme-bench-redis-")), free_port())
    url = redis.start()
    try:
        asyncio.run(_measure(url, args.requests, args.concurrency))
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
