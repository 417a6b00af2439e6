"""Stream events -> plain rows of `events` (JSON as text, times as epoch ms), plus the
identify/alias facts for persons.

The subscriber itself has PostgreSQL turn an entry's serialised events into rows (writer.py);
`batch_rows` is the same mapping in Python, for the demo's bulk path (services.demo), which
COPYs rows straight into `events`. tests/demo checks that both paths store identical rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from services.shared.stream import STORED_FIELDS, StreamBatch, StreamFormatError

# a row: seq, project_id, received_at_ms, then STORED_FIELDS' columns (times as `<column>_ms`)
ROW_COLUMNS = ("seq", "project_id", "received_at_ms",
               *(f"{f.column}_ms" if f.is_time else f.column for f in STORED_FIELDS))
Row = tuple[Any, ...]
_KEYS = tuple(f.key for f in STORED_FIELDS)
_JSON_DEFAULTS = {f.key: (None if f.optional else "{}") for f in STORED_FIELDS if f.sql_type == "jsonb"}


@dataclass(frozen=True)
class PersonFact:
    """An identify (traits for a visitor) or a link between two ids, from one new event."""

    project_id: int
    message_id: str
    kind: str  # identify | alias
    visitor_id: str
    alias_id: str | None
    traits: dict[str, Any] | None
    time_ms: int


def _json(value: Any, default: str | None) -> str | None:
    return default if value is None else orjson.dumps(value).decode()


_JSON_AT = tuple((i, k) for i, k in enumerate(_KEYS) if k in _JSON_DEFAULTS)
_BOT_AT = _KEYS.index("isBot")


def batch_rows(batch: StreamBatch, seq_start: int) -> list[Row]:
    """Rows for every event of one entry (ROW_COLUMNS order; see the module docstring). The
    identity fields are checked here (StreamFormatError); any other field of a wrong type makes the
    row encoder raise TypeError/ValueError."""
    rows: list[Row] = []
    project_id = batch.project_id
    received = batch.received_at
    seq = seq_start
    for e in batch.events:
        g = e.get
        message_id, type_, name, when = g("messageId"), g("type"), g("event"), g("timestamp")
        if type(message_id) is not str or not message_id or type(type_) is not str or type(name) is not str \
                or type(when) is not int:
            raise StreamFormatError("event without a valid messageId, type, event or timestamp")
        values = [g(k) for k in _KEYS]
        for i, key in _JSON_AT:
            values[i] = _json(values[i], _JSON_DEFAULTS[key])
        values[_BOT_AT] = bool(values[_BOT_AT])
        rows.append((seq, project_id, received, *values))
        seq += 1
    return rows


def person_facts(batch: StreamBatch) -> list[PersonFact]:
    """identify: traits for userId (else anonymousId), and anonymousId -> userId;
    alias: previousId -> userId."""
    facts: list[PersonFact] = []
    for e in batch.events:
        type_ = e.get("type")
        if type_ not in ("identify", "alias"):
            continue
        user_id, anonymous_id = e.get("userId"), e.get("anonymousId")
        message_id, when = str(e.get("messageId")), int(e.get("timestamp") or batch.received_at)
        if type_ == "identify":
            visitor = user_id or anonymous_id
            if not visitor:
                continue
            traits = e.get("traits")
            facts.append(PersonFact(batch.project_id, message_id, "identify", visitor,
                                    anonymous_id if user_id and anonymous_id and anonymous_id != user_id else None,
                                    traits if isinstance(traits, dict) else {}, when))
        else:
            previous = e.get("previousId")
            if user_id and previous and previous != user_id:
                facts.append(PersonFact(batch.project_id, message_id, "alias", user_id, previous, None, when))
    return facts
