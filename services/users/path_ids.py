"""Ids in request paths: a row's id is a positive PostgreSQL bigint, and anything else names no
row (the routes answer 404 for it, never a 500 from the database)."""

from __future__ import annotations

MAX_BIGINT = 2**63 - 1


def path_id(raw: str) -> int | None:
    """The id `raw` spells, or None when it cannot be a row's id."""
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= MAX_BIGINT:
        return None
    return int(raw)
