"""The `data_jobs` table (migration 0012_data_lifecycle): asking for a job, claiming one, and
recording what it deleted. Used by the users service (which asks for deletions and erasures and
shows their status) and by the runner in the tracking service (which does them).

A job is claimed with FOR UPDATE SKIP LOCKED, so any number of tracking replicas share the
queue and each job has one worker at a time. A running job whose worker stopped beating
(`heartbeat_at` older than STALE_AFTER) is claimed again: every executor is idempotent, it
deletes what is still there. Row counts add up across attempts."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

JobKind = Literal["delete_project", "erase_person", "retention"]
JobStatus = Literal["queued", "running", "done", "failed"]
SubjectType = Literal["USER_ID", "ANONYMOUS_ID"]

# a connection of its own or one lent by a pool
Conn = asyncpg.Connection | PoolConnectionProxy

STALE_AFTER = dt.timedelta(minutes=2)  # a running job not heard from this long is taken over
MAX_ATTEMPTS = 5  # a job that failed this often stays failed (its error says why)


def subject_digest(subject_id: str) -> str:
    """What the audit record keeps of an erased id: its SHA-256, hex."""
    return hashlib.sha256(subject_id.encode()).hexdigest()


@dataclass
class Job:
    id: int
    kind: JobKind
    project_id: int
    owner_id: int | None
    requested_by: int | None
    client: str | None
    subject_type: SubjectType | None
    subject_ids: list[str]
    status: JobStatus
    rows_deleted: dict[str, int]
    error: str | None
    attempts: int
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    subject_digests: list[str] = field(default_factory=list)
    project_name: str | None = None
    team_id: int | None = None

    @classmethod
    def from_record(cls, r: asyncpg.Record) -> Job:
        rows = r["rows_deleted"]
        return cls(id=r["id"], kind=r["kind"], project_id=r["project_id"], owner_id=r["owner_id"],
                   requested_by=r["requested_by"], client=r["client"], subject_type=r["subject_type"],
                   subject_ids=list(r["subject_ids"] or []), status=r["status"],
                   rows_deleted=orjson.loads(rows) if isinstance(rows, str | bytes) else dict(rows or {}),
                   error=r["error"], attempts=r["attempts"], created_at=r["created_at"],
                   started_at=r["started_at"], finished_at=r["finished_at"],
                   subject_digests=list(r["subject_digests"] or []), project_name=r["project_name"],
                   team_id=r["team_id"])


async def create_job(conn: Conn, kind: JobKind, project_id: int, *, requested_by: int | None, client: str | None,
                     owner_id: int | None = None, subject_type: SubjectType | None = None,
                     subject_ids: list[str] | None = None, status: JobStatus = "queued",
                     rows_deleted: dict[str, int] | None = None, project_name: str | None = None,
                     team_id: int | None = None) -> int:
    """Insert a job (in the caller's transaction, so it exists exactly when what asked for it
    committed) and return its id. The record keeps the project's name and team (`project_name`,
    `team_id`, else those the project has now), so it still says which project it was once the
    project is gone, and the team's admins still see it. `owner_id`: the project's creator."""
    ids = list(dict.fromkeys(subject_ids or []))
    job_id = await conn.fetchval(
        """INSERT INTO data_jobs (kind, project_id, owner_id, requested_by, client, subject_type, subject_ids,
                                  subject_digests, status, rows_deleted, finished_at, project_name, team_id)
           VALUES ($1, $2, coalesce($3::bigint, (SELECT created_by FROM projects WHERE id = $2)), $4, $5, $6, $7,
                   $8, $9, $10::text::jsonb, CASE WHEN $9 = 'done' THEN now() END,
                   coalesce($11::text, (SELECT name FROM projects WHERE id = $2)),
                   coalesce($12::bigint, (SELECT team_id FROM projects WHERE id = $2)))
           RETURNING id""",
        kind, project_id, owner_id, requested_by, client, subject_type, ids or None,
        [subject_digest(i) for i in ids] or None, status, orjson.dumps(rows_deleted or {}).decode(), project_name,
        team_id)
    return int(job_id)


async def claim_job(conn: Conn) -> Job | None:
    """The oldest queued job (or a running one whose worker went silent), now running here."""
    record = await conn.fetchrow(
        """UPDATE data_jobs SET status = 'running', attempts = attempts + 1,
                  started_at = coalesce(started_at, now()), heartbeat_at = now()
           WHERE id = (SELECT id FROM data_jobs
                       WHERE status = 'queued' OR (status = 'running' AND heartbeat_at < now() - $1::interval)
                       ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
           RETURNING *""", STALE_AFTER)
    return None if record is None else Job.from_record(record)


async def add_deleted(conn: Conn, job_id: int, counts: dict[str, int]) -> None:
    """Add row counts to the job's record (and beat its heartbeat). JSON goes in as text cast to jsonb
    here and in create_job: a pool's jsonb codec (services/shared/db.py) would encode a str again."""
    await conn.execute(
        """UPDATE data_jobs SET heartbeat_at = now(),
                  rows_deleted = (SELECT coalesce(jsonb_object_agg(k, v), '{}'::jsonb) FROM (
                      SELECT k, sum(v)::bigint AS v FROM (
                          SELECT key AS k, value::bigint AS v FROM jsonb_each_text(rows_deleted)
                          UNION ALL SELECT key, value::bigint FROM jsonb_each_text($2::text::jsonb)) s
                      GROUP BY k) t)
           WHERE id = $1""", job_id, orjson.dumps({k: v for k, v in counts.items() if v}).decode())


async def heartbeat(conn: Conn, job_id: int) -> None:
    await conn.execute("UPDATE data_jobs SET heartbeat_at = now() WHERE id = $1", job_id)


async def finish_job(conn: Conn, job_id: int) -> None:
    """Done: the subject ids are forgotten, their digests stay."""
    await conn.execute("""UPDATE data_jobs SET status = 'done', finished_at = now(), heartbeat_at = now(),
                                  subject_ids = NULL, error = NULL WHERE id = $1""", job_id)


async def fail_job(conn: Conn, job: Job, error: str) -> None:
    """Record a failed attempt: queued again for another try, or failed for good after
    MAX_ATTEMPTS (the subject ids are then forgotten too: nobody will use them)."""
    final = job.attempts >= MAX_ATTEMPTS
    await conn.execute(
        """UPDATE data_jobs SET status = $2, error = $3, heartbeat_at = now(),
                  finished_at = CASE WHEN $2 = 'failed' THEN now() END,
                  subject_ids = CASE WHEN $2 = 'failed' THEN NULL ELSE subject_ids END
           WHERE id = $1""", job.id, "failed" if final else "queued", error[:500])


async def get_job(conn: Conn, job_id: int) -> Job | None:
    record = await conn.fetchrow("SELECT * FROM data_jobs WHERE id = $1", job_id)
    return None if record is None else Job.from_record(record)


async def list_jobs(conn: Conn, requested_by: int | None, team_ids: list[int], limit: int) -> list[Job]:
    """The jobs of these teams and those `requested_by` asked for, newest first."""
    records = await conn.fetch(
        """SELECT * FROM (
               SELECT * FROM data_jobs WHERE team_id = ANY($2::bigint[])
               UNION SELECT * FROM data_jobs WHERE requested_by = $1) j
           ORDER BY id DESC LIMIT $3""", requested_by, team_ids, limit)
    return [Job.from_record(r) for r in records]


def as_json(job: Job) -> dict[str, Any]:
    """For logs."""
    return {"job_id": job.id, "kind": job.kind, "project_id": job.project_id, "status": job.status}
