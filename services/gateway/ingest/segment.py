"""Segment's HTTP Tracking API event shapes (track, page, screen, identify, group, alias) and
how they map onto the stream's event: track -> its `event`; page -> PAGE_VIEW; screen ->
SCREEN_VIEW; identify/group/alias -> IDENTIFY/GROUP/ALIAS (the `type` column says which)."""

from __future__ import annotations

from typing import Any

from services.gateway.ingest import fields as f
from services.gateway.ingest.events import RequestInfo, build_event
from services.shared.stream import StreamEvent

TYPES = ("track", "page", "screen", "identify", "group", "alias")
EVENT_NAMES = {"page": "PAGE_VIEW", "screen": "SCREEN_VIEW", "identify": "IDENTIFY", "group": "GROUP",
               "alias": "ALIAS"}


def _nested(obj: dict[str, Any] | None, *path: str) -> Any:
    value: Any = obj
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _url_like(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= f.MAX_URL else None


def _merged_context(batch_context: dict[str, Any] | None, context: dict[str, Any] | None) -> dict[str, Any] | None:
    if not batch_context:
        return context
    return {**batch_context, **(context or {})}


def segment_event(
    ev: Any,
    info: RequestInfo,
    *,
    forced_type: str | None,
    batch_sent_at: int | None = None,
    batch_context: dict[str, Any] | None = None,
) -> StreamEvent | f.Problems:
    problems = f.Problems()
    if not isinstance(ev, dict):
        problems.add("", f"must be an object, not {f.json_type(ev)}")
        return problems
    type_ = forced_type
    if type_ is None:
        given = ev.get("type")
        if given is None:
            problems.add("type", f"is required (one of {', '.join(TYPES)})")
            return problems
        if given not in TYPES:
            problems.add("type", f"must be one of {', '.join(TYPES)}")
            return problems
        type_ = given
    message_id = f.ident(ev, "messageId", problems)
    user_id = f.ident(ev, "userId", problems, required=type_ == "alias")
    anonymous_id = f.ident(ev, "anonymousId", problems)
    deep = info.may_nest_deep
    properties = f.obj(ev, "properties", problems, deep=deep)
    context = f.obj(ev, "context", problems, deep=deep)
    traits = f.obj(ev, "traits", problems, deep=deep)
    f.obj(ev, "integrations", problems, deep=False)  # accepted and not stored
    when = f.timestamp(ev, "timestamp", problems)
    if when is None:
        when = f.timestamp(ev, "originalTimestamp", problems)
    sent_at = f.timestamp(ev, "sentAt", problems)
    if sent_at is None:
        sent_at = batch_sent_at
    session_id = f.ident(ev, "sessionId", problems)
    group_id = previous_id = None
    name: str | None
    if type_ == "track":
        name = f.text(ev, "event", problems, max_len=f.MAX_NAME, required=True)
    else:
        name = EVENT_NAMES[type_]
        if type_ in ("page", "screen"):
            page_name = f.text(ev, "name", problems, max_len=f.MAX_NAME)
            category = f.text(ev, "category", problems, max_len=f.MAX_NAME)
            if (page_name or category) and not problems:
                properties = dict(properties or {})
                if page_name:
                    properties.setdefault("name", page_name)
                if category:
                    properties.setdefault("category", category)
        elif type_ == "group":
            group_id = f.ident(ev, "groupId", problems, required=True)
        elif type_ == "alias":
            previous_id = f.ident(ev, "previousId", problems, required=True)
    if type_ not in ("alias",) and user_id is None and anonymous_id is None and "userId" not in problems \
            and "anonymousId" not in problems:
        problems.add("userId", "userId or anonymousId is required")
    if problems:
        return problems
    assert name is not None
    context = _merged_context(batch_context, context) or {}
    if session_id is None:
        session_id = f.ident(context, "sessionId", f.Problems())
    if type_ == "identify" and traits is None and isinstance(context.get("traits"), dict):
        traits = context["traits"]
    page = _url_like(_nested(properties, "url")) if type_ == "page" else None
    page = page or _url_like(_nested(context, "page", "url"))
    referrer = (_url_like(_nested(properties, "referrer")) if type_ == "page" else None) \
        or _url_like(_nested(context, "page", "referrer"))
    return build_event(
        info,
        type_=type_,
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
        traits=traits if type_ in ("identify", "group") else None,
        group_id=group_id,
        previous_id=previous_id,
    )
