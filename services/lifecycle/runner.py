"""The worker that does the data jobs (jobs.py), as a background loop in the tracking service:
claim the oldest job, run its kind's executor, record the outcome, and look again at once while
jobs wait (else after `data_jobs_interval_seconds`).

Executors delete in bounded batches, each its own short transaction, with a pause between
batches (`delete_batch_pause_seconds`), so a large deletion never holds a transaction or a lock
for long and ingest of other projects goes on beside it. Each batch adds its row counts to the
job's record, which also beats the job's heartbeat."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
import redis.asyncio as aioredis

from services.lifecycle import jobs
from services.lifecycle.jobs import Conn, Job, JobKind
from services.shared.background import BackgroundLoop
from services.tracking.rollups.job import LOCK_KEY as ROLLUP_LOCK

log = logging.getLogger("tme.lifecycle")

ROLLUP_LOCK_RETRY_SECONDS = 0.5  # while a rollup run holds its lock, look again this often


@dataclass
class JobContext:
    """What an executor gets: the job, a pool to take short-lived connections from, the batch
    limits, and Redis when the service has TME_REDIS_URL (a deletion removes dead letters and
    shared write keys there)."""

    pool: asyncpg.Pool
    job: Job
    batch_rows: int
    batch_pause: float
    redis: aioredis.Redis | None = None

    async def record(self, counts: dict[str, int]) -> None:
        """Add deleted row counts to the job's record."""
        if any(counts.values()):
            async with self.pool.acquire() as conn:
                await jobs.add_deleted(conn, self.job.id, counts)

    @asynccontextmanager
    async def rollup_lock(self, conn: Conn) -> AsyncIterator[None]:
        """The rollup job's advisory lock, held on `conn` for the block, so no rollup run
        interleaves with it: waited for while a run holds it, the job's heartbeat beating."""
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", ROLLUP_LOCK):
            await self.pause()
            await asyncio.sleep(ROLLUP_LOCK_RETRY_SECONDS)
        try:
            yield
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", ROLLUP_LOCK)

    async def pause(self) -> None:
        """Between batches: leave the database to others for a moment, and beat the heartbeat."""
        async with self.pool.acquire() as conn:
            await jobs.heartbeat(conn, self.job.id)
        if self.batch_pause > 0:
            await asyncio.sleep(self.batch_pause)


Executor = Callable[[JobContext], Awaitable[None]]


def executors() -> dict[JobKind, Executor]:
    from services.lifecycle.deletion import delete_project
    from services.lifecycle.erasure import erase_person

    return {"delete_project": delete_project, "erase_person": erase_person}


async def run_next(pool: asyncpg.Pool, batch_rows: int, batch_pause: float,
                   redis: aioredis.Redis | None = None) -> Job | None:
    """Claim and run one job; None when none waits."""
    async with pool.acquire() as conn:
        job = await jobs.claim_job(conn)
    if job is None:
        return None
    executor = executors().get(job.kind)
    log.info("data job started", extra=jobs.as_json(job))
    try:
        if executor is None:
            raise RuntimeError(f"no executor for {job.kind} jobs")
        await executor(JobContext(pool=pool, job=job, batch_rows=batch_rows, batch_pause=batch_pause, redis=redis))
    except asyncio.CancelledError:
        raise  # shutting down: the job stays running, and is taken over once its heartbeat is stale
    except Exception as exc:
        log.exception("data job failed", extra=jobs.as_json(job))
        async with pool.acquire() as conn:
            await jobs.fail_job(conn, job, f"{type(exc).__name__}: {exc}")
        return job
    async with pool.acquire() as conn:
        await jobs.finish_job(conn, job.id)
    log.info("data job done", extra=jobs.as_json(job))
    return job


def data_jobs_loop(service: str, pool: asyncpg.Pool, *, interval: float, batch_rows: int,
                   batch_pause: float, redis: aioredis.Redis | None = None) -> BackgroundLoop:
    async def step() -> float:
        return 0.0 if await run_next(pool, batch_rows, batch_pause, redis) is not None else interval

    return BackgroundLoop(service, "data-jobs", step, interval=interval, grace=5.0)
