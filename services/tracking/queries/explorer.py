"""The event explorer: every stored event matching the filters, newest first.

Pages are keyset-paginated on (event_time, message_id) descending; message ids are unique per
project (the subscriber's dedupe ledger), so the order is total. What the cursor guarantees:
walking the pages never repeats an event and never skips one that was stored when the walk
started. An event stored during the walk appears in a later page if it sorts after the cursor
(an older event time, e.g. a late or imported event) and not at all in this walk if it sorts
before it (new live events sit above page one: fetch page one again to see them)."""

from __future__ import annotations

import datetime as dt

from services.tracking.db import Db
from services.tracking.public import AnalyticsEvent
from services.tracking.queries.rows import COLUMNS_SQL, stored_event
from services.tracking.sql import Params


def explorer_sql(params: Params, where: str, limit: int, before: tuple[dt.datetime, str] | None) -> str:
    keyset = ""
    if before is not None:
        keyset = f" AND (e.event_time, e.message_id) < ({params.add(before[0])}, {params.add(before[1], 'text')})"
    return f"""SELECT {COLUMNS_SQL} FROM events e WHERE {where}{keyset}
        ORDER BY e.event_time DESC, e.message_id DESC LIMIT {params.add(limit + 1)}"""


async def explore(db: Db, params: Params, where: str, limit: int,
                  before: tuple[dt.datetime, str] | None) -> list[AnalyticsEvent]:
    """Up to `limit + 1` events below the cursor (the extra one says there is more)."""
    rows = await db.fetch(explorer_sql(params, where, limit, before), params.values)
    return [stored_event(r) for r in rows]
