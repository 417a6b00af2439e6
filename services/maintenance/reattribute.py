"""`tme reattribute`: re-derive the person's agent and the sender columns of events stored before
migration 0009 (their `library` is NULL), with the gateway's own attribution code
(services/gateway/ingest/attribution.py), then have the rollups rebuilt.

What each stored row kept is enough, with one rule for whose agent the stored `user_agent` was:
- `context.userAgent` present: the person's (the gateway stored exactly that);
- else, `context.library` present: a Segment-style library sent it, so the stored agent was the
  library's request header: nobody's;
- else the request header of a native endpoint or of plain HTTP: the person's, unless it is an
  HTTP library's default agent (python-requests, curl, Java, okhttp, ...), which is nobody's.
What cannot be recovered: the Accept-Language of native requests (never stored: their locale
stays empty), and the person behind a Segment-API call that named no library, sent no
`context.userAgent` and came with a browser's User-Agent header (it stays that browser's).

Rows are read and rewritten a batch at a time, each batch in its own transaction, partition by
partition, by physical position (ctid), so the command can be stopped and run again: it only
looks at rows whose `library` is still NULL, and every row it writes gets one. Ingest goes on
meanwhile (new rows always have a library). When any row changed, the rollup job's state is
cleared: its next run rebuilds every rollup from raw events (questions are answered from raw
events until then)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from services.gateway.ingest.attribution import NO_LIBRARY, Attribution, attribute
from services.gateway.ingest.enrich import AgentParser
from services.shared.db import plain_url

log = logging.getLogger("tme.maintenance.reattribute")

# the columns a row's attribution sets, and how each is read off an Attribution
_SET: tuple[tuple[str, Callable[[Attribution], str | bool | None]], ...] = (
    ("user_agent", lambda a: a.user_agent), ("browser", lambda a: a.agent.browser),
    ("browser_version", lambda a: a.agent.browser_version), ("os", lambda a: a.agent.os),
    ("os_version", lambda a: a.agent.os_version), ("device_type", lambda a: a.agent.device_type),
    ("is_bot", lambda a: a.agent.is_bot), ("library", lambda a: a.library),
    ("app_version", lambda a: a.app_version), ("locale", lambda a: a.locale),
    ("screen_class", lambda a: a.screen_class))
_TEMP_COLUMNS = ", ".join(f"{name} {'boolean' if name == 'is_bot' else 'text'}" for name, _ in _SET)


@dataclass
class Stats:
    rows: int = 0  # rows given their attribution
    changed_agent: int = 0  # of which the browser, OS, device or bot flag changed
    now_bots: int = 0
    no_longer_bots: int = 0
    rollups_reset: bool = False


def stored_attribution(agents: AgentParser, user_agent: str | None, context: dict[str, Any]) -> Attribution:
    """The attribution of a row stored before migration 0009 (see the module docstring)."""
    header = None if "library" in context else user_agent
    return attribute(agents, context, header, NO_LIBRARY)


async def _partitions(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                            "WHERE i.inhparent = 'events'::regclass ORDER BY c.relname")
    return [r["relname"] for r in rows]


async def _batch(conn: asyncpg.Connection, partition: str, agents: AgentParser, size: int, stats: Stats) -> int:
    """Attributes up to `size` unattributed rows of one partition in one transaction; how many."""
    async with conn.transaction():
        rows = await conn.fetch(
            f'SELECT ctid::text AS at, user_agent, context::text AS context, browser, os, device_type, is_bot '
            f'FROM "{partition}" WHERE library IS NULL LIMIT $1 FOR UPDATE', size)
        if not rows:
            return 0
        records = []
        for row in rows:
            context = orjson.loads(row["context"]) if row["context"] else {}
            found = stored_attribution(agents, row["user_agent"], context if isinstance(context, dict) else {})
            agent = found.agent
            if (agent.browser, agent.os, agent.device_type, agent.is_bot) != \
                    (row["browser"], row["os"], row["device_type"], row["is_bot"]):
                stats.changed_agent += 1
                stats.now_bots += agent.is_bot and not row["is_bot"]
                stats.no_longer_bots += row["is_bot"] and not agent.is_bot
            records.append((row["at"], *(read(found) for _, read in _SET)))
        await conn.execute(f"CREATE TEMP TABLE reattributed (at text, {_TEMP_COLUMNS}) ON COMMIT DROP")
        await conn.copy_records_to_table("reattributed", records=records)
        assignments = ", ".join(f"{name} = r.{name}" for name, _ in _SET)
        await conn.execute(f'UPDATE "{partition}" e SET {assignments} FROM reattributed r '
                           f'WHERE e.ctid = r.at::tid')
        stats.rows += len(records)
        return len(records)


async def reattribute(database_url: str, batch_size: int = 5000) -> Stats:
    stats = Stats()
    agents = AgentParser(65536)
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        for partition in await _partitions(conn):
            while await _batch(conn, partition, agents, batch_size, stats) == batch_size:
                pass
        if stats.rows:
            # the job's next run rebuilds every rollup (new dimensions, changed bot flags)
            await conn.execute("DELETE FROM rollup_state")
            stats.rollups_reset = True
    finally:
        await conn.close()
    return stats
