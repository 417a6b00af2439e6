"""Data jobs (services/lifecycle/jobs.py): deletions of projects, erasures and retention runs,
newest first, and one job's progress. A caller sees the jobs it asked for and those of the teams
it is an admin of; any other job answers 404, exactly like a missing one."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request

from services.lifecycle.jobs import get_job, list_jobs
from services.shared.api.endpoint import endpoint
from services.shared.db import session_connection
from services.shared.errors import ApiError, NotFound
from services.users.access import KeyScope, Role, my_teams
from services.users.bearer import authenticate
from services.users.path_ids import path_id
from services.users.public import DataJob, DataJobList
from services.users.schemas import DataJobsQuery
from services.users.state import users_state
from services.users.tokens import Principal

TAG = "Data jobs"
JOB_ID = {"job_id": int}


async def _admin_teams(db: AsyncSession, principal: Principal) -> list[int]:
    """The teams whose jobs the caller sees: those where it is (or its key acts as) an admin."""
    if principal.key is not None:
        return [principal.key.team_id] if principal.key.scope == KeyScope.ADMIN else []
    assert principal.user_id is not None
    return [team.id for team, role in await my_teams(db, principal.user_id)
            if role.allows(Role.ADMIN) and team.id is not None]


def job_not_found() -> ApiError:
    return NotFound("Data job not found.")


def parse_job_id(raw: str) -> int:
    """A path id that is not a positive bigint cannot name a job: 404, never a 500."""
    value = path_id(raw)
    if value is None:
        raise job_not_found()
    return value


@endpoint("GET", "/api/data-jobs", tag=TAG, summary="List my data jobs")
async def list_data_jobs(request: Request, query: DataJobsQuery) -> DataJobList:
    """Deletions of projects, erasures and retention runs, newest first: those you asked for, and
    all of the teams where you are an `admin`. A job's record stays after its project is gone."""
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        mine = principal.user_id if principal.key is None else None
        jobs = await list_jobs(await session_connection(db), mine, await _admin_teams(db, principal), query.limit)
    return DataJobList(jobs=[DataJob.model_validate(job) for job in jobs])


@endpoint("GET", "/api/data-jobs/{job_id}", tag=TAG, summary="Get a data job", errors=(NotFound,),
          path_params=JOB_ID)
async def get_data_job(request: Request) -> DataJob:
    """Its status (`queued`, `running`, `done`, `failed`) and the rows it deleted so far, per table."""
    job_id = parse_job_id(request.path_params["job_id"])
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        job = await get_job(await session_connection(db), job_id)
        visible = job is not None and (
            (principal.key is None and job.requested_by == principal.user_id)
            or (job.team_id is not None and job.team_id in await _admin_teams(db, principal)))
    if job is None or not visible:
        raise job_not_found()
    return DataJob.model_validate(job)


endpoints = [list_data_jobs, get_data_job]
