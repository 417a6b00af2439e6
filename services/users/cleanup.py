"""Periodic clean-up: delete expired tokens and logins that can no longer be used.

Expired access tokens are kept one day (so a client still hears "expired" rather than
"invalid"); refresh tokens go once expired; a login goes when revoked for longer than the
refresh lifetime, or when nothing in it is still valid."""

from __future__ import annotations

import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.shared.background import BackgroundLoop
from services.users.settings import UsersSettings

log = logging.getLogger("tme.users.cleanup")

_STATEMENTS = (
    ("access_tokens", "DELETE FROM access_tokens WHERE expires_at < now() - interval '1 day'"),
    ("refresh_tokens", "DELETE FROM refresh_tokens WHERE expires_at < now()"),
    ("auth_sessions", """
        DELETE FROM auth_sessions s
        WHERE (s.revoked_at IS NOT NULL AND s.revoked_at < now() - make_interval(days => :refresh_days))
           OR (s.created_at < now() - interval '1 day'
               AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.session_id = s.id AND r.expires_at > now())
               AND NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.session_id = s.id AND a.expires_at > now()))
    """),
)


async def delete_expired(engine: AsyncEngine, refresh_days: int) -> dict[str, int]:
    deleted: dict[str, int] = {}
    async with engine.begin() as conn:
        for table, sql in _STATEMENTS:
            result = await conn.execute(text(sql), {"refresh_days": refresh_days} if ":refresh_days" in sql else {})
            deleted[table] = int(result.rowcount or 0)
    return deleted


def cleanup_loop(engine: AsyncEngine, settings: UsersSettings) -> BackgroundLoop:
    """Every `token_cleanup_interval_seconds` (the first round one interval after start-up);
    a round that fails is retried at the next one."""
    async def one_round() -> None:
        deleted = await delete_expired(engine, settings.refresh_token_ttl_days)
        log.info("expired tokens deleted", extra={"deleted": deleted})

    interval = settings.token_cleanup_interval_seconds
    return BackgroundLoop(settings.service_name, "token-cleanup", one_round, interval=interval, first_pause=interval)
