"""`tme export`: download a whole project's events through the gateway into a file, with a
progress bar, resuming a partial file instead of starting again.

  tme export --project ID --out FILE [--format ndjson|csv] [--from ...] [--to ...]
             [--gateway URL] [--api-key KEY | --email EMAIL]

Authentication: an API key (`tme_key_...`, a `read` key of the project is enough) from --api-key or
TME_API_KEY, else an access token from TME_TOKEN, else a login with --email and the password from
TME_PASSWORD or a prompt. The export is GET /api/projects/{id}/export (oldest first, in a stable
order); the progress bar's total is /export/count with the same parameters.

When FILE exists, the download continues after its last complete line (a torn last line is cut
off first; export_file.py), so an interrupted export is finished by running the same command
again; a finished one gets only the events after its last line. A download the connection broke off is
resumed the same way at once, up to --retries times in a row. A download is complete when it
wrote at least as many events as the count said were to come: a body that ends early at a line
boundary (the gateway ends the body when the tracking service goes away) is not taken for the
whole export."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from services.demo.progress import Progress
from services.lifecycle.export_file import Format, NotAnExport, RecordCounter, ResumePoint, resume_point

HELP = __doc__
DEFAULT_RETRIES = 5
TIMEOUT = httpx.Timeout(120.0, connect=10.0)


class ExportError(Exception):
    """Why the export cannot go on (said to the user as it is)."""


def default_gateway() -> str:
    return os.environ.get("TME_GATEWAY_URL") or f"http://localhost:{os.environ.get('TME_GATEWAY_PORT', '8000')}"


def add_parser(sub: Any) -> None:
    export = sub.add_parser("export", help="download a project's events as Segment NDJSON or CSV (resumable)",
                            description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    export.add_argument("--project", required=True, type=int, help="the project's id")
    export.add_argument("--out", required=True, type=Path, help="the file to write (a partial one is resumed)")
    export.add_argument("--format", choices=("ndjson", "csv"), default="ndjson",
                        help="ndjson: a Segment spec message per line (what `tme import --file` reads); csv: the "
                             "event explorer's columns (default ndjson)")
    export.add_argument("--from", dest="from_", metavar="FROM", default=None,
                        help="first day or moment (ISO; default: the first event)")
    export.add_argument("--to", default=None, help="last day (included) or moment (excluded) (default: the last event)")
    export.add_argument("--gateway", default=default_gateway(),
                        help="the gateway's URL (default $TME_GATEWAY_URL, else http://localhost:$TME_GATEWAY_PORT "
                             "or 8000)")
    export.add_argument("--api-key", default=os.environ.get("TME_API_KEY") or None,
                        help="an API key (tme_key_..., default $TME_API_KEY) to use instead of a login")
    export.add_argument("--email", default=os.environ.get("TME_EMAIL") or None,
                        help="log in as this user (password from TME_PASSWORD or a prompt) unless TME_TOKEN is set")
    export.add_argument("--retries", type=int, default=DEFAULT_RETRIES,
                        help=f"resume a broken download this many times in a row (default {DEFAULT_RETRIES})")
    export.add_argument("--quiet", action="store_true", help="no progress bar")
    export.set_defaults(func=export_command)


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200] or f"HTTP {response.status_code}"


def access_token(http: httpx.Client, email: str | None, api_key: str | None = None) -> str:
    """The bearer to send: the API key if given, else TME_TOKEN, else a login's access token."""
    if api_key:
        return api_key
    token = os.environ.get("TME_TOKEN")
    if token:
        return token
    if not email:
        raise ExportError("give --api-key (or TME_API_KEY), set TME_TOKEN to an access token, or give --email "
                          "(password from TME_PASSWORD or a prompt)")
    password = os.environ.get("TME_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            raise ExportError("no TME_PASSWORD and no terminal to ask for the password")
        password = getpass.getpass(f"Password for {email}: ")
    response = http.post("/api/auth/login", json={"email": email, "password": password})
    if response.status_code != 200:
        raise ExportError(f"login failed ({response.status_code}): {_message(response)}")
    return str(response.json()["accessToken"])


@dataclass
class Export:
    http: httpx.Client
    project: int
    fmt: Format
    out: Path
    from_: str | None
    to: str | None

    def params(self, after: tuple[str, str] | None) -> dict[str, str]:
        params: dict[str, str] = {"format": self.fmt}
        if self.from_:
            params["from"] = self.from_
        if self.to:
            params["to"] = self.to
        if after is not None:
            params["after"] = orjson.dumps(list(after)).decode()
        return params

    def _failed(self, response: httpx.Response) -> ExportError:
        if response.status_code == 404:
            return ExportError(f"project {self.project} not found (or it is not yours)")
        return ExportError(f"the gateway answered {response.status_code}: {_message(response)}")

    def count(self, after: tuple[str, str] | None) -> int | None:
        """The events still to come after `after`; None when the count is not available."""
        response = self.http.get(f"/api/projects/{self.project}/export/count", params=self.params(after))
        if response.status_code in (400, 401, 404):
            raise self._failed(response)
        if response.status_code != 200:
            return None
        return int(response.json()["events"])

    def download(self, point: ResumePoint, progress: Progress) -> tuple[int, bool]:
        """Appends the events after `point` to the file: how many it wrote (complete records), and
        whether the file ends with a complete one."""
        counter = RecordCounter(self.fmt)
        written = 0
        header = self.fmt == "csv" and point.after is None  # a first CSV download starts with its header row
        last = b"\n"
        path = f"/api/projects/{self.project}/export"
        with self.http.stream("GET", path, params=self.params(point.after)) as response:
            if response.status_code != 200:
                response.read()
                raise self._failed(response)
            with open(self.out, "ab") as fh:
                for chunk in response.iter_raw():
                    fh.write(chunk)
                    records = counter.feed(chunk)
                    if header and records:
                        records, header = records - 1, False
                    written += records
                    progress.advance(records)
                    last = chunk[-1:] or last
                fh.flush()
                os.fsync(fh.fileno())
        return written, last == b"\n" and not counter.in_quotes


def run_export(export: Export, retries: int, quiet: bool) -> tuple[int, int]:
    """(events written by this run, events the file had before it, as far as the count knows)."""
    point = resume_point(export.out, export.fmt)
    if point.cut:
        print(f"tme export: cut {point.cut} bytes of an incomplete last line off {export.out}", file=sys.stderr)
    remaining = export.count(point.after)
    total = export.count(None) if point.after is not None else remaining
    before = total - remaining if total is not None and remaining is not None else 0
    if point.after is not None:
        print(f"tme export: resuming {export.out} after {before:,} events "
              f"(the last one {point.after[0]}, {point.after[1]})", file=sys.stderr)
    progress = Progress(remaining or 0, "export", enabled=not quiet and remaining is not None)
    written = failures = 0
    try:
        while True:
            try:
                done, clean = export.download(point, progress)
                reason = "the download ended early"
            except httpx.TransportError as exc:
                done, clean = 0, False
                reason = f"the connection broke ({type(exc).__name__})"
            written += done
            if clean and (remaining is None or done >= remaining):
                return written, before
            failures = 1 if done else failures + 1  # retries in a row that got nothing further
            if failures > retries:
                raise ExportError(f"{reason}; gave up after {retries} retries. Run the same command again to resume.")
            print(f"tme export: {reason}; resuming", file=sys.stderr)
            point = resume_point(export.out, export.fmt)
            remaining = export.count(point.after)
    finally:
        progress.close()


def export_command(args: argparse.Namespace) -> int:
    fmt: Format = args.format
    try:
        with httpx.Client(base_url=args.gateway, timeout=TIMEOUT) as http:
            http.headers["Authorization"] = f"Bearer {access_token(http, args.email, args.api_key)}"
            export = Export(http, args.project, fmt, args.out, args.from_, args.to)
            written, before = run_export(export, args.retries, args.quiet)
    except NotAnExport as exc:
        print(f"tme export: {args.out} is not a {args.format} export ({exc}); move it away or choose another --out",
              file=sys.stderr)
        return 2
    except ExportError as exc:
        print(f"tme export: {exc}", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"tme export: cannot reach the gateway at {args.gateway} ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\ntme export: interrupted; run the same command again to resume {args.out}", file=sys.stderr)
        return 130
    print(f"{written:,} events written to {args.out}" + (f" after the {before:,} it had" if before else ""))
    return 0
