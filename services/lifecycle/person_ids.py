"""Every id that is one person in a project: what a subject access request exports (and what an
erasure of that person must reach).

Two kinds of link join ids:
- `person_aliases` rows, which the subscriber writes from identify (anonymousId -> userId) and
  alias (previousId -> userId) calls, the first link of an id winning. Links chain (an anonymous
  id identified as a user id that was later aliased to another user id), so the person is the
  whole tree under its root: the id no alias row leads away from.
- events that carry a userId and an anonymousId together (a track call after login sends both)
  where no alias row says whose the anonymous id is. Such an id joins the person only when every
  event that carries it with a userId names one of the person's ids: an anonymous id seen with two
  different users (a shared computer) belongs to neither, so one person's export never holds
  another's events.

The answer starts with the root, then the other ids in code point order."""

from __future__ import annotations

from services.lifecycle.jobs import Conn

MAX_CHAIN = 50  # alias links followed up from an id: chains are a few links; this only stops a cycle
MAX_USERS = 20  # userIds beside one anonymous id looked at; more cannot all be one person's


async def _root(conn: Conn, project_id: int, visitor_id: str, query_timeout: float | None) -> str:
    """The id at the top of `visitor_id`'s alias chain (itself when no alias row leads away)."""
    root = await conn.fetchval(
        """WITH RECURSIVE up(id, depth, seen) AS (
               SELECT $2::text, 0, ARRAY[$2::text]
               UNION ALL
               SELECT a.visitor_id, up.depth + 1, up.seen || a.visitor_id
               FROM up JOIN person_aliases a ON a.project_id = $1 AND a.alias_id = up.id
               WHERE a.visitor_id <> ALL(up.seen) AND up.depth < $3)
           SELECT id FROM up ORDER BY depth DESC LIMIT 1""",
        project_id, visitor_id, MAX_CHAIN, timeout=query_timeout)
    return str(root)


async def _tree(conn: Conn, project_id: int, roots: list[str], query_timeout: float | None) -> set[str]:
    """`roots` and every id whose alias links lead to one of them."""
    rows = await conn.fetch(
        """WITH RECURSIVE down(id) AS (
               SELECT unnest($2::text[])
               UNION
               SELECT a.alias_id FROM down JOIN person_aliases a ON a.project_id = $1 AND a.visitor_id = down.id)
           SELECT id FROM down""",
        project_id, roots, timeout=query_timeout)
    return {r["id"] for r in rows}


async def _users_beside(conn: Conn, project_id: int, anonymous_id: str, query_timeout: float | None) -> list[str]:
    """The userIds events carry beside this anonymous id when no alias row says whose it is (at
    most MAX_USERS + 1 of them)."""
    rows = await conn.fetch(
        """SELECT DISTINCT e.user_id FROM events e
           WHERE e.project_id = $1 AND e.anonymous_id = $2 AND e.user_id IS NOT NULL AND e.user_id <> $2
             AND NOT EXISTS (SELECT 1 FROM person_aliases a WHERE a.project_id = $1 AND a.alias_id = $2)
           LIMIT $3""",
        project_id, anonymous_id, MAX_USERS + 1, timeout=query_timeout)
    return [str(r["user_id"]) for r in rows]


async def _unlinked_anonymous(conn: Conn, project_id: int, ids: set[str], query_timeout: float | None) -> set[str]:
    """Anonymous ids without an alias row that events carry only beside these ids' userIds."""
    rows = await conn.fetch(
        """WITH seen AS (
               SELECT DISTINCT e.anonymous_id AS id FROM events e
               WHERE e.project_id = $1 AND e.visitor_id = ANY($2::text[]) AND e.user_id IS NOT NULL
                 AND e.anonymous_id IS NOT NULL AND e.anonymous_id <> ALL($2::text[])
                 AND NOT EXISTS (SELECT 1 FROM person_aliases a
                                 WHERE a.project_id = $1 AND a.alias_id = e.anonymous_id))
           SELECT seen.id FROM seen
           WHERE NOT EXISTS (SELECT 1 FROM events o
                             WHERE o.project_id = $1 AND o.anonymous_id = seen.id AND o.user_id IS NOT NULL
                               AND o.user_id <> ALL($2::text[]))""",
        project_id, sorted(ids), timeout=query_timeout)
    return {r["id"] for r in rows}


async def linked_ids(conn: Conn, project_id: int, visitor_id: str, query_timeout: float | None = None) -> list[str]:
    """[root, *the person's other ids]: `visitor_id` is any of them (a userId, an anonymousId or a
    previousId); an id nothing links is a person of its own ([visitor_id])."""
    root = await _root(conn, project_id, visitor_id, query_timeout)
    if root == visitor_id:  # maybe an anonymous id that only events link
        users = await _users_beside(conn, project_id, visitor_id, query_timeout)
        roots = {await _root(conn, project_id, user, query_timeout) for user in users}
        if len(roots) == 1 and len(users) <= MAX_USERS:
            root = roots.pop()
    ids = await _tree(conn, project_id, [root], query_timeout)
    extra = await _unlinked_anonymous(conn, project_id, ids, query_timeout)
    if extra:
        ids |= await _tree(conn, project_id, sorted(extra), query_timeout)
    return [root, *sorted(ids - {root})]
