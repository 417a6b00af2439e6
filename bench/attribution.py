"""What the database was doing while a benchmark measured ingest: pg_stat_activity sampled once a
second in a thread of its own (bench/lifecycle), so that a 5-second window in which ingest fell can
be put beside what ran then -- the erasure's step (services/lifecycle/erasure.py names its connection
`tme erasure: <step>`), autovacuum workers, a rollup run, a checkpoint writing."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from types import TracebackType

import asyncpg

from services.lifecycle.erasure import STEP_NAME
from services.tracking.rollups.job import LOCK_KEY

ERASURE_PREFIX = STEP_NAME.format("")
SAMPLE_SECONDS = 1.0

# one row a sample; the rollup run: a connection other than the erasure's holding the job's lock
# (an advisory lock on a bigint below 2^32 shows as classid 0, objid the key), not idle, with the
# seconds since its connection opened (the job opens one a run) and the head of its statement
_SAMPLE = f"""
SELECT clock_timestamp() AS at,
       (SELECT string_agg(substr(application_name, {len(ERASURE_PREFIX) + 1})
                          || CASE WHEN state = 'active' THEN '*' ELSE '' END, ',')
        FROM pg_stat_activity WHERE application_name LIKE '{ERASURE_PREFIX}%') AS erasure,
       (SELECT string_agg(regexp_replace(query, '^autovacuum: (VACUUM|ANALYZE|VACUUM ANALYZE) (public\\.)?',
                                         '\\1 '), ', ')
        FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' AND query <> '') AS autovacuum,
       (SELECT extract(epoch FROM clock_timestamp() - a.backend_start)::float8
                  || ' s: ' || left(regexp_replace(a.query, '\s+', ' ', 'g'), 60)
        FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.classid = 0 AND l.objid = {LOCK_KEY} AND l.granted
          AND a.state <> 'idle' AND a.application_name NOT LIKE '{ERASURE_PREFIX}%' LIMIT 1) AS rollup_run,
       EXISTS (SELECT 1 FROM pg_stat_activity
               WHERE backend_type = 'checkpointer' AND wait_event = 'CheckpointWriteDelay') AS checkpoint"""


@dataclass
class Sample:
    at: dt.datetime
    erasure: str | None  # the erasure's step, `*` when a statement of it was running
    autovacuum: str | None
    rollup_run: str | None  # "<seconds into the run> s: <statement>"
    checkpoint: bool


@dataclass
class Window:
    start: dt.datetime
    per_s: float  # C's events stored per second in it


class Sampler:
    """Samples from entering to leaving (`with Sampler(url) as s: ...; s.samples`)."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            while not self._stop.is_set():
                row = await conn.fetchrow(_SAMPLE)
                assert row is not None
                self.samples.append(Sample(row["at"], row["erasure"], row["autovacuum"], row["rollup_run"],
                                           row["checkpoint"]))
                await asyncio.sleep(SAMPLE_SECONDS)
        finally:
            await conn.close()

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()


def _within(samples: list[Sample], start: dt.datetime, seconds: int) -> list[Sample]:
    end = start + dt.timedelta(seconds=seconds)
    return [s for s in samples if start <= s.at < end]


def _step(sample: Sample) -> str:
    return (sample.erasure or "-").rstrip("*")


def _longest_run(seen: list[Sample]) -> str:
    """The sample furthest into a rollup run: how long it had run, and what it was running."""
    runs = [s.rollup_run for s in seen if s.rollup_run]
    if not runs:
        return ""
    seconds, _, statement = max(runs, key=lambda r: float(r.split(" s: ")[0])).partition(" s: ")
    return f" ({float(seconds):.0f} s in: {statement.strip()[:50]})"


def describe(samples: list[Sample], window: Window, seconds: int) -> str:
    """What the samples of one window saw: the erasure's steps (samples in each / with a statement
    running), autovacuum's tables, the seconds a rollup run and a checkpoint were going on."""
    seen = _within(samples, window.start, seconds)
    if not seen:
        return "no samples"
    steps: Counter[str] = Counter()
    running: Counter[str] = Counter()
    for s in seen:
        if s.erasure:
            steps[_step(s)] += 1
            running[_step(s)] += s.erasure.endswith("*")
    vacuumed = sorted({t for s in seen if s.autovacuum for t in s.autovacuum.split(", ")})
    parts = [f"erasure {', '.join(f'{k} {running[k]}/{n}' for k, n in steps.items())}" if steps else "no erasure",
             f"rollup run {sum(bool(s.rollup_run) for s in seen)}/{len(seen)}{_longest_run(seen)}",
             f"checkpoint {sum(s.checkpoint for s in seen)}/{len(seen)}",
             f"autovacuum {'; '.join(vacuumed)}" if vacuumed else "no autovacuum"]
    return " | ".join(parts)


def overall(samples: list[Sample], windows: list[Window], seconds: int) -> str:
    """Over a phase's windows: the share of samples that saw a rollup run (and the longest run
    seen), autovacuum, a checkpoint writing, the erasure's statement running."""
    if not windows:
        return "no windows"
    seen = _within(samples, windows[0].start, seconds * len(windows))
    if not seen:
        return "no samples"
    runs = [float(s.rollup_run.split(" s: ")[0]) for s in seen if s.rollup_run]
    share = {"rollup run": len(runs), "autovacuum": sum(bool(s.autovacuum) for s in seen),
             "checkpoint": sum(s.checkpoint for s in seen),
             "erasure running": sum(bool(s.erasure and s.erasure.endswith("*")) for s in seen)}
    return (", ".join(f"{k} {n / len(seen):.0%}" for k, n in share.items())
            + (f"; longest rollup run seen {max(runs):.0f} s" if runs else "") + f" ({len(seen)} samples)")


def step_summary(samples: list[Sample], windows: list[Window], seconds: int, base: float) -> list[str]:
    """Per erasure step (the one most samples of a window saw), and for windows with and without
    autovacuum: the windows, C's mean and lowest share of its rate alone, and the seconds sampled."""
    by_step: dict[str, list[float]] = defaultdict(list)
    by_vacuum: dict[str, list[float]] = defaultdict(list)
    for w in windows:
        seen = _within(samples, w.start, seconds)
        step = Counter(_step(s) for s in seen).most_common(1)[0][0] if seen else "-"
        by_step[step].append(w.per_s / base)
        by_vacuum["autovacuum" if any(s.autovacuum for s in seen) else "no autovacuum"].append(w.per_s / base)
    lines = []
    for label, groups in (("erasure step", by_step), ("", by_vacuum)):
        for key, shares in groups.items():
            if label and key == "-" and len(groups) == 1:
                continue  # no erasure in this phase
            name = f"{label} {key}".strip()
            lines.append(f"{name:<28} {len(shares):>4} windows: mean {sum(shares) / len(shares):.0%}, "
                         f"lowest {min(shares):.0%}")
    return lines
