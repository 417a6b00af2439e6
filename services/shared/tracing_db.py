"""Client spans for PostgreSQL statements made through asyncpg (installed only when tracing is on).

The query methods of `asyncpg.Connection` (pool connections delegate to them) are wrapped: a
statement made while a span is active becomes a child span named after its verb (`SELECT`,
`INSERT`, `COPY events`...), with the statement text (placeholders, never the arguments).
Statements made outside any span (background upkeep) create no span."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from opentelemetry import trace
from opentelemetry.trace import SpanKind

_tracer = trace.get_tracer("tme.postgresql")
_QUERY_METHODS = ("execute", "executemany", "fetch", "fetchval", "fetchrow")
_COPY_METHODS = ("copy_records_to_table", "copy_to_table")
_MAX_STATEMENT = 2000
_instrumented = False


def _verb(statement: str) -> str:
    words = statement.replace(";", " ").split(None, 1)
    return words[0].upper()[:16] if words else "SQL"


def _wrap(method: str, original: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    copy = method in _COPY_METHODS

    @functools.wraps(original)
    async def traced(self: asyncpg.Connection, *args: Any, **kwargs: Any) -> Any:
        if not args or not trace.get_current_span().get_span_context().is_valid:
            return await original(self, *args, **kwargs)
        target = str(args[0])
        attributes: dict[str, str] = {"db.system": "postgresql"}
        if copy:
            name = f"COPY {target}"
            attributes["db.operation.name"] = "COPY"
            attributes["db.collection.name"] = target
        else:
            name = _verb(target)
            attributes["db.operation.name"] = name
            attributes["db.query.text"] = target[:_MAX_STATEMENT]
        with _tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes):
            return await original(self, *args, **kwargs)

    # a marker against wrapping twice: a function takes any attribute, mypy knows of none on it
    traced.__tme_traced__ = True  # type: ignore[attr-defined]
    return traced


def instrument_asyncpg() -> None:
    global _instrumented
    if _instrumented:
        return
    for method in (*_QUERY_METHODS, *_COPY_METHODS):
        original = getattr(asyncpg.Connection, method)
        if not getattr(original, "__tme_traced__", False):
            setattr(asyncpg.Connection, method, _wrap(method, original))
    _instrumented = True
