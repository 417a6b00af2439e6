"""Deleting projects: the one transaction that ends them and asks for their data's deletion.

In the caller's transaction: the dedupe ledger lock is taken exclusively (`tme_ledger_lock()`,
migration 0008; every subscriber transaction that adds events takes it shared first), the project
rows are deleted, and a `delete_project` data job is queued for each (services/lifecycle/jobs.py),
which the tracking service's worker runs (services/lifecycle/deletion.py). Once this commits, no
subscriber transaction can store an event of these projects: the ones in flight committed before
the lock was granted (their rows are the job's to delete), and every later one finds the project
gone (its INSERT stores only events of existing projects, services/subscriber/writer.py). The write
key is gone with the row, so the key lookup (`/internal/write-keys/{key}`) no longer finds it.

The lock is held only for this short transaction: the deletion of the data itself runs in the
background, in small batches."""

from __future__ import annotations

import asyncpg
from sqlmodel.ext.asyncio.session import AsyncSession

from services.lifecycle.jobs import Job, create_job, get_job
from services.shared.db import session_connection

LEDGER_LOCK = "SELECT pg_advisory_xact_lock(tme_ledger_lock())"


async def _locked_connection(db: AsyncSession) -> asyncpg.Connection:
    """The session's asyncpg connection, in its transaction, holding the ledger lock."""
    conn = await session_connection(db)
    await conn.execute(LEDGER_LOCK)
    return conn


async def delete_projects(db: AsyncSession, owner_id: int, project_ids: list[int], *, requested_by: int,
                          client: str) -> list[Job]:
    """Delete these projects of `owner_id` and queue a deletion job for each; the jobs, by project
    id. A project that is not the owner's (or no longer exists) is left out. The caller commits."""
    return await _delete_projects(await _locked_connection(db), owner_id, project_ids, requested_by=requested_by,
                                  client=client)


async def delete_account(db: AsyncSession, user_id: int, *, client: str) -> list[Job]:
    """Delete every project of the user as delete_projects does, then the user (its logins and
    tokens go with it: ON DELETE CASCADE); the jobs. The caller commits. The projects are deleted
    here first, not left to the cascade from users, so that each gets its job."""
    conn = await _locked_connection(db)
    jobs = await _delete_projects(conn, user_id, None, requested_by=user_id, client=client)
    await conn.execute("DELETE FROM users WHERE id = $1", user_id)
    return jobs


async def _delete_projects(conn: asyncpg.Connection, owner_id: int, project_ids: list[int] | None, *,
                           requested_by: int, client: str) -> list[Job]:
    """The projects' rows (all of the owner's when `project_ids` is None) and a job for each."""
    if project_ids is None:
        rows = await conn.fetch("DELETE FROM projects WHERE owner_id = $1 RETURNING id, name", owner_id)
    else:
        rows = await conn.fetch("DELETE FROM projects WHERE owner_id = $1 AND id = ANY($2::bigint[]) "
                                "RETURNING id, name", owner_id, project_ids)
    jobs = []
    for row in sorted(rows, key=lambda r: int(r["id"])):
        project_id = int(row["id"])
        job_id = await create_job(conn, "delete_project", project_id, owner_id=owner_id, requested_by=requested_by,
                                  client=client, project_name=row["name"])
        job = await get_job(conn, job_id)
        assert job is not None
        jobs.append(job)
    return jobs
