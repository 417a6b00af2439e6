"""The native event shape (the seed's SDK): `apiKey, sessionId, userId, eventName, eventTime (ms),
page, referrer, context`, plus optional `messageId, anonymousId, properties, sentAt`."""

from __future__ import annotations

import secrets
from typing import Any

from services.gateway.ingest import fields as f
from services.gateway.ingest.events import RequestInfo, build_event
from services.shared.stream import StreamEvent

PAGE_VIEW = "PAGE_VIEW"


def temporary_user_id(received_at: int) -> str:
    """`temp:<time><random>`, the seed snippet's id for a visitor who has not been identified."""
    return f"temp:{received_at}{secrets.randbelow(10**9):09d}"


def native_event(ev: Any, info: RequestInfo) -> StreamEvent | f.Problems:
    problems = f.Problems()
    if not isinstance(ev, dict):
        problems.add("", f"must be an object, not {f.json_type(ev)}")
        return problems
    name = f.text(ev, "eventName", problems, max_len=f.MAX_NAME, required=True)
    message_id = f.ident(ev, "messageId", problems)
    user_id = f.ident(ev, "userId", problems)
    anonymous_id = f.ident(ev, "anonymousId", problems)
    session_id = f.ident(ev, "sessionId", problems)
    when = f.timestamp(ev, "eventTime", problems)
    sent_at = f.timestamp(ev, "sentAt", problems)
    page = f.text(ev, "page", problems, max_len=f.MAX_URL)
    referrer = f.text(ev, "referrer", problems, max_len=f.MAX_URL)
    context = f.obj(ev, "context", problems)
    properties = f.obj(ev, "properties", problems)
    if problems:
        return problems
    assert name is not None
    if user_id is None and anonymous_id is None:
        user_id = temporary_user_id(info.received_at)
    return build_event(
        info,
        type_="page" if name == PAGE_VIEW else "track",
        name=name,
        message_id=message_id,
        user_id=user_id,
        anonymous_id=anonymous_id,
        session_id=session_id,
        timestamp=when,
        sent_at=sent_at,
        page=page,
        referrer=referrer,
        properties=properties,
        context=context,
    )
