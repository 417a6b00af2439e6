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


def _usual(ev: dict[str, Any], deep: bool) -> tuple[Any, ...] | None:
    """The event's fields when every one has its usual form (the validators below would accept
    each as it is), else None: then the validators run and name every problem. Checked inline,
    without a call per field: this is most of the gateway's work per event."""
    g = ev.get
    name = g("eventName")
    if type(name) is not str or not 0 < len(name) <= f.MAX_NAME:
        return None
    ids = (g("messageId"), g("userId"), g("anonymousId"), g("sessionId"))
    for value in ids:
        if value is not None and (type(value) is not str or not 0 < len(value) <= f.MAX_ID):
            return None
    when, sent_at = g("eventTime"), g("sentAt")
    for value in (when, sent_at):
        if value is not None and (type(value) is not int or not f.MIN_TIME_MS <= value < f.MAX_TIME_MS):
            return None
    page, referrer = g("page"), g("referrer")
    for value in (page, referrer):
        if value is not None and (type(value) is not str or not 0 < len(value) <= f.MAX_URL):
            return None
    context, properties = g("context"), g("properties")
    if (context is not None and type(context) is not dict) or (properties is not None and type(properties) is not dict):
        return None
    if deep and ((context and f.too_deep(context)) or (properties and f.too_deep(properties))):
        return None
    return (name, *ids, when, sent_at, page, referrer, context, properties)


def native_event(ev: Any, info: RequestInfo) -> StreamEvent | f.Problems:
    usual = _usual(ev, info.may_nest_deep) if type(ev) is dict else None
    if usual is not None:
        name, message_id, user_id, anonymous_id, session_id, when, sent_at, page, referrer, context, properties = usual
    else:
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
        context = f.obj(ev, "context", problems, deep=info.may_nest_deep)
        properties = f.obj(ev, "properties", problems, deep=info.may_nest_deep)
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
