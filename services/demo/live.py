"""`tme demo --live`: a gentle, endless trickle of demo traffic through the real ingest path, so
the realtime view has visitors. Every window of a few minutes gets its own seeded plan whose
events are sent when their time comes (about `rate` events per second)."""

from __future__ import annotations

import asyncio
import random
import time

from services.demo.generator import Generator, Plan
from services.demo.ingest import IngestError, send

WINDOW_S = 300


async def trickle(gateway_url: str, write_key: str, *, rate: float, seed: int, windows: int | None = None) -> None:
    rng = random.Random(seed)
    done = 0
    while windows is None or done < windows:
        start = int(time.time() * 1000)
        plan = Plan(max(1, int(rate * WINDOW_S)), WINDOW_S / 86400, rng.getrandbits(48), start + WINDOW_S * 1000)
        events = sorted((e for chunk in Generator(plan).chunks() for e in chunk), key=lambda e: e["timestamp"])
        i = 0
        while i < len(events):
            now = int(time.time() * 1000)
            j = i
            while j < len(events) and events[j]["timestamp"] <= now:
                j += 1
            if j > i:
                try:
                    await send(gateway_url, write_key, events[i:j], concurrency=1)
                except IngestError:
                    pass  # the stack is restarting or stopping: the next second tries again
                i = j
            await asyncio.sleep(1)
        done += 1
