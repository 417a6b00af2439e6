"""Service logs of a full flow (register, wrong password, login, refresh, track, analytics) are
JSON lines; lines written while serving a request carry that request's trace and span ids; no
password and no token appears anywhere."""

from __future__ import annotations

import json
from typing import Any

from .conftest import SERVICES, Flow, TracedStack, wait_for

REQUEST_MESSAGES = {"user registered", "login failed", "login succeeded", "tokens refreshed"}


def _entries(stack: TracedStack) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for service, line in stack.service_log_lines():
        try:
            entry = json.loads(line)
        except ValueError:
            raise AssertionError(f"{service} wrote a line that is not JSON: {line!r}") from None
        assert isinstance(entry, dict), line
        out.append((service, entry))
    return out


def test_every_line_of_every_service_is_a_json_object(traced_stack: TracedStack, flow: Flow) -> None:
    entries = _entries(traced_stack)
    assert {service for service, _ in entries} == set(SERVICES)
    for service, entry in entries:
        assert entry["service"] == service
        assert {"ts", "level", "logger", "msg"} <= set(entry)
        assert "color_message" not in entry


def test_lines_written_in_a_request_carry_its_trace(traced_stack: TracedStack, flow: Flow) -> None:
    def request_lines() -> list[dict[str, Any]]:
        found = [e for s, e in _entries(traced_stack) if s == "users" and e["msg"] in REQUEST_MESSAGES
                 and e.get("user_id") is not None]
        return found if {e["msg"] for e in found} >= REQUEST_MESSAGES else []

    lines = wait_for(request_lines, "the users service's lines of the flow")
    spans = traced_stack.spans()
    gateway_traces = {s["trace_id"]: s["name"] for s in spans
                      if s["service"] == "tme-gateway" and s["kind"] == "SERVER"}
    users_spans = {s["span_id"] for s in spans if s["service"] == "tme-users"}
    for entry in lines:
        assert len(entry["trace_id"]) == 32 and len(entry["span_id"]) == 16, entry
        assert entry["trace_id"] in gateway_traces, entry  # the trace began at the gateway
        assert entry["span_id"] in users_spans, entry
    by_msg = {e["msg"]: gateway_traces[e["trace_id"]] for e in lines}
    assert by_msg["user registered"] == "POST /api/auth/register"
    assert by_msg["tokens refreshed"] == "POST /api/auth/refresh"


def test_no_password_and_no_token_is_ever_logged(traced_stack: TracedStack, flow: Flow) -> None:
    text = "\n".join(line for _, line in traced_stack.service_log_lines())
    for what, secret in flow.secrets.items():
        assert secret not in text, f"the {what} appears in the logs"
