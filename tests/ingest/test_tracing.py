"""The trace context of an ingest request travels inside its stream entry (W3C traceparent),
so the subscriber's write can be linked to the request that produced it."""

from __future__ import annotations

import asyncio
import uuid

import redis
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from services.gateway.ingest.queue import EventQueue
from services.shared.redis import EVENTS_STREAM, create_redis
from services.shared.stream import decode_batch
from services.subscriber.consumer import Consumer


def test_traceparent_is_carried_in_the_stream_entry(redis_url: str, rds: redis.Redis) -> None:
    tracer = TracerProvider().get_tracer("test")
    queue = EventQueue(max_backlog=10**9, check_interval=1, retry_after=1, timeout=5)
    key = f"wk_trace_{uuid.uuid4().hex}"
    # a consumer group of the test's own sees the entry whatever the subscriber does with it (the
    # stream is trimmed only below what every group has acknowledged)
    group = f"trace-test-{uuid.uuid4().hex}"
    rds.xgroup_create(EVENTS_STREAM, group, id="$", mkstream=True)

    async def enqueue() -> int:
        client = create_redis(redis_url)
        try:
            with tracer.start_as_current_span("request") as span:
                # project 0 does not exist: nothing is stored
                await queue.enqueue(client, 0, key, 1, [])
                return span.get_span_context().trace_id
        finally:
            await client.aclose()

    try:
        trace_id = asyncio.run(enqueue())
        reply = rds.xreadgroup(group, "test", {EVENTS_STREAM: ">"})
    finally:
        rds.xgroup_destroy(EVENTS_STREAM, group)
    entries = [e for _, items in reply for e in items if e[1].get(b"k") == key.encode()]
    assert entries
    batch = decode_batch(entries[0][0], entries[0][1])
    assert batch.carrier["traceparent"].split("-")[1] == format(trace_id, "032x")
    [link] = Consumer._links([batch])
    assert link.context.trace_id == trace_id
    assert trace.get_current_span().get_span_context().is_valid is False
