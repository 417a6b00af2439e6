"""`tme demo --live`: an endless trickle of demo traffic through the real ingest path, so the
realtime view moves, at the demo history's own volume and daily shape: each window of
WINDOW_S gets as many events as the history (`history_events` over `history_days`, ending now)
has in an hour like it (hour of the day, weekday, growth), so today's figures go on as the
history's last days did instead of jumping. The count is rounded at random (a quiet night
hour may send nothing), and each window's seeded plan is sent as its events' times come.
`rate` (events per second) overrides the volume, for load tests."""

from __future__ import annotations

import asyncio
import random
import time

from services.demo.generator import HOUR_MS, Generator, Plan, hour_weights
from services.demo.ingest import IngestError, send

WINDOW_S = 1800  # long enough that most windows hold whole sessions, short enough to follow the hour


def history_events_between(history_events: int, history_days: float, start_ms: int, seconds: float,
                           seed: int = 0) -> float:
    """The events a history of `history_events` over `history_days` ending at `start_ms` has per
    hour at its end (its newest, whole hour), times `seconds` / 3600: what the trickle sends."""
    plan = Plan(history_events, history_days, seed, start_ms + HOUR_MS)
    weights = hour_weights(plan)
    return history_events * weights[-1] / sum(weights) * seconds / 3600


def window_events(rng: random.Random, expected: float) -> int:
    """`expected` rounded up or down at random, so that the mean stays `expected`."""
    whole = int(expected)
    return whole + (rng.random() < expected - whole)


async def trickle(gateway_url: str, write_key: str, *, seed: int, history_events: int, history_days: float,
                  rate: float | None = None, windows: int | None = None) -> None:
    rng = random.Random(seed)
    done = 0
    while windows is None or done < windows:
        start = int(time.time() * 1000)
        expected = rate * WINDOW_S if rate is not None else history_events_between(
            history_events, history_days, start, WINDOW_S)
        count = window_events(rng, expected)
        plan = Plan(count, WINDOW_S / 86400, rng.getrandbits(48), start + WINDOW_S * 1000)
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
        # the window's volume is for the whole window: the next one starts at its end, not earlier
        await asyncio.sleep(max(0.0, (start + WINDOW_S * 1000 - time.time() * 1000) / 1000))
        done += 1
