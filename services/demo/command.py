"""`tme demo`: fill a demo project with realistic traffic.

  tme demo [--events N] [--days D] [--seed S] [--end ISO] [--via ingest|bulk]
           [--gateway-url URL] [--database-url URL] [--project-id ID --write-key KEY]
  tme demo --live [--history-events N --history-days D] [--rate R]

Without --project-id it logs in to (or registers) the demo account through the gateway and uses
its project named "Demo". The credentials are saved to `.tme/demo-credentials.json` (0600) when
the default gateway is used or --credentials is given. The last line on stdout is
`DEMO {"projectId": ..., "writeKey": ..., "email": ..., "password": ..., ...}`."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from services.demo.account import (
    DEFAULT_CREDENTIALS,
    AccountError,
    ensure_account,
    read_credentials,
    save_credentials,
)
from services.demo.generator import Generator, Plan
from services.demo.progress import Progress

if TYPE_CHECKING:  # imported where it is used: only the ingest path needs it
    from services.demo.ingest import IngestError

INGEST_DEFAULT_UP_TO = 20_000  # --via auto: the real ingest path up to this many events, bulk above
# the demo's history: twice the dashboard's longest preset (90 days), so that every preset and its
# previous period have data; ~550 events a day on average (~600 at the end, ~100 visitors a day)
DEMO_EVENTS = 100_000
DEMO_DAYS = 180


def default_gateway_url() -> str:
    return os.environ.get("TME_DEMO_GATEWAY_URL") or f"http://localhost:{os.environ.get('TME_GATEWAY_PORT', '8000')}"


def add_parser(sub: Any) -> None:
    demo = sub.add_parser("demo", help="fill a demo project with realistic traffic",
                          description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--events", type=int, default=DEMO_EVENTS, help=f"how many events (default {DEMO_EVENTS})")
    demo.add_argument("--days", type=float, default=DEMO_DAYS, help=f"spread over the last D days (default "
                                                                     f"{DEMO_DAYS})")
    demo.add_argument("--seed", type=int, default=None, help="random seed (default: a new one, printed)")
    demo.add_argument("--end", default=None, help="the range ends here (ISO date-time; default now)")
    demo.add_argument("--via", choices=("auto", "ingest", "bulk"), default="auto",
                      help=f"ingest: POST /v1/batch to the gateway; bulk: COPY into PostgreSQL (needs a database "
                           f"URL); auto: ingest up to {INGEST_DEFAULT_UP_TO} events or without a database URL")
    demo.add_argument("--gateway-url", default=None, help="the running stack's gateway (default "
                                                           "http://localhost:$TME_GATEWAY_PORT or 8000)")
    demo.add_argument("--database-url", default=os.environ.get("TME_DATABASE_URL") or None,
                      help="PostgreSQL URL for --via bulk (default $TME_DATABASE_URL)")
    demo.add_argument("--project-id", type=int, default=None, help="use this project instead of the demo account")
    demo.add_argument("--write-key", default=None, help="the project's write key (with --project-id)")
    demo.add_argument("--credentials", type=Path, default=None,
                      help="where the demo login is saved (default .tme/demo-credentials.json for the default "
                           "gateway; not saved otherwise)")
    demo.add_argument("--batch-size", type=int, default=50_000, help="events per COPY batch (bulk)")
    demo.add_argument("--concurrency", type=int, default=4, help="requests in flight (ingest)")
    demo.add_argument("--live", action="store_true", help="after loading (or instead, with --events 0), keep "
                                                          "sending live traffic at the history's own volume and "
                                                          "daily shape until interrupted")
    demo.add_argument("--history-events", type=int, default=None,
                      help="--live: the history whose volume it follows has this many events (default --events, "
                           f"or {DEMO_EVENTS} with --events 0)")
    demo.add_argument("--history-days", type=float, default=None,
                      help="--live: ... over this many days (default --days)")
    demo.add_argument("--rate", type=float, default=None,
                      help="--live: events per second instead of the history's volume (for load tests)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(func=run)


def _end_ms(text: str | None) -> int:
    if not text:
        return int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def _err(message: str) -> None:
    print(f"tme demo: {message}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except KeyboardInterrupt:
        _err("interrupted")
        return 130


def _run(args: argparse.Namespace) -> int:
    if args.events < 0 or args.days <= 0 or args.batch_size <= 0:
        _err("--events must be >= 0, --days and --batch-size > 0")
        return 2
    gateway = (args.gateway_url or default_gateway_url()).rstrip("/")
    credentials: Path | None = args.credentials or (DEFAULT_CREDENTIALS if args.gateway_url is None else None)
    via = args.via
    if via == "auto":
        via = "bulk" if args.database_url and args.events > INGEST_DEFAULT_UP_TO else "ingest"
    if via == "bulk" and not args.database_url:
        _err("--via bulk needs --database-url or TME_DATABASE_URL")
        return 2

    email = password = None
    if args.project_id is not None:
        project_id, write_key = args.project_id, args.write_key or ""
        if not write_key and (via == "ingest" or args.live):
            _err("--project-id needs --write-key for the ingest path")
            return 2
    else:
        try:
            account = ensure_account(gateway, read_credentials(credentials) if credentials else None)
        except (AccountError, OSError) as exc:
            _err(f"{exc} (is the stack running at {gateway}? start it with `make run`)")
            return 1
        except Exception as exc:  # httpx errors: the gateway is not there
            _err(f"cannot reach the gateway at {gateway}: {exc}")
            return 1
        project_id, write_key, email, password = account.projectId, account.writeKey, account.email, account.password
        if credentials is not None:
            save_credentials(credentials, account)
        print(f"demo project {project_id} (\"Demo\"), write key {write_key}")
        print(f"dashboard: {gateway}/  log in as {email} / {password}"
              + (f"  (saved in {credentials})" if credentials else ""))

    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    summary: dict[str, Any] = {"projectId": project_id, "writeKey": write_key, "email": email, "password": password,
                               "gatewayUrl": gateway, "seed": seed, "events": 0, "via": via}
    if args.events:
        plan = Plan(args.events, args.days, seed, _end_ms(args.end))
        generator = Generator(plan)
        progress = Progress(args.events, f"demo ({via})", enabled=not args.quiet)
        try:
            if via == "bulk":
                from services.demo.bulk import AlreadyLoaded, load

                try:
                    result = asyncio.run(load(args.database_url, project_id, generator, batch_size=args.batch_size,
                                              progress=progress))
                except (AlreadyLoaded, LookupError) as exc:
                    progress.close()
                    _err(str(exc))
                    return 1
                seconds = result.seconds
            else:
                from services.demo.ingest import IngestError

                started = asyncio.run(_timed_send(gateway, write_key, generator, args.concurrency, progress))
                if isinstance(started, IngestError):
                    progress.close()
                    _err(str(started))
                    return 1
                seconds = started
        finally:
            progress.close()
        rate = args.events / seconds if seconds > 0 else 0.0
        verb = "stored" if via == "bulk" else "sent to the gateway (stored by the subscriber in a moment)"
        print(f"{args.events:,} events over {args.days:g} days {verb} in {seconds:.1f} s ({rate:,.0f} events/s); "
              f"seed {seed}")
        summary.update(events=args.events, seconds=round(seconds, 2), eventsPerSecond=round(rate))
    print("DEMO " + orjson.dumps(summary).decode(), flush=True)
    if args.live:
        from services.demo.live import trickle

        history_events = args.history_events or args.events or DEMO_EVENTS
        history_days = args.history_days or args.days
        volume = (f"~{args.rate:g} events/s" if args.rate is not None else
                  f"the volume of {history_events:,} events over {history_days:g} days")
        print(f"sending live traffic at {volume} to {gateway}; Ctrl-C stops it", flush=True)
        asyncio.run(trickle(gateway, write_key, seed=seed, history_events=history_events,
                            history_days=history_days, rate=args.rate))
    return 0


async def _timed_send(gateway: str, write_key: str, generator: Generator, concurrency: int,
                      progress: Progress) -> float | IngestError:
    import time

    from services.demo.ingest import IngestError, send

    started = time.monotonic()
    try:
        await send(gateway, write_key, (e for chunk in generator.chunks() for e in chunk), concurrency=concurrency,
                   progress=progress)
    except IngestError as exc:
        return exc
    return time.monotonic() - started
