"""`stats/breakdown`: visitors and events per value of one dimension, from raw events.

Rows are sorted by visitors (descending), then value (ascending by code point whatever the
database's collation, an absent value first), and
paginated by keyset on exactly that order, so walking the pages of an unchanged data set never
skips or repeats a row. `page` counts page views by URL path; `entryPage` / `exitPage` count
sessions by the path of their first / last page view (`events` is then the number of sessions).
An absent value (null) is a row of its own only for `referrer` and `source` (direct traffic).
`source` groups known referrers by name ("Google" for google.com and www.google.de, and for a
link's utm_source=google; see services/shared/referrers.py). `source` and `referrer` leave internal
navigation (a referrer on the page's own host) out."""

from __future__ import annotations

from typing import Any

from services.tracking.db import Db
from services.tracking.filters import INTERNAL_REFERRAL, Condition, dimension_sql, is_dimension
from services.tracking.params import TimeRange
from services.tracking.queries.sessionize import sessions_of
from services.tracking.scope import analytics_where
from services.tracking.sql import Params

SESSION_DIMENSIONS = {"entryPage": "entry_page", "exitPage": "exit_page"}
DIMENSIONS = ("event", "page", "entryPage", "exitPage", "referrer", "source", "utmSource", "utmMedium",
              "utmCampaign", "utmTerm", "utmContent", "browser", "os", "device", "library", "appVersion", "locale",
              "screen")
KEEPS_NULL = frozenset({"referrer", "source"})
# the events a dimension counts, when not all: pages count page views; sources and referrers leave
# internal navigation out (a referrer on the page's own host is neither a source nor "direct")
ONLY = {"page": "e.type = 'page'", "source": f"NOT {INTERNAL_REFERRAL}", "referrer": f"NOT {INTERNAL_REFERRAL}"}


def valid_dimension(name: str) -> bool:
    return name in DIMENSIONS or (name.startswith(("prop:", "context:")) and is_dimension(name))


def _keyset(params: Params, after: tuple[int, str | None] | None) -> str:
    if after is None:
        return "TRUE"
    visitors, value = after
    v = params.add(visitors, "bigint")
    if value is None:
        later = "value IS NOT NULL"
    else:
        later = 'value COLLATE "C" > ' + params.add(value, "text")
    return f"(visitors < {v} OR (visitors = {v} AND {later}))"


async def raw_breakdown(db: Db, project_id: int, rng: TimeRange, conditions: list[Condition], by: str,
                        limit: int, after: tuple[int, str | None] | None) -> list[dict[str, Any]]:
    """Up to `limit + 1` rows after the cursor position (the extra one says there is more)."""
    params = Params()
    if by in SESSION_DIMENSIONS:
        column = SESSION_DIMENSIONS[by]
        grouped = f"""WITH {sessions_of(params, project_id, rng.start, rng.end, conditions)}
            SELECT {column} AS value, count(DISTINCT visitor_id) AS visitors, count(*) AS events
            FROM sessions WHERE hit AND {column} IS NOT NULL GROUP BY 1"""
    else:
        where = analytics_where(params, project_id, rng.start, rng.end, conditions)
        expr = dimension_sql(by, params)
        only = f" AND {ONLY[by]}" if by in ONLY else ""
        not_null = "" if by in KEEPS_NULL else f" AND {expr} IS NOT NULL"
        grouped = f"""SELECT {expr} AS value, count(DISTINCT e.visitor_id) AS visitors, count(*) AS events
            FROM events e WHERE {where}{only}{not_null} GROUP BY 1"""
    sql = f"""SELECT value, visitors, events FROM ({grouped}) g
        WHERE {_keyset(params, after)}
        ORDER BY visitors DESC, value COLLATE "C" ASC NULLS FIRST
        LIMIT {params.add(limit + 1)}"""
    rows = await db.fetch(sql, params.values)
    return [{"value": r["value"], "visitors": r["visitors"], "events": r["events"]} for r in rows]
