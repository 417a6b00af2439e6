"""Open-loop HTTP load at a constant rate, latency counted from each request's scheduled time.

This is the method of wrk2: request i is due at start + i / rate whatever happened to the
requests before it, and its latency runs from that moment to the last byte of its response, so
a stall in the server shows up in the latency of every request due during it (no coordinated
omission). Requests go out over a pool of keep-alive HTTP/1.1 connections, one request at a time
each: a due request takes an idle connection, or opens a new one up to `max_connections`, or
waits for the first one to free up (and that wait counts).

`hey -c 20 -q 50`, which bench/ingest ran before, is closed-loop and its 20 workers tick in
step: its 1,000 req/s arrive as a burst of 20 requests every 20 ms, so its latencies measure how
fast the gateway drains a burst of 20 more than the wait of a request at 1,000 req/s.

Run alone: `python -m bench.loadgen URL BODY_FILE --rate 1000 --seconds 15`."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httptools

clock = time.perf_counter  # uvloop's loop.time() counts whole milliseconds


@dataclass
class LoadResult:
    seconds: float
    latencies_ms: list[float]  # from the moment each request was due
    service_ms: list[float] = field(default_factory=list)  # from the moment it was written
    late_ms: list[float] = field(default_factory=list)  # how late the generator wrote it
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0

    def percentile(self, p: float, of: list[float] | None = None) -> float:
        values = self.latencies_ms if of is None else of
        if not values:
            return float("nan")
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items()))
        p = self.percentile
        return (f"{self.rate:,.0f} req/s  p50 {p(50):.1f}  p90 {p(90):.1f}  p99 {p(99):.1f}  p99.9 {p(99.9):.1f}  "
                f"max {max(self.latencies_ms, default=0):.1f} ms (from written: p50 {p(50, self.service_ms):.1f}, "
                f"p99 {p(99, self.service_ms):.1f}; written late by p99 {p(99, self.late_ms):.1f} ms)  [{codes}]"
                + (f"  errors {self.errors}" if self.errors else ""))


class _Connection(asyncio.Protocol):
    """One keep-alive connection; `send` resolves with the status of the response."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[int] | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio's classes

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(self.parser.get_status_code())
        self.waiter = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))

    def send(self, request: bytes) -> asyncio.Future[int]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.waiter


def request_bytes(url: str, body: bytes, content_type: str = "application/json") -> bytes:
    parts = urlsplit(url)
    head = (f"POST {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1\r\n"
            f"Host: {parts.netloc}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            "User-Agent: tme-loadgen\r\n\r\n")
    return head.encode() + body


async def run_load(url: str, body: bytes, rate: float, seconds: float, max_connections: int = 64) -> LoadResult:
    """Send `rate` POSTs of `body` per second for `seconds`, evenly spaced."""
    loop = asyncio.get_running_loop()
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = request_bytes(url, body)
    idle: deque[_Connection] = deque()
    opened = 0
    freed = asyncio.Condition()
    result = LoadResult(seconds=seconds, latencies_ms=[])
    in_flight: set[asyncio.Task[None]] = set()

    async def connection() -> _Connection:
        nonlocal opened
        while True:
            while idle:
                conn = idle.popleft()
                if not conn.lost:
                    return conn
                opened -= 1
            if opened < max_connections:
                opened += 1
                _, conn = await loop.create_connection(_Connection, host, port)
                return conn
            async with freed:
                await freed.wait()

    async def one(due: float) -> None:
        nonlocal opened
        conn: _Connection | None = None
        try:
            conn = await connection()
            written = clock()
            status = await conn.send(request)
            done = clock()
            result.latencies_ms.append((done - due) * 1000)
            result.service_ms.append((done - written) * 1000)
            result.late_ms.append((written - due) * 1000)
            result.statuses[status] += 1
        except (ConnectionError, OSError):
            result.errors += 1
            if conn is not None:
                conn.lost = True
        finally:
            if conn is not None:
                if conn.lost:
                    opened -= 1
                else:
                    idle.append(conn)
            async with freed:
                freed.notify()

    start = clock()
    total = int(rate * seconds)
    for i in range(total):
        due = start + i / rate
        delay = due - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.ensure_future(one(due))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(in_flight, timeout=30)
    for conn in idle:
        if conn.transport is not None:
            conn.transport.close()
    result.seconds = clock() - start
    return result


def measure(url: str, body: bytes, rate: float, seconds: float) -> LoadResult:
    """run_load in a fresh event loop (uvloop when installed, as the gateway runs)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return asyncio.run(run_load(url, body, rate, seconds))
    return uvloop.run(run_load(url, body, rate, seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("body_file", help="file holding the request body (JSON)")
    parser.add_argument("--rate", type=float, default=1000.0, help="requests per second (default 1000)")
    parser.add_argument("--seconds", type=float, default=15.0, help="how long (default 15)")
    args = parser.parse_args()
    with open(args.body_file, "rb") as f:
        body = f.read()
    started = time.perf_counter()
    print(measure(args.url, body, args.rate, args.seconds).summary(), f"(ran {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
