"""`tme import-legacy` and `tme import`: their arguments, and running them. The import modules are
loaded only when one of these commands runs, so other `tme` commands do not load ingest's code."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

LEGACY_HELP = """Bring the accounts and events of the original Track My Events into TME_DATABASE_URL: each
"User" becomes an account (same email, name and password) with one project whose write key is its
old apiKey; each "Event" becomes an event of that project. Safe to stop and run again: a second run
adds nothing, an interrupted one continues."""

FILE_HELP = """Import Segment or RudderStack NDJSON (one call per line; plain or gzip) into a project,
through the same validation and dedupe as live ingest (TME_DATABASE_URL, TME_REDIS_URL; the
subscriber stores the events). Safe to stop and run again: a finished file is not imported twice,
an interrupted one resumes."""


def add_parsers(sub: Any) -> None:
    legacy = sub.add_parser("import-legacy", help="import accounts and events from the original Track My Events",
                            description=LEGACY_HELP)
    legacy.add_argument("--users-db", required=True, help="PostgreSQL URL of the original's user service database")
    legacy.add_argument("--events-db", required=True,
                        help="PostgreSQL URL of the original's tracking service database (may be the same)")
    legacy.add_argument("--database-url", default=os.environ.get("TME_DATABASE_URL") or None,
                        help="TME's database (default $TME_DATABASE_URL)")
    legacy.add_argument("--batch-size", type=int, default=5000, help="events per transaction (default 5000)")
    legacy.add_argument("--quiet", action="store_true", help="no progress bar")
    legacy.set_defaults(func=import_legacy_command)

    files = sub.add_parser("import", help="import Segment/RudderStack NDJSON (plain or gzip) into a project",
                           description=FILE_HELP)
    files.add_argument("--file", required=True, type=Path, help="the NDJSON file (.ndjson, .json, .gz ...)")
    files.add_argument("--project", required=True, type=int, help="the project's id")
    files.add_argument("--database-url", default=os.environ.get("TME_DATABASE_URL") or None,
                       help="TME's database (default $TME_DATABASE_URL)")
    files.add_argument("--redis-url", default=os.environ.get("TME_REDIS_URL") or None,
                       help="the event stream's Redis (default $TME_REDIS_URL)")
    files.add_argument("--quiet", action="store_true", help="no progress bar")
    files.set_defaults(func=import_file_command)


def _fail(command: str, message: str, status: int = 1) -> int:
    print(f"tme {command}: {message}", file=sys.stderr)
    return status


def import_legacy_command(args: argparse.Namespace) -> int:
    import asyncpg

    from services.lifecycle.legacy_import import AlreadyRunning, import_legacy

    if not args.database_url:
        return _fail("import-legacy", "TME_DATABASE_URL is not set (or give --database-url)", 2)
    if args.batch_size < 1:
        return _fail("import-legacy", "--batch-size must be at least 1", 2)
    try:
        result = asyncio.run(import_legacy(args.users_db, args.events_db, args.database_url,
                                           batch_size=args.batch_size, progress=not args.quiet))
    except AlreadyRunning as exc:
        return _fail("import-legacy", str(exc))
    except (asyncpg.PostgresError, OSError) as exc:
        return _fail("import-legacy", f"{type(exc).__name__}: {exc}")
    print("\n".join(result.summary()))
    return 0


def import_file_command(args: argparse.Namespace) -> int:
    import asyncpg
    from redis.exceptions import RedisError

    from services.lifecycle.file_import import ProjectNotFound, import_file
    from services.shared.errors import ApiError

    if not args.database_url or not args.redis_url:
        return _fail("import", "TME_DATABASE_URL and TME_REDIS_URL must be set (or give --database-url, "
                               "--redis-url)", 2)
    if not args.file.is_file():
        return _fail("import", f"{args.file}: no such file", 2)
    try:
        result = asyncio.run(import_file(args.file, args.project, args.database_url, args.redis_url,
                                         progress=not args.quiet))
    except ProjectNotFound as exc:
        return _fail("import", str(exc))
    except ApiError as exc:  # the event stream stayed unreachable: what was handed over is recorded
        return _fail("import", f"{exc.message} Run the same command again to resume.")
    except (asyncpg.PostgresError, RedisError, OSError, EOFError) as exc:  # EOFError: a truncated gzip file
        return _fail("import", f"{type(exc).__name__}: {exc}")
    print("\n".join(result.summary()))
    return 0
