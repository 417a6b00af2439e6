"""One trace follows an event from the gateway's request through its calls to users and
tracking, across the Redis Stream (the context rides in the entry) into the subscriber's batch
(linked to each event's trace) and its database write (a child span). Spans are collected by
the stack's TME_TRACE_FILE exporter: every service process appends its finished spans there."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from .conftest import Flow, TracedStack, wait_for


def _by_id(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["span_id"]: s for s in spans}


def _track_requests(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in spans if s["service"] == "tme-gateway" and s["kind"] == "SERVER"
            and s["name"] == "POST /api/track" and s["attributes"].get("http.response.status_code") == 200]


def test_a_tracked_event_is_followed_from_the_gateway_into_its_database_write(
        traced_stack: TracedStack, flow: Flow) -> None:
    def linked_batches() -> list[dict[str, Any]]:
        spans = traced_stack.spans()
        traces = {s["trace_id"] for s in _track_requests(spans)}
        return [s for s in spans if s["service"] == "tme-subscriber" and s["name"] == "subscriber write"
                and {link["trace_id"] for link in s["links"]} & traces]

    batches = wait_for(linked_batches, "a subscriber batch span linked to a track request")
    spans = traced_stack.spans()
    by_id = _by_id(spans)
    requests = {s["trace_id"]: s for s in _track_requests(spans)}
    batch = batches[0]
    linked = [requests[link["trace_id"]] for link in batch["links"] if link["trace_id"] in requests]
    assert linked
    request = linked[0]
    # the link points at the gateway's enqueue span, a child of the request span
    link = next(li for li in batch["links"] if li["trace_id"] == request["trace_id"])
    enqueue = by_id[link["span_id"]]
    assert enqueue["name"] == "ingest enqueue" and enqueue["parent_span_id"] == request["span_id"]
    # the request resolved its write key with users: client span + users' server span, same trace
    same_trace = [s for s in spans if s["trace_id"] == request["trace_id"]]
    lookups = [s for s in same_trace if s["service"] == "tme-users" and s["kind"] == "SERVER"]
    if lookups:  # the first request of a write key asks users; later ones hit the gateway's cache
        assert by_id[lookups[0]["parent_span_id"]]["name"] == "GET users"
    # the database write is a child of the batch span
    children = [s for s in spans if s["parent_span_id"] == batch["span_id"]]
    # the one statement that adds the ids to the ledger and the rows to events (its text is kept up
    # to 2,000 characters: the ledger's INSERT comes first)
    writes = [s for s in children if "INSERT INTO event_ids" in s["attributes"].get("db.query.text", "")]
    assert writes and all(s["attributes"]["db.system"] == "postgresql" for s in children)
    assert {s["trace_id"] for s in children} == {batch["trace_id"]}


def test_a_write_key_lookup_continues_the_request_trace_in_the_users_service(
        traced_stack: TracedStack, flow: Flow) -> None:
    spans = traced_stack.spans()
    by_id = _by_id(spans)
    lookups = [s for s in spans if s["service"] == "tme-users" and s["name"] == "GET /internal/write-keys/{write_key}"]
    assert lookups
    client = by_id[lookups[0]["parent_span_id"]]
    assert client["service"] == "tme-gateway" and client["kind"] == "CLIENT"
    root = by_id[client["parent_span_id"]]
    assert root["name"] == "POST /api/track" and root["parent_span_id"] is None
    assert lookups[0]["trace_id"] == root["trace_id"]


def test_an_analytics_request_is_one_trace_across_gateway_users_and_tracking(
        traced_stack: TracedStack, flow: Flow) -> None:
    spans = traced_stack.spans()
    roots = [s for s in spans if s["service"] == "tme-gateway" and s["kind"] == "SERVER"
             and s["name"] == "GET /api/projects/{project_id:int}/{rest:path}"]
    assert roots
    for root in roots:
        services = {s["service"] for s in spans if s["trace_id"] == root["trace_id"]}
        tracking = [s for s in spans if s["trace_id"] == root["trace_id"] and s["service"] == "tme-tracking"
                    and s["kind"] == "SERVER"]
        assert {"tme-gateway", "tme-tracking"} <= services
        assert tracking and tracking[0]["name"].startswith("GET /api/projects/{project_id:int}/")
        queries = [s for s in spans if s["parent_span_id"] == tracking[0]["span_id"]]
        assert queries and all(s["attributes"]["db.system"] == "postgresql" for s in queries)
    # the gateway checked the token and the project with users inside the same traces
    assert any(s["service"] == "tme-users" and s["name"] == "GET /internal/auth/verify"
               and s["trace_id"] in {r["trace_id"] for r in roots} for s in spans)


def test_spans_carry_no_secrets(traced_stack: TracedStack, flow: Flow) -> None:
    text = traced_stack.spans_path.read_text()
    for what, secret in flow.secrets.items():
        assert secret not in text, f"the {what} appears in a span"


def test_tracing_is_off_and_costs_nothing_by_default() -> None:
    """Without OTEL_*/TME_TRACE_FILE, a service process installs no provider and patches nothing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TME_TRACE"))}
    code = (
        "import asyncpg\n"
        "from opentelemetry import trace\n"
        "from services.shared.tracing import configure_tracing, tracing_enabled\n"
        "from services.shared.tracing_http import traced_transport\n"
        "import httpx\n"
        "configure_tracing('gateway')\n"
        "assert not tracing_enabled()\n"
        "assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)\n"
        "assert not hasattr(asyncpg.Connection.execute, '__tme_traced__')\n"
        "assert traced_transport('users', httpx.Limits()) is None\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    off = {**env, "OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    subprocess.run([sys.executable, "-c", code], env=off, check=True, timeout=60)
