"""Demo events -> the rows the subscriber stores, with the real code of both sides: the gateway's
Segment normalisation and enrichment (`segment_event`: ids, times, user agent, bot flag, path,
UTM, referrer host) and the subscriber's row builder (`batch_rows`, `person_facts`; the Python twin of its SQL, checked
equal by tests/demo). Nothing here re-implements either, so the bulk path stores what the ingest
path would."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.gateway.ingest.enrich import AgentParser
from services.gateway.ingest.events import RequestInfo
from services.gateway.ingest.fields import Problems
from services.gateway.ingest.segment import segment_event
from services.shared.stream import StreamBatch, StreamEvent
from services.subscriber.rows import PersonFact, Row, batch_rows, person_facts

MAX_FUTURE_MS = 86_400_000  # the gateway's default ingest_max_future_seconds


class RowBuilder:
    def __init__(self, project_id: int, write_key: str = "") -> None:
        self.project_id = project_id
        self.write_key = write_key
        self.agents = AgentParser(4096)  # the demo uses a few dozen user agents
        self.seq = 0

    def stream_events(self, events: Sequence[dict[str, Any]], received_at: int) -> list[StreamEvent]:
        """What the gateway enqueues for a `/v1/batch` request carrying `events`."""
        info = RequestInfo(received_at=received_at, header_agent=None, agents=self.agents,
                           max_future_ms=MAX_FUTURE_MS, has_nul=False)
        out: list[StreamEvent] = []
        for raw in events:
            event = segment_event(raw, info, forced_type=None)
            if isinstance(event, Problems):  # a bug in the generator, not something to hide
                raise ValueError(f"demo event refused by the gateway's validation: {dict(event)}")
            out.append(event)
        return out

    def rows(self, events: Sequence[dict[str, Any]], received_at: int) -> tuple[list[Row], list[PersonFact]]:
        """The rows and person facts the subscriber would store from that request."""
        batch = StreamBatch(b"0-0", self.project_id, self.write_key, received_at,
                            self.stream_events(events, received_at))
        rows = batch_rows(batch, self.seq)
        self.seq += len(rows)
        return rows, person_facts(batch)
