"""The caller's data jobs (services/lifecycle/jobs.py): deletions of the projects they own or
owned, erasures and retention runs, newest first, and one job's progress. Another user's job
answers 404, exactly like a missing one."""

from __future__ import annotations

from starlette.requests import Request

from services.lifecycle.jobs import get_job, list_jobs
from services.shared.api.endpoint import endpoint
from services.shared.db import session_connection
from services.shared.errors import ApiError, NotFound
from services.users.bearer import authenticate
from services.users.path_ids import path_id
from services.users.public import DataJob, DataJobList
from services.users.schemas import DataJobsQuery
from services.users.state import users_state

TAG = "Data jobs"
JOB_ID = {"job_id": int}


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
    """Deletions of your projects (and of your account's), erasures and retention runs, newest
    first. A job's record stays after its project is gone."""
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        jobs = await list_jobs(await session_connection(db), principal.user_id, query.limit)
    return DataJobList(jobs=[DataJob.model_validate(job) for job in jobs])


@endpoint("GET", "/api/data-jobs/{job_id}", tag=TAG, summary="Get a data job", errors=(NotFound,),
          path_params=JOB_ID)
async def get_data_job(request: Request) -> DataJob:
    """Its status (`queued`, `running`, `done`, `failed`) and the rows it deleted so far, per table."""
    job_id = parse_job_id(request.path_params["job_id"])
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        job = await get_job(await session_connection(db), job_id)
    if job is None or job.owner_id != principal.user_id:
        raise job_not_found()
    return DataJob.model_validate(job)


endpoints = [list_data_jobs, get_data_job]
