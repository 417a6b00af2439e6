"""Structured logging: one JSON object per line (`ts`, `level`, `service`, `logger`, `msg`, the
call's extra fields, `exc` for a traceback), carrying the OpenTelemetry `trace_id` and `span_id`
when a span is active (tracing on, inside a request or a subscriber batch). That is the default
(TME_LOG_FORMAT=json), for containers and log collectors.

TME_LOG_FORMAT=text, which `tme dev` sets unless told otherwise, writes the same records for a
person reading a terminal: `12:04:05 INFO  uvicorn: Started server process [41]  key=value ...`
(local time; uvicorn's `uvicorn.error` logger, which carries its ordinary lines, is `uvicorn`).

Never log secrets: callers pass ids, not tokens or passwords. As a safety net, an extra field
whose name says it holds a secret (password, token, secret, authorization, cookie, key) is
written as "[redacted]"."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from typing import Any

import orjson
from opentelemetry import trace

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message", "asctime", "color_message",  # uvicorn's copy of the message with ANSI colours
}
_SECRET_WORDS = ("password", "token", "secret", "authorization", "cookie", "key")


def _is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            entry["trace_id"] = format(ctx.trace_id, "032x")
            entry["span_id"] = format(ctx.span_id, "016x")
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = "[redacted]" if _is_secret(key) else value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


_SHORT_NAMES = {"uvicorn.error": "uvicorn"}  # uvicorn logs its normal lines (startup, shutdown) there


class TextFormatter(logging.Formatter):
    """One human-readable line per record: local time, level, logger, message, extra fields as
    key=value (secrets redacted as in JSON), a traceback below. The service's name is not
    repeated: `tme dev` prefixes every line with it."""

    def format(self, record: logging.LogRecord) -> str:
        when = dt.datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        name = _SHORT_NAMES.get(record.name, record.name)
        line = f"{when} {record.levelname:<5} {name}: {record.getMessage()}"
        extras = [f"{key}={'[redacted]' if _is_secret(key) else value}" for key, value in record.__dict__.items()
                  if key not in _RESERVED and not key.startswith("_")]
        if extras:
            line += "  " + " ".join(extras)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service) if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's access log duplicates our request metrics and costs time on the hot path
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
