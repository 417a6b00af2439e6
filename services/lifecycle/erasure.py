"""One person's erasure: their events, profile and aliases, and their share of the rollups."""

from __future__ import annotations

from services.lifecycle.runner import JobContext


async def erase_person(ctx: JobContext) -> None:
    raise NotImplementedError("erasure is being built")
