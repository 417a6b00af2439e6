"""A small progress bar on stderr (redrawn in place on a terminal, a line per 10% otherwise)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Progress:
    def __init__(self, total: int, label: str, *, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total = max(total, 0)
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty()
        self.done = 0
        self.started = time.monotonic()
        self._drawn_at = 0.0
        self._decile = -1

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def advance(self, count: int) -> None:
        self.done += count
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty:
            if now - self._drawn_at >= 0.2 or self.done >= self.total:
                self._drawn_at = now
                self.stream.write("\r" + self.line())
                self.stream.flush()
        else:
            decile = 10 * self.done // self.total if self.total else 10
            if decile != self._decile:
                self._decile = decile
                self.stream.write(self.line() + "\n")
                self.stream.flush()

    def line(self) -> str:
        fraction = self.done / self.total if self.total else 1.0
        filled = int(30 * fraction)
        rate = self.rate
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        return (f"{self.label} [{'#' * filled}{'.' * (30 - filled)}] {fraction:4.0%} {self.done:,}/{self.total:,} "
                f"events  {rate:,.0f}/s  ETA {_duration(eta)}   ")

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()
