"""Write the gateway's OpenAPI document (what /api/openapi.json serves) to a file, without a server.

The dashboard's TypeScript types are generated from this file (scripts/build_web.sh):
    python -m services.gateway.openapi_dump services/gateway/dashboard/openapi.json
    python -m services.gateway.openapi_dump -        # to stdout
The file is rewritten only when the document changed, so its modification time says when the API
description last changed and the build can tell whether the dashboard is out of date."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from services.gateway.openapi import openapi_document


def document_text() -> str:
    """The document as stable JSON: keys in the document's own order, one trailing newline."""
    return json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n"


def write_if_changed(path: Path, text: str) -> bool:
    """Write `text` to `path` unless it already holds exactly that; True when the file changed."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)  # a reader never sees half a document
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.gateway.openapi_dump", description=__doc__.split("\n")[0])
    parser.add_argument("output", help="file to write, or - for standard output")
    args = parser.parse_args(argv)
    text = document_text()
    if args.output == "-":
        sys.stdout.write(text)
    elif write_if_changed(Path(args.output), text):
        print(f"openapi_dump: wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
