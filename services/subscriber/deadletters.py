"""Dead letters: entries the subscriber set aside (`unreadable`, or `refused` by PostgreSQL after
`max_deliveries`; before project deletions existed, entries of an unknown project were set aside
too, as `unknown_project`: today they are dropped). Each keeps the original entry's fields plus
`reason`, `kind`, `original_id`, `consumer`, `deliveries`, `failed_at`. A project's deletion
deletes its dead letters (services/lifecycle/deletion.py).

    python -m services.subscriber.deadletters list   [--count N]
    python -m services.subscriber.deadletters replay [--count N] [--kind KIND] [--id ID ...]

`replay` puts entries back on the event stream (after the cause was fixed) and removes them
from the dead letters; their events keep their messageIds, so nothing already stored is
stored twice. Uses TME_REDIS_URL."""

from __future__ import annotations

import argparse
import os
import sys

import redis
from redis.typing import EncodableT, FieldT, StreamRangeResponse

from services.shared.redis import DEAD_LETTER_STREAM, EVENTS_STREAM

LETTER_FIELDS = (b"reason", b"kind", b"original_id", b"consumer", b"deliveries", b"failed_at")


def _letters(reply: StreamRangeResponse | None) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """XRANGE's entries as the bytes this module's client answers with (it does not decode replies)."""
    return [(letter_id, {k: v for k, v in fields.items() if isinstance(k, bytes) and isinstance(v, bytes)})
            for letter_id, fields in reply or () if isinstance(letter_id, bytes) and fields is not None]


def list_letters(client: redis.Redis, count: int) -> list[dict[str, str]]:
    out = []
    for letter_id, fields in _letters(client.xrange(DEAD_LETTER_STREAM, count=count)):
        out.append({"id": letter_id.decode(), **{k.decode(): fields.get(k, b"").decode(errors="replace")
                                                 for k in LETTER_FIELDS}})
    return out


def replay(client: redis.Redis, count: int, kind: str | None = None, ids: list[str] | None = None) -> int:
    """Move up to `count` dead letters (of `kind`, or with these ids, if given) back to the
    event stream."""
    moved = 0
    letters = [(i.encode(), f) for i in ids for _, f in _letters(client.xrange(DEAD_LETTER_STREAM, min=i, max=i))] \
        if ids else _letters(client.xrange(DEAD_LETTER_STREAM, count=count))
    for letter_id, fields in letters[:count]:
        if kind and fields.get(b"kind", b"").decode() != kind:
            continue
        entry: dict[FieldT, EncodableT] = {k: v for k, v in fields.items() if k not in LETTER_FIELDS}
        with client.pipeline(transaction=True) as pipe:
            pipe.xadd(EVENTS_STREAM, entry)
            pipe.xdel(DEAD_LETTER_STREAM, letter_id)
            pipe.execute()
        moved += 1
    return moved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.subscriber.deadletters", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("list", "replay"))
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--kind", choices=("unreadable", "refused", "unknown_project"))
    parser.add_argument("--id", action="append", dest="ids", help="replay this dead letter (repeatable)")
    args = parser.parse_args(argv)
    url = os.environ.get("TME_REDIS_URL", "")
    if not url:
        print("TME_REDIS_URL is not set", file=sys.stderr)
        return 2
    client = redis.Redis.from_url(url)
    if args.command == "list":
        for letter in list_letters(client, args.count):
            if not args.kind or letter["kind"] == args.kind:
                print(f"{letter['id']}  {letter['kind']:<15} deliveries={letter['deliveries']:<3} {letter['reason']}")
        return 0
    print(f"replayed {replay(client, args.count, args.kind, args.ids)} dead letter(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
