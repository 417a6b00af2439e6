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
from services.shared.audit import Actor, AuditAction, record
from services.shared.db import session_connection

LEDGER_LOCK = "SELECT pg_advisory_xact_lock(tme_ledger_lock())"
DELETED_ACCOUNT = "deleted account"  # the actor's name in audit logs once its account is deleted


async def _locked_connection(db: AsyncSession) -> asyncpg.Connection:
    """The session's asyncpg connection, in its transaction, holding the ledger lock."""
    conn = await session_connection(db)
    await conn.execute(LEDGER_LOCK)
    return conn


async def delete_projects(db: AsyncSession, project_ids: list[int], *, requested_by: int | None,
                          client: str) -> list[Job]:
    """Delete these projects and queue a deletion job for each; the jobs, by project id. A project
    that no longer exists is left out. The caller checked the caller's role, and commits."""
    conn = await _locked_connection(db)
    rows = await conn.fetch("DELETE FROM projects WHERE id = ANY($1::bigint[]) RETURNING id, name, team_id, created_by",
                            project_ids)
    return await _jobs(conn, rows, requested_by=requested_by, client=client)


async def delete_team(db: AsyncSession, team_id: int, *, requested_by: int | None, client: str) -> list[Job]:
    """Delete the team's projects as delete_projects does, then the team (its members, invitations,
    keys, share links and audit log go with it: ON DELETE CASCADE); the jobs. The caller commits."""
    conn = await _locked_connection(db)
    rows = await conn.fetch("DELETE FROM projects WHERE team_id = $1 RETURNING id, name, team_id, created_by",
                            team_id)
    jobs = await _jobs(conn, rows, requested_by=requested_by, client=client)
    await conn.execute("DELETE FROM teams WHERE id = $1", team_id)
    return jobs


class LastOwner(Exception):
    """The account is the last owner of a team that has other members: ownership must be
    transferred (or the team deleted) first."""

    def __init__(self, team_name: str) -> None:
        super().__init__(team_name)
        self.team_name = team_name


async def delete_account(db: AsyncSession, user_id: int, *, client: str) -> list[Job]:
    """Delete the account: every team where it is the only member goes with its projects (as
    delete_team does); from the other teams it is removed (LastOwner if it is the last owner of one
    of them); then the user row (its logins, tokens, memberships and guest access go with it: ON
    DELETE CASCADE). The jobs; the caller commits."""
    conn = await _locked_connection(db)
    teams = await conn.fetch(
        """SELECT t.id, t.name,
                  (SELECT count(*) FROM team_members o WHERE o.team_id = t.id AND o.user_id <> $1) AS others,
                  (SELECT count(*) FROM team_members o WHERE o.team_id = t.id AND o.user_id <> $1
                                                         AND o.role = 'owner') AS other_owners,
                  m.role
           FROM teams t JOIN team_members m ON m.team_id = t.id AND m.user_id = $1
           ORDER BY t.id FOR UPDATE OF t""", user_id)
    for team in teams:
        if team["others"] and team["role"] == "owner" and not team["other_owners"]:
            raise LastOwner(team["name"])
    jobs: list[Job] = []
    for team in teams:
        if not team["others"]:
            rows = await conn.fetch("DELETE FROM projects WHERE team_id = $1 RETURNING id, name, team_id, created_by",
                                    team["id"])
            jobs += await _jobs(conn, rows, requested_by=user_id, client=client)
            await conn.execute("DELETE FROM teams WHERE id = $1", team["id"])
        else:
            await record(conn, team["id"], AuditAction.MEMBER_LEFT, Actor(user_id, DELETED_ACCOUNT, None),
                         target=f"user:{user_id}", details={"role": team["role"], "accountDeleted": True})
    await _forget_in_audit_logs(conn, user_id)
    await conn.execute("DELETE FROM users WHERE id = $1", user_id)
    return jobs


async def _forget_in_audit_logs(conn: asyncpg.Connection, user_id: int) -> None:
    """The other teams' logs keep what the account did and what was done to it, but no longer its
    email: as who acted, and in the details of its invitation and joining."""
    email = await conn.fetchval("SELECT email FROM users WHERE id = $1", user_id)
    await conn.execute("UPDATE audit_events SET actor_name = $2 WHERE actor_user_id = $1 AND actor_key_id IS NULL",
                       user_id, DELETED_ACCOUNT)
    await conn.execute(
        """UPDATE audit_events SET details = details - 'email'
           WHERE details ? 'email' AND (target = 'user:' || $1::bigint OR lower(details->>'email') = lower($2))""",
        user_id, email)


async def _jobs(conn: asyncpg.Connection, rows: list[asyncpg.Record], *, requested_by: int | None,
                client: str) -> list[Job]:
    """A deletion job for each deleted project row, by project id."""
    jobs = []
    for row in sorted(rows, key=lambda r: int(r["id"])):
        job_id = await create_job(conn, "delete_project", int(row["id"]), owner_id=row["created_by"],
                                  requested_by=requested_by, client=client, project_name=row["name"],
                                  team_id=row["team_id"])
        job = await get_job(conn, job_id)
        assert job is not None
        jobs.append(job)
    return jobs
