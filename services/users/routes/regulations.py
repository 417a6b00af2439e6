"""A project's deletion requests for people (services/users/regulations.py): ask for one, list
them, as a project `admin` (services/users/access.py)."""

from __future__ import annotations

import logging

from starlette.requests import Request

from services.lifecycle.jobs import create_job
from services.shared.api.endpoint import endpoint
from services.shared.audit import AuditAction
from services.shared.db import session_connection
from services.shared.errors import Forbidden, NotFound, ValidationFailed
from services.users.access import Role
from services.users.audit_log import audit
from services.users.bearer import authenticate
from services.users.regulations import (
    ERASING,
    Regulation,
    RegulationCreate,
    RegulationCreated,
    RegulationList,
    RegulationPage,
    RegulationRef,
    RegulationsQuery,
    project_erasures,
)
from services.users.routes.projects import PROJECT_ID, project_for
from services.users.schemas import DeletionQuery
from services.users.state import users_state

log = logging.getLogger("tme.users.regulations")

TAG = "Data jobs"
PATH = "/api/projects/{project_id}/regulations"


@endpoint("POST", PATH, tag=TAG, summary="Erase people (a deletion request)", status=202,
          errors=(NotFound, Forbidden, ValidationFailed), path_params=PROJECT_ID,
          location=lambda answer: f"/api/data-jobs/{answer.data.regulate_id}",
          examples={"body": {"regulationType": "DELETE_ONLY", "subjectType": "USER_ID", "subjectIds": ["user-42"]}})
async def create_regulation(request: Request, body: RegulationCreate, query: DeletionQuery) -> RegulationCreated:
    """Queues the erasure of each subject: their events, profile and id links, every id linked to
    them by identify or alias (and those ids' events), and their share of the rollups, so that every
    answer about the others is as if they had never been seen. The same shape as Segment's "Create
    Source Regulation". Follow the job at the `Location` answered; the project's requests and what
    each deleted stay listed here (the ids only as SHA-256 digests)."""
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        project = await project_for(db, request, principal, Role.ADMIN)
        assert project.id is not None
        if body.regulation_type not in ERASING:
            raise ValidationFailed("Suppression is not supported yet: use DELETE_ONLY or DELETE_INTERNAL.",
                                   fields={"regulationType": "suppression is not supported yet; use DELETE_ONLY "
                                                             "or DELETE_INTERNAL"})
        job_id = await create_job(await session_connection(db), "erase_person", project.id,
                                  requested_by=principal.user_id, client=query.client,
                                  subject_type=body.subject_type, subject_ids=body.subject_ids)
        # how many, never who: the ids are what is being erased
        await audit(db, request, principal, project.team_id, AuditAction.PERSON_ERASED, project_id=project.id,
                    target=f"data_job:{job_id}", details={"subjects": len(body.subject_ids), "jobId": job_id})
        await db.commit()
    log.info("erasure requested", extra={"user_id": principal.user_id, "project_id": project.id, "job_id": job_id,
                                         "subjects": len(body.subject_ids)})
    return RegulationCreated(data=RegulationRef(regulate_id=str(job_id)))


@endpoint("GET", PATH, tag=TAG, summary="List a project's deletion requests", errors=(NotFound, Forbidden),
          path_params=PROJECT_ID)
async def list_regulations(request: Request, query: RegulationsQuery) -> RegulationList:
    """The audit record of each erasure asked for in the project, newest first: who asked, when, its
    status, the rows each table lost and the digests of the ids erased (never the ids). Needs `admin`."""
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        project = await project_for(db, request, principal, Role.ADMIN)
        assert project.id is not None
        jobs = await project_erasures(await session_connection(db), project.id, query.limit + 1,
                                      int(query.cursor) if query.cursor else None)
    page = jobs[:query.limit]
    next_cursor = str(page[-1].id) if len(jobs) > query.limit else None
    return RegulationList(data=RegulationPage(regulations=[Regulation.of(job) for job in page],
                                              next_cursor=next_cursor))


endpoints = [create_regulation, list_regulations]
