"""One person's data for a subject access request: who they are (every linked id, their traits,
first and last seen) and every event of any of their ids, as Segment spec messages, oldest first.

The ids are services/lifecycle/person_ids.py's: alias links and events that carry a userId beside
an anonymousId; an event belongs to the person when its visitor (userId, else anonymousId) is one
of them, so an event another user sent from a shared anonymous id stays theirs."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.lifecycle.person_ids import linked_ids
from services.shared.jsonutil import isoformat
from services.tracking.db import Db, too_slow
from services.tracking.queries import persons, segment_messages
from services.tracking.sql import Params


async def person(db: Db, project_id: int, visitor_id: str) -> dict[str, Any] | None:
    """The export's head (visitorId, ids, traits, firstSeen, lastSeen); None when nothing is
    stored about any id of theirs."""
    try:
        async with db.pool.acquire() as conn:
            ids = await linked_ids(conn, project_id, visitor_id, query_timeout=db.timeout)
    except (TimeoutError, asyncpg.QueryCanceledError):
        raise too_slow() from None
    profile = await persons.profile(db, project_id, ids)
    if profile is None:
        return None
    return {"visitorId": ids[0], "ids": ids, "traits": profile["traits"],
            "firstSeen": isoformat(profile["firstSeen"]), "lastSeen": isoformat(profile["lastSeen"])}


def events_sql(params: Params, project_id: int, ids: list[str]) -> str:
    return (f"SELECT {segment_messages.COLUMNS_SQL} FROM events e WHERE e.project_id = {params.add(project_id)} "
            f"AND e.visitor_id = ANY({params.add(ids, 'text[]')}) ORDER BY e.event_time, e.message_id")
