"""Turn the validated fields of one event into the stream's event shape, with enrichment
(receivedAt, skew-corrected time, the person's parsed user agent and bot flag, the sending library,
app version, locale and screen class (attribution.py), path, UTM, referrer host and source
(services/shared/referrers.py))."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from services.gateway.ingest.attribution import NO_LIBRARY, attribute
from services.gateway.ingest.enrich import AgentParser, Utm, page_info, url_host
from services.gateway.ingest.fields import strip_nul
from services.shared.referrers import traffic_source
from services.shared.stream import StreamEvent

_CAMPAIGN_KEYS = ("source", "medium", "name", "term", "content")


@dataclass
class RequestInfo:
    """What every event of one request shares."""

    received_at: int  # epoch ms
    header_agent: str | None  # the request's User-Agent where it is the person's (native endpoints)
    agents: AgentParser
    max_future_ms: int
    has_nul: bool  # the body contains an escaped NUL (\u0000): strip NULs from the events
    locale: str | None = None  # the request's Accept-Language where it is the person's (native endpoints)
    may_nest_deep: bool = True  # the body has enough brackets to nest too deep: walk the events' objects
    _id_base: str = ""
    _id_count: int = 0

    def new_message_id(self) -> str:
        """A UUID-shaped id for an event sent without one: one uuid4 per request, the last four
        hex digits replaced by the event's number (a request holds at most 2,500 events)."""
        if not self._id_base:
            self._id_base = _uuid4_text()[:-4]
        self._id_count += 1
        return f"{self._id_base}{self._id_count & 0xFFFF:04x}"


def _uuid4_text() -> str:
    """str(uuid.uuid4()) without building a UUID object (a third of the time)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def event_time(timestamp: int | None, sent_at: int | None, info: RequestInfo) -> int:
    """receivedAt - (sentAt - timestamp) when the client said when it sent the batch (clock-skew
    correction); the given timestamp otherwise; receivedAt when there is none. A time further
    ahead than `max_future_ms` is not believed."""
    received = info.received_at
    if timestamp is None:
        return received
    when = received - (sent_at - timestamp) if sent_at is not None else timestamp
    if when > received + info.max_future_ms:
        return received
    return when


def _clean_context(context: dict[str, Any] | None) -> dict[str, Any]:
    """The context without the client's IP address (never stored)."""
    if not context:
        return {}
    if "ip" in context:
        context = {k: v for k, v in context.items() if k != "ip"}
    return context


def _campaign(context: dict[str, Any]) -> Utm | None:
    """UTM values from Segment's context.campaign {source, medium, name, term, content}."""
    campaign = context.get("campaign") if context else None
    if not isinstance(campaign, dict):
        return None
    source, medium, name, term, content = (str(v)[:500] if isinstance(v, (str, int, float)) and v != "" else None
                                           for v in (campaign.get(k) for k in _CAMPAIGN_KEYS))
    values = (source, medium, name, term, content)
    return values if any(values) else None


def build_event(
    info: RequestInfo,
    *,
    type_: str,
    name: str,
    message_id: str | None,
    user_id: str | None,
    anonymous_id: str | None,
    session_id: str | None,
    timestamp: int | None,
    sent_at: int | None,
    page: str | None,
    referrer: str | None,
    properties: dict[str, Any] | None,
    context: dict[str, Any] | None,
    traits: dict[str, Any] | None = None,
    group_id: str | None = None,
    previous_id: str | None = None,
) -> StreamEvent:
    ctx = _clean_context(context)
    sender = attribute(info.agents, ctx, info.header_agent, NO_LIBRARY, info.locale)
    agent = sender.agent
    path, utm = page_info(page)
    referrer_host = url_host(referrer)
    campaign = _campaign(ctx)
    if campaign is not None:
        utm = campaign
    event: StreamEvent = {
        "messageId": message_id or info.new_message_id(),
        "type": type_,
        "event": name,
        "userId": user_id,
        "anonymousId": anonymous_id,
        "sessionId": session_id,
        "groupId": group_id,
        "previousId": previous_id,
        "timestamp": event_time(timestamp, sent_at, info),
        "sentAt": sent_at,
        "page": page,
        "path": path,
        "referrer": referrer,
        "referrerHost": referrer_host,
        "referrerSource": traffic_source(utm[0], referrer_host, url_host(page) if referrer_host else None),
        "utmSource": utm[0],
        "utmMedium": utm[1],
        "utmCampaign": utm[2],
        "utmTerm": utm[3],
        "utmContent": utm[4],
        "properties": properties or {},
        "traits": traits,
        "context": ctx,
        "userAgent": sender.user_agent,
        "browser": agent.browser,
        "browserVersion": agent.browser_version,
        "os": agent.os,
        "osVersion": agent.os_version,
        "deviceType": agent.device_type,
        "isBot": agent.is_bot,
        "library": sender.library,
        "appVersion": sender.app_version,
        "locale": sender.locale,
        "screenClass": sender.screen_class,
    }
    return strip_nul(event) if info.has_nul else event
