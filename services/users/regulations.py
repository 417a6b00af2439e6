"""Deletion requests for people, in the shape of Segment's Public API ("Create Source Regulation":
`{"regulationType", "subjectType", "subjectIds"}` in, `{"data": {"regulateId"}}` out), and their
audit records. A request becomes an `erase_person` data job (services/lifecycle/jobs.py), done by
services/lifecycle/erasure.py; its record in `data_jobs` says who asked, when, and how many rows
each table lost, and keeps the erased ids only as SHA-256 digests once the job has ended."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from services.lifecycle.jobs import Conn, Job, JobStatus, SubjectType
from services.shared.api.model import ApiModel, RequestBody

# Segment's regulation types; the DELETE_* ones erase (here, with no destinations to forward a
# deletion to, both do the same), the suppressions are not built
RegulationType = Literal["DELETE_INTERNAL", "DELETE_ONLY", "SUPPRESS_ONLY", "SUPPRESS_WITH_DELETE",
                         "SUPPRESS_WITH_DELETE_INTERNAL", "UNSUPPRESS"]
ERASING: frozenset[str] = frozenset({"DELETE_INTERNAL", "DELETE_ONLY"})
SUBJECTS_MAX = 100  # ids in one request, as Segment allows
SUBJECT_ID_MAX = 255  # the longest userId / anonymousId ingest stores
OverallStatus = Literal["INITIALIZED", "RUNNING", "FINISHED", "FAILED"]
_OVERALL: dict[JobStatus, OverallStatus] = {"queued": "INITIALIZED", "running": "RUNNING", "done": "FINISHED",
                                            "failed": "FAILED"}

SubjectId = Annotated[str, Field(min_length=1, max_length=SUBJECT_ID_MAX)]


class RegulationCreate(RequestBody):
    """Erase people: every event, profile and id link of each subject (and of every id linked to
    it by identify or alias), and their share of the rollups."""

    regulation_type: RegulationType = Field(
        description="`DELETE_ONLY` or `DELETE_INTERNAL` (the same here). Suppression "
                    "(`SUPPRESS_*`, `UNSUPPRESS`) is not supported yet and answers 422.")
    subject_type: SubjectType = Field(description="What the ids are: `USER_ID` (userId) or `ANONYMOUS_ID`.")
    subject_ids: list[SubjectId] = Field(min_length=1, max_length=SUBJECTS_MAX,
                                         description=f"1 to {SUBJECTS_MAX} ids of that type.")


class RegulationRef(ApiModel):
    regulate_id: str = Field(description="The request's id: its data job's id (`/api/data-jobs/{id}`).")


class RegulationCreated(ApiModel):
    """The request is queued as a data job; follow it at the `Location` given."""

    data: RegulationRef


class Regulation(ApiModel):
    """One deletion request and what it did: the audit record. The ids are never shown: once the
    job has ended only their SHA-256 digests are kept."""

    id: str = Field(description="The regulateId.")
    subject_type: SubjectType | None
    subject_digests: list[str] = Field(
        description="SHA-256 (hex) of each id erased: those asked for, then those linked to them.")
    status: JobStatus = Field(description="`queued`, `running`, `done`, or `failed` (see `error`).")
    overall_status: OverallStatus = Field(description="The status in Segment's words.")
    rows_deleted: dict[str, int] = Field(description="Rows deleted, per table.")
    requested_by: int | None = Field(description="The id of the user who asked.")
    client: str | None = Field(description="What asked: `api`, `dashboard`, ...")
    error: str | None = Field(description="Why the last attempt failed; a failed job is tried again (5 times).")
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None

    @classmethod
    def of(cls, job: Job) -> Regulation:
        return cls(id=str(job.id), subject_type=job.subject_type, subject_digests=job.subject_digests,
                   status=job.status, overall_status=_OVERALL[job.status], rows_deleted=job.rows_deleted,
                   requested_by=job.requested_by, client=job.client, error=job.error, created_at=job.created_at,
                   started_at=job.started_at, finished_at=job.finished_at)


class RegulationPage(ApiModel):
    regulations: list[Regulation] = Field(description="Newest first.")
    next_cursor: str | None = Field(description="Pass as `cursor` for the older ones; null on the last page.")


class RegulationList(ApiModel):
    """The project's deletion requests, newest first."""

    data: RegulationPage


def _job_id(value: str) -> str:
    """19 digits may still be past a bigint (a job id)."""
    if int(value) > 2**63 - 1:
        raise ValueError("is not a cursor this list answered")
    return value


class RegulationsQuery(RequestBody):
    limit: int = Field(50, ge=1, le=100, description="Page size (1 to 100).")
    cursor: Annotated[str, Field(pattern=r"^[1-9][0-9]{0,18}$"), AfterValidator(_job_id)] | None = Field(
        None, description="The `nextCursor` of the page before.")


async def project_erasures(conn: Conn, project_id: int, limit: int, before: int | None) -> list[Job]:
    """The project's erasure jobs, newest first, older than `before` (a job id) when given."""
    records = await conn.fetch(
        """SELECT * FROM data_jobs WHERE project_id = $1 AND kind = 'erase_person' AND id < $2
           ORDER BY id DESC LIMIT $3""", project_id, before or 2**63 - 1, limit)
    return [Job.from_record(r) for r in records]
