"""`tme import-legacy`: the accounts and events of the original Track My Events, read from its two
PostgreSQL databases (its user service's `"User"`, its tracking service's `"Event"`; DDL in
../shared/seed-notes.md), written into TME's database.

Accounts: each `"User"` becomes a TME account with the same email, name and password hash (the
argon2 encoding node's `argon2` package wrote, which our login verifies and upgrades to our
parameters on the next good login: services/users/routes/auth.py). An email that already has a TME
account keeps that account and its password and gets the project. Each legacy user gets one
project whose write key is its old 16-character `apiKey`, so pages that still carry the old inline
snippet keep counting into the same history (an `apiKey` another project already holds -- the
original never made them unique -- gets a new key instead, and the summary says whose).

Events: one pass over `"Event"` in id order (its only index), each row turned into the native
event the old snippet would have sent and put through live ingest's own validation and
enrichment (services/gateway/ingest/native.py: agent, referrer source, path, UTM), with the
deterministic messageId `legacy-<Event.id>`, then stored in batches by the subscriber's own
statement (services/subscriber/writer.py: dedupe ledger, events). `legacy_imports` records per
legacy user its project and the last `"Event".id` brought over, updated in the same transaction
as each batch: a run that stops continues where it stopped, and a second run adds nothing.

The rollups include the history without further work: the rollup job takes new rows by when they
were stored (`created_at`), whatever their event time, into the hours they belong to. The monthly
partitions of the history's months are created first, so old events never land in
`events_default`."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson
from argon2 import extract_parameters
from argon2.exceptions import InvalidHashError

from services.demo.bulk import partition_months
from services.demo.progress import Progress
from services.gateway.ingest.enrich import MAX_UA_LENGTH, AgentParser
from services.gateway.ingest.events import RequestInfo
from services.gateway.ingest.fields import MIN_TIME_MS, Problems
from services.gateway.ingest.native import native_event
from services.gateway.settings import GatewaySettings
from services.shared.db import plain_url
from services.shared.stream import StreamBatch, StreamEvent
from services.subscriber.writer import EventWriter, store_batches
from services.users.routes.auth import first_project_name
from services.users.schemas import NAME_MAX
from services.users.tokens import new_write_key

LOCK_KEY = 0x746D656C  # pg advisory lock ("tmel"): one legacy import at a time
EXAMPLES = 5  # rejected Event ids listed per reason
EPOCH = dt.datetime(1970, 1, 1)

_USERS = 'SELECT "id", "name", "email", "password", "apiKey", "createdAt" FROM "User" ORDER BY "createdAt", "id"'
_EVENTS = """SELECT "id", "internalUserId", "sessionId", "eventTime", "eventName", "page", "referrer",
                    "context"::text AS context, "userId", "userAgent", "createdAt"
             FROM "Event" WHERE "id" > $1 ORDER BY "id" LIMIT $2"""
# the first time only among the times ingest accepts (from 2000 on): one stray older time must not
# make partitions for every month since 2000
_REMAINING = """SELECT count(*) AS n, min("eventTime") FILTER (WHERE "eventTime" >= '2000-01-01') AS first,
                       max("eventTime") AS last
                FROM "Event" WHERE "id" > $1"""
_ADVANCE = """UPDATE legacy_imports SET last_event_id = greatest(last_event_id, $2), updated_at = now()
              WHERE legacy_user_id = ANY($1::uuid[])"""

# an encoded argon2 hash: $argon2id$v=19$m=4096,t=3,p=1$salt$hash (v= is absent for version 1.0)
_ARGON2 = re.compile(r"^\$(argon2(?:id|i|d))\$(v=\d+\$)?([a-z]=\d+(?:,[a-z]=\d+)*)\$([^$]+)\$([^$]+)$")


def readable_hash(stored: str) -> str:
    """The original's password hash as argon2-cffi (our login) reads it. node's `argon2` up to 0.3x
    writes the reference encoding (`m=..,t=..,p=..`); from 0.40 it writes the same parameters in
    alphabetical order (`m=..,p=..,t=..`), which the reference decoder refuses: those are written
    back in the reference order (the same hash, encoded as libargon2 does). Anything else is kept
    as it is."""
    match = _ARGON2.match(stored)
    if match is None:
        return stored
    params = dict(part.split("=", 1) for part in match[3].split(","))
    if set(params) != {"m", "t", "p"}:
        return stored
    return f"${match[1]}${match[2] or ''}m={params['m']},t={params['t']},p={params['p']}${match[4]}${match[5]}"


def hash_is_readable(encoded: str) -> bool:
    try:
        extract_parameters(encoded)
    except (InvalidHashError, ValueError):
        return False
    return True


def epoch_ms(moment: dt.datetime) -> int:
    """A `TIMESTAMP(3)` of the original (without time zone, written in UTC) as epoch milliseconds."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return (moment - EPOCH) // dt.timedelta(milliseconds=1)


def native_fields(row: asyncpg.Record) -> dict[str, Any]:
    """One `"Event"` row as the native event the old snippet sent: PAGE_VIEW stays a page view
    (its URL in `page`), any other name a track event; the snippet's `context` (the caller's own
    data) becomes the properties; a `temp:` user id (the snippet's id for a visitor not yet
    identified) is the anonymousId. A row without a user id is its session's visitor."""
    context = orjson.loads(row["context"]) if row["context"] is not None else {}
    user_id: str | None = row["userId"] or None
    fields: dict[str, Any] = {
        "eventName": row["eventName"],
        "messageId": f"legacy-{row['id']}",
        "sessionId": row["sessionId"] or None,
        "eventTime": epoch_ms(row["eventTime"]),
        "page": row["page"] or None,
        "referrer": row["referrer"] or None,
        "properties": context if isinstance(context, dict) else {"context": context},
    }
    if user_id is None:
        fields["anonymousId"] = f"legacy-session:{row['sessionId']}"
    elif user_id.startswith("temp:"):
        fields["anonymousId"] = user_id
    else:
        fields["userId"] = user_id
    return fields


def legacy_event(row: asyncpg.Record, agents: AgentParser, max_future_ms: int) -> StreamEvent | Problems:
    """The row through live ingest's validation and enrichment, as if the original had just
    received it (`createdAt`) from a browser with its `userAgent`."""
    agent = (row["userAgent"] or "")[:MAX_UA_LENGTH] or None
    info = RequestInfo(received_at=epoch_ms(row["createdAt"]), header_agent=agent, agents=agents,
                       max_future_ms=max_future_ms, has_nul=False)
    return native_event(native_fields(row), info)


@dataclass
class Account:
    """What one legacy user became."""

    legacy_user_id: uuid.UUID
    email: str
    project_id: int
    write_key: str
    last_event_id: int


@dataclass
class LegacyImportResult:
    accounts_created: int = 0  # new TME accounts
    accounts_joined: int = 0  # the email had a TME account already: it got the project
    accounts_before: int = 0  # imported by an earlier run
    projects_deleted: list[str] = field(default_factory=list)  # imported before, the project deleted since
    new_keys: list[str] = field(default_factory=list)  # emails whose apiKey another project holds
    unreadable_hashes: list[str] = field(default_factory=list)  # emails whose password hash is not argon2
    events_read: int = 0
    events_stored: int = 0
    events_skipped: int = 0  # brought over by an earlier run
    orphans: int = 0  # events of no "User"
    rejected: Counter[str] = field(default_factory=Counter)  # reason -> events
    rejected_ids: dict[str, list[int]] = field(default_factory=dict)  # reason -> first Event ids

    def summary(self) -> list[str]:
        lines = [f"accounts: {self.accounts_created} created, {self.accounts_joined} added to an existing TME "
                 f"account with the same email, {self.accounts_before} imported before",
                 f"events: {self.events_stored} stored, {self.events_skipped} imported before, "
                 f"{sum(self.rejected.values())} rejected, {self.orphans} of no user"]
        for email in self.projects_deleted:
            lines.append(f"  {email}: the project imported before was deleted since; nothing was brought over")
        for email in self.new_keys:
            lines.append(f"  {email}: the old apiKey belongs to another project already; this one got a new "
                         "write key (pages with the old snippet count into the other project)")
        for email in self.unreadable_hashes:
            lines.append(f"  {email}: the password hash is not an argon2 hash; this account cannot log in "
                         "with its old password")
        for reason, count in self.rejected.most_common():
            ids = ", ".join(str(i) for i in self.rejected_ids[reason])
            lines.append(f"  rejected {count}: {reason} (Event ids {ids}{', ...' if count > EXAMPLES else ''})")
        return lines


class AlreadyRunning(Exception):
    """Another `tme import-legacy` holds the import lock on this database."""


async def import_accounts(conn: asyncpg.Connection, users: list[asyncpg.Record],
                          result: LegacyImportResult) -> dict[uuid.UUID, Account]:
    """Every legacy user's account and project (each its own transaction), and those of earlier
    runs; legacy user id -> account."""
    accounts: dict[uuid.UUID, Account] = {}
    for user in users:
        legacy_id: uuid.UUID = user["id"]
        known = await conn.fetchrow(
            """SELECT l.project_id, l.last_event_id, p.write_key FROM legacy_imports l
               LEFT JOIN projects p ON p.id = l.project_id WHERE l.legacy_user_id = $1""", legacy_id)
        if known is not None and known["write_key"] is None:
            result.projects_deleted.append(user["email"])  # its events are passed over (events_skipped)
            continue
        if known is not None:
            result.accounts_before += 1
            accounts[legacy_id] = Account(legacy_id, user["email"], known["project_id"], known["write_key"],
                                          known["last_event_id"])
            continue
        password = readable_hash(user["password"])
        if not hash_is_readable(password):
            result.unreadable_hashes.append(user["email"])
        name = (user["name"] or "").strip()[:NAME_MAX] or user["email"].split("@")[0][:NAME_MAX]
        created_at = user["createdAt"].replace(tzinfo=dt.UTC)
        async with conn.transaction():
            owner = await conn.fetchval("SELECT id FROM users WHERE lower(email) = lower($1)", user["email"])
            project_name = first_project_name(name)
            if owner is None:
                owner = await conn.fetchval(
                    "INSERT INTO users (name, email, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
                    name, user["email"], password, created_at)
                result.accounts_created += 1
            else:
                project_name = f"{project_name} (imported)"
                result.accounts_joined += 1
            key: str = user["apiKey"]
            if not key or await conn.fetchval("SELECT EXISTS (SELECT 1 FROM projects WHERE write_key = $1)", key):
                key = new_write_key()
                result.new_keys.append(user["email"])
            project_id = await conn.fetchval(
                "INSERT INTO projects (team_id, created_by, name, write_key, created_at) VALUES ($1, $2, $3, $4, $5) "
                "RETURNING id", await _personal_team(conn, owner, name, created_at), owner, project_name, key,
                created_at)
            await conn.execute("INSERT INTO legacy_imports (legacy_user_id, project_id) VALUES ($1, $2)",
                               legacy_id, project_id)
        accounts[legacy_id] = Account(legacy_id, user["email"], project_id, key, 0)
    return accounts


async def _personal_team(conn: asyncpg.Connection, user_id: int, name: str, created_at: dt.datetime) -> int:
    """The account's personal team (made for it when it registered; made here for an imported one)."""
    team_id = await conn.fetchval(
        """SELECT t.id FROM teams t JOIN team_members m ON m.team_id = t.id AND m.user_id = $1 AND m.role = 'owner'
           WHERE t.personal ORDER BY t.id LIMIT 1""", user_id)
    if team_id is None:
        team_id = await conn.fetchval("INSERT INTO teams (name, personal, created_by, created_at) "
                                      "VALUES ($1, true, $2, $3) RETURNING id", name, user_id, created_at)
        await conn.execute("INSERT INTO team_members (team_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)",
                           team_id, user_id, created_at)
    return int(team_id)


class EventImport:
    """The events pass: reads `"Event"` after the lowest position of the accounts, skips what
    each account already has, stores the rest batch by batch with the positions."""

    def __init__(self, conn: asyncpg.Connection, accounts: dict[uuid.UUID, Account], passed_over: set[uuid.UUID],
                 result: LegacyImportResult, settings: GatewaySettings) -> None:
        self.conn = conn
        self.accounts = accounts
        self.passed_over = passed_over  # legacy users whose imported project was deleted since
        self.result = result
        self.max_future_ms = int(settings.ingest_max_future_seconds * 1000)
        self.agents = AgentParser(settings.ingest_ua_cache_size)
        self.user_ids = list(accounts)

    def start(self) -> int:
        """The Event id after which the pass reads: every account has all its events up to it."""
        return min((a.last_event_id for a in self.accounts.values()), default=0)

    def entries(self, rows: list[asyncpg.Record]) -> list[StreamBatch]:
        """The rows still to store, one stream entry each (its received time is the row's own)."""
        out: list[StreamBatch] = []
        result = self.result
        for row in rows:
            account = self.accounts.get(row["internalUserId"])
            if account is None:
                if row["internalUserId"] in self.passed_over:
                    result.events_skipped += 1
                else:
                    result.orphans += 1
                continue
            if row["id"] <= account.last_event_id:
                result.events_skipped += 1
                continue
            outcome = legacy_event(row, self.agents, self.max_future_ms)
            if isinstance(outcome, Problems):
                reason = "; ".join(f"{k}: {v}" if k else f"the event {v}" for k, v in outcome.items())
                result.rejected[reason] += 1
                examples = result.rejected_ids.setdefault(reason, [])
                if len(examples) < EXAMPLES:
                    examples.append(row["id"])
                continue
            out.append(StreamBatch(entry_id=b"", project_id=account.project_id, write_key=account.write_key,
                                   received_at=epoch_ms(row["createdAt"]), events=[outcome],
                                   raw_events=orjson.dumps([outcome]), count=1))
        return out

    async def store(self, rows: list[asyncpg.Record]) -> None:
        """One batch and the new position of every account, in one transaction."""
        entries = self.entries(rows)
        last_id = rows[-1]["id"]
        async with self.conn.transaction():
            stored = await store_batches(self.conn, entries, []) if entries else None
            await self.conn.execute(_ADVANCE, self.user_ids, last_id)
        for account in self.accounts.values():
            account.last_event_id = max(account.last_event_id, last_id)
        self.result.events_read += len(rows)
        self.result.events_stored += stored.inserted if stored is not None else 0


async def import_legacy(users_db: str, events_db: str, database_url: str, *, batch_size: int = 5000,
                        settings: GatewaySettings | None = None, progress: bool = True) -> LegacyImportResult:
    """Bring every account and event of the original over (see the module docstring). `settings`:
    live ingest's limits (TME_INGEST_*), which the events pass applies as the gateway does."""
    result = LegacyImportResult()
    writer = EventWriter(plain_url(database_url))
    legacy_users = await asyncpg.connect(plain_url(users_db))
    legacy_events = await asyncpg.connect(plain_url(events_db))
    try:
        conn = await writer.connection()
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY):
            raise AlreadyRunning("another `tme import-legacy` is running on this database")
        try:
            users = await legacy_users.fetch(_USERS)
            accounts = await import_accounts(conn, users, result)
            passed_over = {u["id"] for u in users} - set(accounts)
            events = EventImport(conn, accounts, passed_over, result, settings or GatewaySettings())
            after = events.start()
            remaining = await legacy_events.fetchrow(_REMAINING, after)
            assert remaining is not None  # an aggregate without GROUP BY: always one row
            if remaining["n"]:
                # the months the events can land in: an event time before 2000 is refused, one ahead
                # of its receipt is replaced by the time received (events.py), both <= now
                now = epoch_ms(dt.datetime.now(dt.UTC))
                oldest = remaining["first"] or remaining["last"]
                first = min(max(epoch_ms(oldest), MIN_TIME_MS), now)
                back, ahead = partition_months(first, min(epoch_ms(remaining["last"]), now))
                await writer.ensure_partitions(ahead, months_back=back)
            bar = Progress(int(remaining["n"]), "import-legacy", enabled=progress)
            while True:
                rows = await legacy_events.fetch(_EVENTS, after, batch_size)
                if not rows:
                    break
                await events.store(rows)
                after = rows[-1]["id"]
                bar.advance(len(rows))
            bar.close()
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
    finally:
        await legacy_users.close()
        await legacy_events.close()
        await writer.close()
    return result
