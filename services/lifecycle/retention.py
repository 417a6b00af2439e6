"""Retention per project: a project with `retention_days` (migration 0012; NULL keeps everything)
keeps its events from midnight UTC that many days ago (its cutoff: whole UTC days, so the daily
rollups are trimmed exactly); one run deletes what is older, for every such project:

1. whole monthly partitions of `events` that hold nothing but expired rows are detached and
   dropped (partitions.py);
2. each project's other events before its cutoff, its rollups and matrices' state before it and
   the people with nothing left are deleted in bounded batches (trim.py);
3. each project that lost rows gets a `retention` record in `data_jobs` (done, with its row
   counts per table, client 'retention'): the audit trail of what retention removed and when.

A run holds a PostgreSQL advisory lock: two runs never overlap (the CronJob's next run, or the
in-process loop of another replica, finds it taken and returns). It is idempotent: a run that
stopped half-way leaves only older rows than the next run deletes.

Scheduled by the Helm chart as a CronJob (`tme retention`, daily by default), or in-process by
the tracking service every `TME_RETENTION_INTERVAL_SECONDS` (what `tme dev` does)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import asyncpg

from services.lifecycle import jobs, partitions
from services.lifecycle.trim import Trim, trim_project
from services.shared.background import BackgroundLoop
from services.shared.db import locked_connection
from services.tracking.settings import TrackingSettings

log = logging.getLogger("tme.lifecycle.retention")

LOCK_KEY = 7_245_012  # pg advisory lock: one retention run at a time
CLIENT = "retention"  # data_jobs.client of the records a run leaves


@dataclass(frozen=True)
class Policy:
    project_id: int
    created_by: int | None
    days: int
    cutoff: dt.datetime  # rows before this go


@dataclass
class Report:
    """What one run deleted."""

    policies: list[Policy] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)  # partition -> rows it held
    deleted: dict[int, dict[str, int]] = field(default_factory=dict)  # project -> table -> rows, if any
    batches: dict[int, int] = field(default_factory=dict)  # project -> delete batches that removed rows
    records: dict[int, int] = field(default_factory=dict)  # project -> its data_jobs record

    def lines(self) -> list[str]:
        """For a person at a terminal (`tme retention`)."""
        cutoffs = {p.project_id: p.cutoff for p in self.policies}
        out = [f"retention: {len(self.policies)} project(s) with a retention"]
        out += [f"dropped partition {name} ({rows} events)" for name, rows in self.dropped.items()]
        for project_id, rows in sorted(self.deleted.items()):
            before = f" before {cutoffs[project_id]:%Y-%m-%d}" if project_id in cutoffs else ""
            counts = ", ".join(f"{n} {table}" for table, n in sorted(rows.items()))
            out.append(f"project {project_id}{before}: deleted {counts} (data job {self.records[project_id]})")
        if not self.deleted:
            out.append("nothing older than a cutoff to delete")
        return out


async def policies(conn: asyncpg.Connection, now: dt.datetime | None = None) -> list[Policy]:
    """Every project with a retention and its cutoff: midnight UTC of `now` (the database's clock
    unless given) minus its days."""
    rows = await conn.fetch(
        """SELECT id, created_by, retention_days,
                  (date_trunc('day', coalesce($1::timestamptz, now()) AT TIME ZONE 'UTC')
                   - make_interval(days => retention_days)) AT TIME ZONE 'UTC' AS cutoff
           FROM projects WHERE retention_days IS NOT NULL ORDER BY id""", now)
    return [Policy(r["id"], r["created_by"], r["retention_days"], r["cutoff"]) for r in rows]


async def _drop_partitions(conn: asyncpg.Connection, cutoffs: dict[int, dt.datetime], report: Report) -> dict[int, int]:
    """Retire and drop the partitions holding only expired rows; the events each project lost."""
    latest = max(cutoffs.values(), default=None)
    for partition in await partitions.event_partitions(conn):
        if partition.upper is None or latest is None or partition.upper > latest:
            continue
        present = await partitions.projects_in(conn, partition.name)
        if present and partitions.all_expired(present, partition.upper, cutoffs):
            await partitions.retire(conn, partition, cutoffs)
    lost: dict[int, int] = {}
    for table in await partitions.retired_tables(conn):
        counts = await partitions.drop_retired(conn, table)
        report.dropped[table.removesuffix(partitions.RETIRED_SUFFIX)] = sum(counts.values())
        for project_id, rows in counts.items():
            lost[project_id] = lost.get(project_id, 0) + rows
    if report.dropped:
        log.info("retention dropped partitions", extra={"partitions": report.dropped})
    return lost


async def _record(conn: asyncpg.Connection, report: Report, project_id: int, owner_id: int | None,
                  rows: dict[str, int]) -> None:
    report.deleted[project_id] = rows
    report.records[project_id] = await jobs.create_job(
        conn, "retention", project_id, owner_id=owner_id, requested_by=None, client=CLIENT, status="done",
        rows_deleted=rows)
    log.info("retention deleted", extra={"project_id": project_id, "rows_deleted": rows})


async def run(conn: asyncpg.Connection, *, batch_rows: int, batch_pause: float,
              now: dt.datetime | None = None) -> Report:
    """One run on `conn`, which holds the run's lock, as of `now` (the database's clock unless given)."""
    report = Report(policies=await policies(conn, now))
    lost = await _drop_partitions(conn, {p.project_id: p.cutoff for p in report.policies}, report)
    for policy in report.policies:
        trim = Trim(policy.project_id, policy.cutoff, batch_rows, batch_pause)
        trim.add("events", lost.pop(policy.project_id, 0))
        await trim_project(conn, trim)
        report.batches[policy.project_id] = trim.batches
        if trim.rows:
            await _record(conn, report, policy.project_id, policy.created_by, trim.rows)
    for project_id, rows in lost.items():  # a retired table left by a stopped run, of a project now without retention
        await _record(conn, report, project_id, None, {"events": rows})
    return report


async def run_once(database_url: str, *, batch_rows: int, batch_pause: float, wait: bool = False,
                   now: dt.datetime | None = None) -> Report | None:
    """One run under the advisory lock on a connection of its own; None when another run holds
    the lock (or, with `wait`, after waiting for it to end first)."""
    async with locked_connection(database_url, LOCK_KEY, wait=wait) as conn:
        return None if conn is None else await run(conn, batch_rows=batch_rows, batch_pause=batch_pause, now=now)


def retention_loop(settings: TrackingSettings) -> BackgroundLoop:
    """The run as a background loop of the tracking service, every `retention_interval_seconds`
    (the first one interval after start: a restart does not run it again)."""
    interval = settings.retention_interval_seconds

    async def step() -> None:
        report = await run_once(settings.database_url, batch_rows=settings.delete_batch_rows,
                                batch_pause=settings.delete_batch_pause_seconds)
        if report is None:
            log.info("retention run skipped: another run holds the lock")

    return BackgroundLoop(settings.service_name, "retention", step, interval=interval, first_pause=interval,
                          grace=5.0)
