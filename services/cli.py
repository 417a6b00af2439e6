"""`tme`: the Track My Events command line.

  tme dev       start the whole stack locally (embedded PostgreSQL/Redis unless URLs are set)
  tme migrate   apply database migrations to TME_DATABASE_URL
  tme demo      fill a demo project with realistic traffic (see `tme demo --help`)
  tme reattribute   re-derive agents and senders of events stored before migration 0009
  tme retention delete what is older than each project's retention, once (the chart's CronJob)
  tme import-legacy bring accounts and events over from the original Track My Events
  tme import    import Segment/RudderStack NDJSON (plain or gzip) into a project
  tme export    download a project's events as Segment NDJSON or CSV through the gateway (resumable)
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path


def _cmd_migrate(args: argparse.Namespace) -> int:
    from services.migrations.runner import upgrade

    url = os.environ.get("TME_DATABASE_URL", "")
    if not url:
        print("tme migrate: TME_DATABASE_URL is not set", file=sys.stderr)
        return 2
    upgrade(url, args.revision)
    print(f"migrations applied up to {args.revision}")
    return 0


def _cmd_reattribute(args: argparse.Namespace) -> int:
    import asyncio

    from services.maintenance.reattribute import reattribute

    url = os.environ.get("TME_DATABASE_URL", "")
    if not url:
        print("tme reattribute: TME_DATABASE_URL is not set", file=sys.stderr)
        return 2
    stats = asyncio.run(reattribute(url, args.batch_size))
    print(f"{stats.rows} events attributed; browser, OS, device or bot flag changed for {stats.changed_agent} "
          f"({stats.now_bots} now bots, {stats.no_longer_bots} no longer bots)"
          + ("; the rollups are rebuilt by the tracking service's next rollup run" if stats.rollups_reset else ""))
    return 0


def _cmd_retention(args: argparse.Namespace) -> int:
    import asyncio

    from services.lifecycle.retention import run_once
    from services.tracking.settings import TrackingSettings

    settings = TrackingSettings()
    if not settings.database_url:
        print("tme retention: TME_DATABASE_URL is not set", file=sys.stderr)
        return 2
    report = asyncio.run(run_once(settings.database_url, batch_rows=settings.delete_batch_rows,
                                  batch_pause=settings.delete_batch_pause_seconds, wait=args.wait))
    print("\n".join(report.lines()) if report else "tme retention: another run is in progress; nothing done")
    return 0


def _cmd_dev(args: argparse.Namespace) -> int:
    from services.devstack import DevStack, print_sink

    # log lines for a person at a terminal (services/shared/logging.py); JSON stays the default in
    # containers, and TME_LOG_FORMAT=json here still gives it
    os.environ.setdefault("TME_LOG_FORMAT", "text")

    stack = DevStack(
        Path(args.data_dir),
        ports={"gateway": args.port, "users": args.port + 1, "tracking": args.port + 2,
               "subscriber": args.port + 3},
        database_url=os.environ.get("TME_DATABASE_URL") or None,
        redis_url=os.environ.get("TME_REDIS_URL") or None,
        pg_port=args.pg_port,
        redis_port=args.redis_port,
    )

    def _interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    from services.demo.dev import DemoOffer, demo_enabled

    demo: DemoOffer | None = None
    try:
        stack.start()
        print_sink("tme", "")
        print_sink("tme", f"Track My Events is running: open {stack.gateway_url}/  (API docs: "
                          f"{stack.gateway_url}/api/docs)  Ctrl-C stops everything.")
        print_sink("tme", "")
        if demo_enabled(args.no_demo):
            demo = DemoOffer(data_dir=Path(args.data_dir), gateway_url=stack.gateway_url,
                             database_url=stack.database_url, env=stack.base_env(), sink=print_sink)
            demo.start()
        stack.supervise()
    except KeyboardInterrupt:
        print_sink("tme", "stopping…")
    finally:
        if demo is not None:
            demo.stop()
        stack.stop()
        print_sink("tme", "stopped")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tme", description="Track My Events: self-hosted product analytics.")
    sub = parser.add_subparsers(dest="command", required=True)

    dev = sub.add_parser("dev", help="run the whole stack locally (what `make run` does)")
    dev.add_argument("--data-dir", default=os.environ.get("TME_DATA_DIR", ".tme"),
                     help="where embedded PostgreSQL/Redis keep their data (default .tme)")
    dev.add_argument("--port", type=int, default=int(os.environ.get("TME_GATEWAY_PORT", "8000")),
                     help="gateway port; users, tracking, subscriber take the next three (default 8000)")
    dev.add_argument("--pg-port", type=int, default=int(os.environ.get("TME_EMBEDDED_PG_PORT", "55432")))
    dev.add_argument("--redis-port", type=int, default=int(os.environ.get("TME_EMBEDDED_REDIS_PORT", "56379")))
    dev.add_argument("--no-demo", action="store_true",
                     help="do not load the demo project nor send its live trickle (also TME_DEMO=0)")
    dev.set_defaults(func=_cmd_dev)

    migrate = sub.add_parser("migrate", help="apply database migrations to TME_DATABASE_URL")
    migrate.add_argument("revision", nargs="?", default="head")
    migrate.set_defaults(func=_cmd_migrate)

    reattribute = sub.add_parser(
        "reattribute", help="re-derive the person's agent, bot flag and sender of events stored before "
                            "migration 0009 (TME_DATABASE_URL; safe to stop and run again)")
    reattribute.add_argument("--batch-size", type=int, default=5000, help="rows per transaction (default 5000)")
    reattribute.set_defaults(func=_cmd_reattribute)

    retention = sub.add_parser("retention", help="delete the events (and what was made of them) older than each "
                                                 "project's retention, once (TME_DATABASE_URL)")
    retention.add_argument("--wait", action="store_true", help="wait for a run in progress instead of returning")
    retention.set_defaults(func=_cmd_retention)

    from services.demo.command import add_parser as add_demo_parser

    add_demo_parser(sub)

    from services.lifecycle.import_commands import add_parsers as add_import_parsers

    add_import_parsers(sub)

    from services.lifecycle.export_cli import add_parser as add_export_parser

    add_export_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
