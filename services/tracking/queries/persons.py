"""One person: the ids that are them (aliases resolved), their merged traits, first/last seen.

An id given in the URL may be the person's own visitor id or one of their aliases (an
anonymous id linked by identify, a previous id linked by alias); either way the same person
comes back, with every id that belongs to them."""

from __future__ import annotations

from typing import Any

from services.tracking.db import Db


async def resolve(db: Db, project_id: int, visitor_id: str) -> list[str]:
    """[canonical id, *aliases]."""
    rows = await db.fetch(
        """WITH canonical AS (
               SELECT coalesce((SELECT visitor_id FROM person_aliases WHERE project_id = $1 AND alias_id = $2),
                               $2) AS id)
           SELECT id, 0 AS o FROM canonical
           UNION
           SELECT a.alias_id, 1 FROM person_aliases a, canonical
           WHERE a.project_id = $1 AND a.visitor_id = canonical.id AND a.alias_id <> canonical.id
           ORDER BY o, id""",
        [project_id, visitor_id],
    )
    return [r["id"] for r in rows]


async def profile(db: Db, project_id: int, ids: list[str]) -> dict[str, Any] | None:
    """Traits and first/last seen, or None when nothing is known about any of the ids."""
    mine = "project_id = $1 AND visitor_id = ANY($2::text[])"
    row = await db.fetchrow(
        f"""SELECT (SELECT jsonb_object_agg(k, v ORDER BY o)
                    FROM (SELECT t.k, t.v, (p.visitor_id = ($2::text[])[1]) AS o
                          FROM persons p, jsonb_each(p.traits) AS t(k, v)
                          WHERE p.project_id = $1 AND p.visitor_id = ANY($2::text[])) s) AS traits,
                   (SELECT min(first_seen) FROM persons WHERE {mine}) AS p_first,
                   (SELECT max(last_seen) FROM persons WHERE {mine}) AS p_last,
                   (SELECT min(event_time) FROM events WHERE {mine}) AS e_first,
                   (SELECT max(event_time) FROM events WHERE {mine}) AS e_last""",
        [project_id, ids],
    )
    assert row is not None
    firsts = [t for t in (row["p_first"], row["e_first"]) if t is not None]
    lasts = [t for t in (row["p_last"], row["e_last"]) if t is not None]
    if not firsts:
        return None
    return {"traits": row["traits"] or {}, "firstSeen": min(firsts), "lastSeen": max(lasts)}
