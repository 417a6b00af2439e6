"""Positional parameters for hand-written SQL: every user value goes through `Params.add`,
never into the query text. Query text only ever contains whitelisted fragments."""

from __future__ import annotations

from typing import Any


class Params:
    def __init__(self) -> None:
        self.values: list[Any] = []

    def add(self, value: Any, cast: str | None = None) -> str:
        """Append a value; returns its placeholder (`$3`, or `$3::text[]` with a cast)."""
        self.values.append(value)
        placeholder = f"${len(self.values)}"
        return f"{placeholder}::{cast}" if cast else placeholder


# Event types that are things people do; identify/group/alias describe people and are left out
# of analytics (they remain visible in the explorer, the person view and exports).
ACTION_TYPES = "('track', 'page', 'screen')"
VIEW_TYPES = "('page', 'screen')"
