"""Background loops: every job that runs beside a service for its whole life (the metrics flush,
the dependency monitor, the rollup job, the token clean-up, the gateway's invalidation listener,
the subscriber's consumer) starts and stops as a `BackgroundLoop`, entered into the lifespan's
exit stack (services/shared/app.py).

A loop calls its step again and again, pausing `interval` seconds between steps (or as long as
the step returns), and:
- outlives a step that raises: the error is logged (one warning line for the `expected` kinds,
  such as an unreachable Redis; the traceback for anything else), counted in
  `tme_background_loop_failures_total{service, loop}`, and the next step comes after a back-off
  that doubles with each failure in a row, from `backoff` up to `backoff_max` seconds (never
  sooner than `interval`);
- can be woken: `wake()` ends the current pause at once (a step asked for meanwhile runs as
  soon as the one in progress ends);
- stops when its context exits: a pause ends at once; a step in progress is told (`on_stop`,
  for steps that run long, like the consumer) and gets `grace` seconds to finish before it is
  cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType

from prometheus_client import Counter

log = logging.getLogger("tme.background")

Step = Callable[[], Awaitable[float | None]]

LOOP_FAILURES = Counter(
    "tme_background_loop_failures_total", "Steps of a background loop that raised (the loop goes on after a back-off)",
    ["service", "loop"],
)


class BackgroundLoop:
    def __init__(self, service: str, name: str, step: Step, *, interval: float, first_pause: float = 0.0,
                 grace: float = 0.0, on_stop: Callable[[], None] | None = None, backoff: float = 1.0,
                 backoff_max: float = 60.0, expected: tuple[type[Exception], ...] = ()) -> None:
        self.service = service
        self.name = name
        self._step = step
        self.interval = interval
        self.first_pause = first_pause
        self.grace = grace
        self._on_stop = on_stop
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.expected = expected
        self._failures_total = LOOP_FAILURES.labels(service, name)
        self._wake = asyncio.Event()
        self._stopping = False
        self._failures = 0  # failed steps in a row: the back-off grows with them
        self.failing = False  # the last step raised; the loop waits out its back-off
        self._task: asyncio.Task[None] | None = None

    @property
    def alive(self) -> bool:
        """Started and not stopped (it may be waiting out a back-off)."""
        return self._task is not None and not self._task.done()

    @property
    def running(self) -> bool:
        """Alive, and not waiting out a back-off after a failed step."""
        return self.alive and not self.failing

    def wake(self) -> None:
        """End the current pause: the next step starts now (or right after the one in progress)."""
        self._wake.set()

    async def __aenter__(self) -> BackgroundLoop:
        self._task = asyncio.create_task(self._run(), name=f"tme-{self.service}-{self.name}")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        task = self._task
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        if self._on_stop is not None:
            self._on_stop()
        if self.grace > 0 and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), self.grace)
            except TimeoutError:
                log.warning("%s did not stop within %.0f s; cancelled", self.name, self.grace,
                            extra={"loop": self.name})
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        pause = self.first_pause
        while True:
            await self._pause(pause)
            if self._stopping:
                return
            self.failing = False
            try:
                asked = await self._step()
            except Exception as exc:  # the loop outlives its steps; the next one retries
                pause = self._failed(exc)
                continue
            self._failures = 0
            pause = self.interval if asked is None else asked

    async def _pause(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)  # a step that never waits must not starve the event loop
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    def _failed(self, exc: Exception) -> float:
        self._failures += 1
        self.failing = True
        self._failures_total.inc()
        delay = max(self.interval, min(self.backoff_max, self.backoff * 2.0 ** min(self._failures - 1, 30)))
        if isinstance(exc, self.expected):
            log.warning("%s failed (%s: %s); next attempt in %.1f s", self.name, type(exc).__name__,
                        str(exc)[:200], delay, extra={"loop": self.name})
        else:
            log.exception("%s failed; next attempt in %.1f s", self.name, delay, extra={"loop": self.name})
        return delay
