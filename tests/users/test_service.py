"""The users service as a process: readiness covers its dependencies; expired tokens get cleaned up."""

from __future__ import annotations

import asyncio

from services.shared.db import create_engine
from services.users.cleanup import delete_expired

from .helpers import bearer, sha256


def test_readiness_checks_postgres_and_redis(api):
    resp = api.get("/readyz")
    assert resp.status_code == 200
    assert resp.json()["checks"] == {"postgres": "ok", "redis": "ok"}


def test_cleanup_deletes_expired_tokens_and_dead_logins_only(api, db, database_url, register, login):
    dead = register()
    alive = login(dead["email"])
    db.execute("UPDATE access_tokens SET expires_at = now() - interval '2 days' WHERE token_hash = $1",
               sha256(dead["accessToken"]))
    db.execute("UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
               sha256(dead["refreshToken"]))
    session_id = db.fetchval("SELECT session_id FROM refresh_tokens WHERE token_hash = $1",
                             sha256(dead["refreshToken"]))
    db.execute("UPDATE auth_sessions SET created_at = now() - interval '2 days' WHERE id = $1", session_id)

    async def run() -> dict[str, int]:
        engine = create_engine(database_url, pool_size=1)
        try:
            return await delete_expired(engine, refresh_days=30)
        finally:
            await engine.dispose()

    deleted = asyncio.run(run())
    assert deleted["access_tokens"] >= 1 and deleted["refresh_tokens"] >= 1 and deleted["auth_sessions"] >= 1
    assert db.fetchval("SELECT count(*) FROM auth_sessions WHERE id = $1", session_id) == 0
    assert db.fetchval("SELECT count(*) FROM access_tokens WHERE token_hash = $1", sha256(dead["accessToken"])) == 0
    # the other login is untouched
    assert api.get("/api/me", headers=bearer(alive["accessToken"])).status_code == 200
    assert api.post("/api/auth/refresh", json={"refreshToken": alive["refreshToken"]}).status_code == 200
