"""uvicorn's httptools protocol with the request limits of limits.py enforced while bytes arrive,
before the application sees a request:

- request line + headers larger than `max_header_bytes`, or more than `max_headers` lines: 431
  (httptools itself has no limit: an 8 MB header was read into memory whole);
- a `Content-Length` above `max_body_bytes`: 413 before a byte of the body is read; a chunked body
  that grows past it: 413 (or the connection closed, when an answer has started);
- headers still incomplete `headers_timeout_seconds` after the request began, or a body still
  incomplete `body_timeout_seconds` after its headers: 408 and the connection closed (slow-loris).
  One watchdog per connection checks once a second, so the hot path pays no timer per request.

Every refusal is the shared error shape (errors.py) with `Connection: close`."""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from services.shared.errors import ApiError, BadRequest, HeadersTooLarge, PayloadTooLarge, RequestTimeout, error_body
from services.shared.jsonutil import dumps
from services.shared.limits import ServerLimits, server_limits

WATCH_INTERVAL_SECONDS = 1.0


class Refusal(Exception):
    """An answer given by the protocol itself, before any app runs: one of the catalogue's kinds."""

    def __init__(self, kind: type[ApiError], message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = kind.status, kind.code, message


def refusal_bytes(refusal: Refusal) -> bytes:
    body = dumps(error_body(refusal.code, refusal.message))
    head = (STATUS_LINE[refusal.status] + b"content-type: application/json\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n")
    return head + body


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits: ServerLimits = server_limits()
        self._max_headers = self.limits.max_headers  # plain ints: read for every header line
        self._max_header_bytes = self.limits.max_header_bytes
        self._max_body_bytes = self.limits.max_body_bytes
        self._awaiting_headers = True  # between requests and until a request's headers are complete
        self._header_bytes = 0
        self._header_count = 0
        self._header_line_bytes = 0  # of the current request's parsed header lines
        self._body_bytes = 0
        self._request_started: float | None = None  # loop time of the current request's first byte
        self._headers_done_at = 0.0
        self._watchdog: asyncio.TimerHandle | None = None

    # --- connection ---
    # uvicorn's HttpToolsProtocol narrows asyncio's BaseTransport to Transport here (and ignores
    # the same override error); this override keeps its signature
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watchdog = self.loop.call_later(WATCH_INTERVAL_SECONDS, self._watch)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """uvicorn's, with a Refusal raised by a parser callback answered as itself (not as a
        generic 400), and the bytes received while a request's headers are incomplete counted:
        httptools keeps a header line in memory until it ends, so its callbacks alone come too late."""
        self._unset_keepalive_if_required()
        if self._awaiting_headers:
            self._header_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            cause = exc.__context__
            if isinstance(cause, Refusal):
                self.refuse(cause)
            else:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if self._awaiting_headers and self._header_bytes > self._max_header_bytes:
            self.refuse(self._headers_too_large())

    def refuse(self, refusal: Refusal) -> None:
        """Answer `refusal` (unless an answer has begun) and close the connection."""
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not cycle.response_started:
            self.transport.write(refusal_bytes(refusal))
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the application's receive() says http.disconnect, its send() is dropped
            cycle.message_event.set()
        self.transport.close()

    def _headers_too_large(self) -> Refusal:
        return Refusal(HeadersTooLarge,
                       f"The request's headers are larger than {self.limits.max_header_bytes // 1024} KB.")

    def _watch(self) -> None:
        self._watchdog = None
        if self.transport.is_closing():
            return
        started = self._request_started
        if started is not None:
            now = self.loop.time()
            if self._awaiting_headers:
                if now - started > self.limits.headers_timeout_seconds:
                    self.refuse(Refusal(RequestTimeout, "The request's headers did not arrive within "
                                        f"{self.limits.headers_timeout_seconds:g} seconds."))
                    return
            elif self.cycle is not None and self.cycle.more_body \
                    and now - self._headers_done_at > self.limits.body_timeout_seconds:
                self.refuse(Refusal(RequestTimeout, "The request body did not arrive within "
                                    f"{self.limits.body_timeout_seconds:g} seconds."))
                return
        self._watchdog = self.loop.call_later(WATCH_INTERVAL_SECONDS, self._watch)

    # --- parser callbacks ---
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._awaiting_headers = True
        self._header_count = 0
        self._header_line_bytes = 0
        self._body_bytes = 0
        self._request_started = self.loop.time()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self._max_headers:
            raise Refusal(HeadersTooLarge,
                          f"The request has more than {self.limits.max_headers} headers.")
        self._header_line_bytes += len(name) + len(value) + 4
        if self._header_line_bytes > self._max_header_bytes:
            raise self._headers_too_large()
        if len(name) == 14 and name.lower() == b"content-length":
            text = value.strip()
            if not text.isdigit() or len(text) > 18:
                raise Refusal(BadRequest, "The Content-Length header is not a number.")
            if int(text) > self._max_body_bytes:
                raise Refusal(PayloadTooLarge,
                              f"The request body is larger than {self.limits.max_body_bytes // 1024} KB.")
        # uvicorn's on_header, inlined: no super() call per header line on this hot path
        name = name.lower()
        value = value.rstrip(b" \t")
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._headers_done_at = self.loop.time()
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        if self._body_bytes > self._max_body_bytes:
            raise Refusal(PayloadTooLarge,
                          f"The request body is larger than {self.limits.max_body_bytes // 1024} KB.")
        super().on_body(body)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._awaiting_headers = True
        self._header_bytes = 0
        self._request_started = None
