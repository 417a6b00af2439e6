"""A project's deletion: every row of the project, in every table, in bounded batches."""

from __future__ import annotations

from services.lifecycle.runner import JobContext


async def delete_project(ctx: JobContext) -> None:
    raise NotImplementedError("project deletion is being built")
