"""The tracking service's answers: the figures, series, rows, cohorts, sessions and stored events the
analytics routes return, camelCase in JSON. Their docstrings and field descriptions are the API
reference (the OpenAPI document is generated from them); the queries build rows and dicts, the
handlers validate them into these models once."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from services.shared.api.model import PUBLIC_CONFIG, ApiModel
from services.tracking.buckets import Interval
from services.tracking.queries.retention import Period
from services.tracking.queries.timeseries import Metric

# a moment as local time in the question's `tz`, with its UTC offset (2026-01-05T00:00:00+01:00)
LocalTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Cursor = Annotated[str | None, Field(description="Pass as `cursor` to get the next page; null on the last page.")]
Number = int | float


class AnalyticsRange(ApiModel):
    """The range a question covered, as it was understood: local times in `tz`."""

    from_: LocalTime = Field(alias="from", description="Start of the range (inclusive), in `tz`.")
    to: LocalTime = Field(description="End of the range (exclusive), in `tz`.")
    tz: str = Field(description="The IANA time zone of the range's days and buckets.", examples=["Europe/Berlin"])


class AnalyticsMetric(ApiModel):
    """A figure for the range and for the period of the same length just before it."""

    value: Number | None
    previous: Number | None


class AnalyticsSummary(AnalyticsRange):
    """The headline figures, with those of the previous period.

    Events and page views count actions (track, page, screen); visitors are distinct
    userId-else-anonymousId; sessions come from the SDK's sessionId or 30 minutes of inactivity.
    bounceRate and viewsPerSession are Plausible's, over the sessions with page views: the share of
    them with one page view and no other action (0 to 1), and their page views per session
    (server-side sessions without a page view count in neither); avgSessionDuration is in seconds,
    over all sessions; a ratio is null when it has nothing to divide by. With a filter, the session
    figures are those of the whole sessions that contain a matching event. Bots are left out unless a
    filter mentions `bot`; botEvents is how many bot actions that left out (0 when a filter mentions
    `bot`)."""

    previous_from: LocalTime = Field(description="Start of the previous period, in `tz`.")
    previous_to: LocalTime = Field(description="End of the previous period (the range's start), in `tz`.")
    events: AnalyticsMetric
    pageviews: AnalyticsMetric
    visitors: AnalyticsMetric
    sessions: AnalyticsMetric
    bounce_rate: AnalyticsMetric
    avg_session_duration: AnalyticsMetric
    views_per_session: AnalyticsMetric
    bot_events: AnalyticsMetric


SUMMARY_EXAMPLE = {
    "from": "2026-01-05T00:00:00+01:00", "to": "2026-01-12T00:00:00+01:00", "tz": "Europe/Berlin",
    "previousFrom": "2025-12-29T00:00:00+01:00", "previousTo": "2026-01-05T00:00:00+01:00",
    "events": {"value": 10, "previous": 7}, "pageviews": {"value": 8, "previous": 5},
    "visitors": {"value": 3, "previous": 2}, "sessions": {"value": 4, "previous": 2},
    "bounceRate": {"value": 0.5, "previous": 0.0}, "avgSessionDuration": {"value": 825.0, "previous": 60.0},
    "viewsPerSession": {"value": 2.0, "previous": 2.5}, "botEvents": {"value": 2, "previous": 0},
}


class AnalyticsTimeseriesPoint(ApiModel):
    bucket: LocalTime = Field(description="Bucket start in `tz` with its UTC offset.")
    value: int


class AnalyticsTimeseries(AnalyticsRange):
    """Zero-filled buckets."""

    metric: Metric
    interval: Interval
    points: list[AnalyticsTimeseriesPoint] = Field(description="Every bucket of the range in order, zero-filled.")


class AnalyticsBreakdownRow(ApiModel):
    value: str | None = Field(description="The dimension's value; null (referrer, source): direct traffic.")
    visitors: int
    events: int = Field(description="Events with this value; sessions for `entryPage` and `exitPage`.")


class AnalyticsBreakdown(AnalyticsRange):
    """One page of rows."""

    by: str
    rows: list[AnalyticsBreakdownRow]
    next_cursor: Cursor


class AnalyticsFunnelStep(ApiModel):
    event: str
    users: int = Field(description="Visitors who reached this step in order.")
    conversion_from_first: float
    conversion_from_previous: float
    median_seconds_to_convert: float | None = Field(description="Median time from the previous step; null for "
                                                                "step 1 and for a step nobody reached.")
    drop_off: int = Field(description="Visitors of the previous step who did not get here.")
    seen: bool = Field(description="Whether any person (bots aside, the funnel's filters aside) sent this event in "
                                   "the range: false points at a misspelt name or the wrong range.")


class AnalyticsFunnel(AnalyticsRange):
    """Per-step figures."""

    window_seconds: int
    steps: list[AnalyticsFunnelStep]


class AnalyticsCohort(ApiModel):
    cohort: dt.date = Field(description="The first day of the cohort's period, in `tz`.")
    size: int
    returning: list[int] = Field(description="Visitors of the cohort active in each period from its own on; "
                                             "returning[0] is the size.")


class AnalyticsRetention(AnalyticsRange):
    """One cohort per period of the range."""

    period: Period
    periods: int
    cohorts: list[AnalyticsCohort]


class AnalyticsSession(ApiModel):
    id: str
    visitor_id: str
    start: dt.datetime
    end: dt.datetime
    duration_seconds: float
    events: int
    pageviews: int
    entry_page: str | None
    exit_page: str | None
    referrer: str | None
    source: str | None
    browser: str | None
    os: str | None
    device: str | None


class AnalyticsSessions(AnalyticsRange):
    """One page of sessions."""

    sessions: list[AnalyticsSession]
    next_cursor: Cursor


# field names are the `events` table's columns (queries/rows.py selects them), aliases the public names
class AnalyticsEvent(ApiModel):
    """One stored event; exports write these fields as their columns, in this order."""

    message_id: str
    event_time: dt.datetime = Field(alias="timestamp", description="Event time (clock-skew corrected).")
    received_at: dt.datetime
    type: Literal["track", "page", "screen", "identify", "group", "alias"]
    event_name: str = Field(alias="event", description="Event name; PAGE_VIEW, SCREEN_VIEW, IDENTIFY, ... for the "
                                                       "other types.")
    visitor_id: str | None = Field(description="userId, else anonymousId.")
    user_id: str | None
    anonymous_id: str | None
    session_id: str | None
    group_id: str | None
    previous_id: str | None
    page: str | None = Field(alias="url")
    path: str | None
    referrer: str | None
    referrer_host: str | None
    referrer_source: str | None = Field(alias="source", description="Where the visit came from: the link's "
                                        "utm_source under its known name (`google` -> Google), else the referrer's "
                                        "source; null for direct and internal navigation.")
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    utm_term: str | None
    utm_content: str | None
    browser: str | None
    browser_version: str | None
    os: str | None
    os_version: str | None
    device_type: str | None = Field(alias="device")
    is_bot: bool = Field(description="Judged on the person's agent only (docs/api.md).")
    library: str | None = Field(description="The sending library (context.library.name); `http` when none was named.")
    app_version: str | None
    locale: str | None
    screen_class: Literal["mobile", "tablet", "laptop", "desktop"] | None = Field(alias="screen")
    properties: dict[str, Any]
    context: dict[str, Any]
    traits: dict[str, Any] | None


class AnalyticsEventPage(AnalyticsRange):
    """One page of events."""

    events: list[AnalyticsEvent]
    next_cursor: Cursor


class AnalyticsRealtime(ApiModel):
    """Live figures."""

    visitors: int = Field(description="Visitors active in the last `windowSeconds`.")
    window_seconds: int
    events: list[AnalyticsEvent] = Field(description="The latest events stored, newest first.")


class AnalyticsPerson(ApiModel):
    """The person."""

    visitor_id: str
    ids: list[str] = Field(description="The person's id first, then the ids linked to it by identify/alias.")
    traits: dict[str, Any]
    first_seen: dt.datetime
    last_seen: dt.datetime
    events: list[AnalyticsEvent]
    next_cursor: Cursor


class AnalyticsSegmentMessage(ApiModel):
    """A stored event as a Segment spec message: a line of the project's NDJSON export, an event of
    a person's export, and what Segment's `/v1/batch` (and `tme import --file`) reads back. Fields
    the event does not have are left out."""

    model_config = PUBLIC_CONFIG | ConfigDict(json_schema_serialization_defaults_required=False)

    type: Literal["track", "page", "screen", "identify", "group", "alias"]
    event: str | None = Field(None, description="track: the event's name.")
    name: str | None = Field(None, description="page and screen: the page's name (its `name` property).")
    message_id: str
    timestamp: dt.datetime = Field(description="Event time (clock-skew corrected; no `sentAt` is written, so the "
                                               "event keeps this time when sent again).")
    received_at: dt.datetime
    user_id: str | None = None
    anonymous_id: str | None = None
    session_id: str | None = None
    group_id: str | None = Field(None, description="group: the group.")
    previous_id: str | None = Field(None, description="alias: the id linked to `userId`.")
    properties: dict[str, Any] | None = Field(None, description="track, page and screen (other types: when they "
                                                                "have any).")
    traits: dict[str, Any] | None = Field(None, description="identify and group.")
    context: dict[str, Any] = Field(description="As sent (never the IP address), with what TME stored from "
                                                "elsewhere that it lacks: `userAgent`, `locale`, `page.url`, "
                                                "`page.referrer`.")


class AnalyticsPersonExport(ApiModel):
    """Everything stored about one person (a subject access request): their ids, traits and every
    event of any of those ids, oldest first."""

    visitor_id: str = Field(description="The person's id: the root of their alias links.")
    ids: list[str] = Field(description="The person's id first, then every id linked to it: by alias and identify "
                                       "calls, and anonymous ids that events carry beside their userId (unless "
                                       "such an id is also seen with another user).")
    traits: dict[str, Any]
    first_seen: dt.datetime
    last_seen: dt.datetime
    events: list[AnalyticsSegmentMessage]


class AnalyticsExportCount(ApiModel):
    """How many events the export with the same parameters writes."""

    events: int
