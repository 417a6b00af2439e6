"""The ingest path: demo events POSTed to the gateway's Segment-compatible `/v1/batch` with the
project's write key (HTTP Basic, as Segment's libraries send it), a few requests in flight,
retrying what the gateway asks to retry (503/429 with Retry-After, connection errors)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
import orjson

from services.demo.progress import Progress

MAX_BODY = 400 * 1024  # under the gateway's 500 KB per request
MAX_EVENTS = 500
RETRIES = 8


class IngestError(Exception):
    pass


def requests(events: Iterable[dict[str, Any]]) -> Iterator[tuple[int, bytes]]:
    """(event count, JSON body) of `/v1/batch` requests of at most MAX_EVENTS events / MAX_BODY bytes."""
    parts: list[bytes] = []
    size = 0
    for event in events:
        part = orjson.dumps(event)
        if parts and (len(parts) >= MAX_EVENTS or size + len(part) > MAX_BODY):
            yield len(parts), b'{"batch":[' + b",".join(parts) + b"]}"
            parts, size = [], 0
        parts.append(part)
        size += len(part) + 1
    if parts:
        yield len(parts), b'{"batch":[' + b",".join(parts) + b"]}"


def auth_header(write_key: str) -> str:
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()


async def _post(http: httpx.AsyncClient, body: bytes, count: int) -> None:
    delay = 0.5
    for attempt in range(RETRIES):
        try:
            response = await http.post("/v1/batch", content=body)
        except httpx.TransportError as exc:
            if attempt == RETRIES - 1:
                raise IngestError(f"the gateway is unreachable: {exc}") from None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)
            continue
        if response.status_code == 200:
            rejected = response.json().get("rejected") or []
            if rejected:
                raise IngestError(f"the gateway rejected {len(rejected)} of {count} events: {rejected[0]}")
            return
        if response.status_code in (429, 502, 503, 504) and attempt < RETRIES - 1:
            retry_after = response.headers.get("retry-after", "")
            await asyncio.sleep(float(retry_after) if retry_after.isdigit() else delay)
            delay = min(delay * 2, 10)
            continue
        raise IngestError(f"the gateway answered {response.status_code}: {response.text[:300]}")


async def send(gateway_url: str, write_key: str, events: Iterable[dict[str, Any]], *, concurrency: int = 4,
               progress: Progress | None = None) -> int:
    """Send every event; returns how many were accepted."""
    headers = {"Authorization": auth_header(write_key), "Content-Type": "application/json",
               "User-Agent": "tme-demo"}
    sent = 0
    async with httpx.AsyncClient(base_url=gateway_url, headers=headers, timeout=60) as http:
        pending: set[asyncio.Task[None]] = set()

        async def one(count: int, body: bytes) -> None:
            nonlocal sent
            await _post(http, body, count)
            sent += count
            if progress is not None:
                progress.advance(count)

        try:
            for count, body in requests(events):
                if len(pending) >= concurrency:
                    done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        task.result()
                pending.add(asyncio.ensure_future(one(count, body)))
            if pending:
                done, _ = await asyncio.wait(pending)
                for task in done:
                    task.result()
                pending = set()
        finally:
            for task in pending:
                task.cancel()
    return sent
