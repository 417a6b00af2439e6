"""Prometheus counter of authentication events."""

from __future__ import annotations

from typing import Literal, get_args

from prometheus_client import Counter

AuthEvent = Literal["login_success", "login_failure", "login_throttled", "refresh", "refresh_reuse",
                    "register", "register_throttled", "logout"]

AUTH_EVENTS = Counter("tme_auth_events", "Authentication events in the users service", ["event"])
for _event in get_args(AuthEvent):  # export every series from the start, at zero
    AUTH_EVENTS.labels(_event)


def auth_event(event: AuthEvent) -> None:
    AUTH_EVENTS.labels(event).inc()
