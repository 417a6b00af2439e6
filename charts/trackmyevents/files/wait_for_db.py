"""Wait until PostgreSQL at TME_DATABASE_URL accepts connections (--until connect) or until its
schema is at the latest migration (--until schema); exit 1 after --timeout seconds.

Runs in the service images (`python -c <this file> --until schema`) as the migration Job's and
the services' init container, so that pods start only once the database is usable."""

import argparse
import asyncio
import os
import sys
import time

import asyncpg


def log(message: str) -> None:
    print(f"wait-for-db: {message}", file=sys.stderr, flush=True)


def head_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    from services.migrations.runner import alembic_config

    return set(ScriptDirectory.from_config(alembic_config("")).get_heads())


async def check(url: str, until: str, heads: set[str]) -> str | None:
    """None when the database is ready, else what is still missing."""
    conn = await asyncpg.connect(url, timeout=5)
    try:
        if until == "connect":
            await conn.fetchval("SELECT 1")
            return None
        exists = await conn.fetchval("SELECT to_regclass('alembic_version') IS NOT NULL")
        if not exists:
            return "no alembic_version table yet"
        applied = {row[0] for row in await conn.fetch("SELECT version_num FROM alembic_version")}
        if heads <= applied:
            return None
        return f"schema at {sorted(applied) or 'nothing'}, waiting for {sorted(heads)}"
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--until", choices=("connect", "schema"), default="schema")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--interval", type=float, default=2.0)
    args = parser.parse_args()

    from services.shared.db import plain_url

    url = plain_url(os.environ.get("TME_DATABASE_URL", ""))
    if not url:
        log("TME_DATABASE_URL is not set")
        return 2
    heads = head_revisions() if args.until == "schema" else set()
    deadline = time.monotonic() + args.timeout
    last = ""
    while True:
        try:
            missing = asyncio.run(check(url, args.until, heads))
        except Exception as exc:  # not reachable yet, starting up, DNS not there yet: retry
            missing = f"database not reachable ({type(exc).__name__}: {exc})"
        if missing is None:
            log(f"database ready ({args.until})")
            return 0
        if missing != last:
            log(missing)
            last = missing
        if time.monotonic() >= deadline:
            log(f"gave up after {args.timeout:.0f}s: {missing}")
            return 1
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
