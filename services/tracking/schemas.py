"""What the analytics routes take: their query strings and the funnel definition, as models whose
fields document the parameters (the OpenAPI document is generated from them) and whose validators
apply the rules of params.py and bodies.py, so a bad parameter is a 400 `invalid_parameter` that
names it, with the same message as ever."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, get_args, get_origin

import annotated_types
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core.core_schema import ValidatorFunctionWrapHandler

from services.shared.api.model import REQUEST_CONFIG, RequestBody
from services.shared.validation import bounded_int
from services.tracking.bodies import (
    DEFAULT_WINDOW_SECONDS,
    MAX_EVENT_NAME,
    MAX_STEPS,
    MAX_WINDOW_SECONDS,
    MIN_STEPS,
    FunnelDefinition,
    parse_definition,
)
from services.tracking.buckets import Interval
from services.tracking.filters import COLUMNS, MAX_CONDITIONS, Condition, Op
from services.tracking.params import (
    TimeRange,
    bad,
    choice,
    filters_text,
    parse_range,
    parse_tz,
    text,
    time_cursor,
    value_cursor,
)
from services.tracking.queries.breakdown import DIMENSIONS, valid_dimension
from services.tracking.queries.export import Format
from services.tracking.queries.project_export import parse_after
from services.tracking.queries.retention import Period
from services.tracking.queries.timeseries import Metric

MAX_NAME = 200

FROM = ("Start: an ISO date (`2026-01-05`, midnight in `tz`) or date-time (`2026-01-05T10:00:00Z`; without an "
        "offset it is wall time in `tz`). Default: 6 days before today, in `tz`.")
TO = ("End: a date includes that whole day; a date-time is exclusive. Default: the end of today in `tz`. A range "
      "covers at most 1100 days (TME_MAX_RANGE_DAYS).")
TZ = "IANA time zone for day boundaries and buckets (DST included)."
FILTERS = (
    "A JSON-encoded array of conditions, all of which must hold: "
    '`[{"field": "browser", "op": "eq", "value": "Firefox"}]`. Fields: '
    + ", ".join(f"`{name}`" for name in COLUMNS)
    + ", `prop:<key>` and `context:<key>` (a property of the event or its context; dots reach nested keys, "
    "e.g. `context:app.version`). Ops: `eq` and `neq` (a value or a list of values: any of / none of; an absent "
    "value counts as not equal), `contains` (case-insensitive substring), `set`, `notset` (no value). Numbers and "
    "booleans compare as JSON writes them. Bots are left out of analytics unless a condition mentions `bot` "
    f'(e.g. `{{"field": "bot", "op": "set"}}` counts everyone). At most {MAX_CONDITIONS} conditions.'
)
CURSOR = "Opaque: the `nextCursor` of the previous page."
EXPORT_AFTER = ("Continue after this event: a JSON array of the `timestamp` and `messageId` of the last complete line "
                "written (both formats write both; copy them as written). The continuation has every later event "
                "once and, in CSV, no header row: append it to the lines you have.")
# an export's open ends, for parse_range: every moment an event can have
EARLIEST_DAY, LATEST_DAY, ALL_DAYS = "1970-01-01", "2199-12-31", 100_000


def _zone(name: str) -> str:
    return parse_tz(name).key


def _conditions(value: Any) -> Any:
    return filters_text(value) if isinstance(value, str) else value


def _dimension(value: str) -> str:
    if not valid_dimension(value):
        raise bad("by", f"must be one of {', '.join(DIMENSIONS)}, prop:<key> or context:<key>")
    return value


def _cursor(parse: Any) -> Any:
    return BeforeValidator(lambda value: parse(value) if isinstance(value, str) else value)


Zone = Annotated[str, AfterValidator(_zone)]
Conditions = Annotated[list[Condition], BeforeValidator(_conditions), WithJsonSchema({"type": "string"})]
ValueCursor = Annotated[tuple[int, str | None] | None, _cursor(value_cursor), WithJsonSchema({"type": "string"})]
TimeCursor = Annotated[tuple[dt.datetime, str] | None, _cursor(time_cursor), WithJsonSchema({"type": "string"})]
Dimension = Annotated[str, AfterValidator(_dimension)]
ExportPosition = Annotated[tuple[dt.datetime, str] | None, _cursor(parse_after), WithJsonSchema({"type": "string"})]


def _absent_not_null(schema: dict[str, Any]) -> None:
    """A field that may be left out, where null means the same (a query parameter is never null):
    `str | None = None` is documented as an optional string, without a null default."""
    for prop in schema.get("properties", {}).values():
        options = prop.pop("anyOf", None)
        if options is not None:
            kept = [option for option in options if option != {"type": "null"}]
            prop.update(kept[0] if len(kept) == 1 else {"anyOf": kept})
        if "default" in prop and prop["default"] is None:
            del prop["default"]


OPTIONAL_NOT_NULL = ConfigDict(**REQUEST_CONFIG, json_schema_extra=_absent_not_null)


def _choices(field: FieldInfo) -> tuple[str, ...]:
    return get_args(field.annotation) if get_origin(field.annotation) is Literal else ()


def _bound(field: FieldInfo, kind: type[Any]) -> Any:
    return next(getattr(m, kind.__name__.lower()) for m in field.metadata if isinstance(m, kind))


class Query(RequestBody):
    """A query string. Each parameter goes through params.py's rules before its type is checked:
    a repeated one counts once (its last value), an empty one is absent (its default), a too long
    one is refused, a choice must be one of its values, a number an integer within its bounds and
    a name at most its length, each with the message clients have always had."""

    model_config = OPTIONAL_NOT_NULL

    @field_validator("*", mode="before")
    @classmethod
    def _rules(cls, value: Any, info: ValidationInfo) -> Any:
        assert info.field_name is not None
        field = cls.model_fields[info.field_name]
        name = field.alias or info.field_name
        raw = text(value[-1] if isinstance(value, list) else value, name)
        if raw is None:
            return "" if field.is_required() else field.get_default(call_default_factory=True)
        if options := _choices(field):
            return choice(raw, name, options)
        if field.annotation is int:
            return bounded_int(raw, name, default=field.default, low=_bound(field, annotated_types.Ge),
                               high=_bound(field, annotated_types.Le))
        longest = [m.max_length for m in field.metadata if isinstance(m, annotated_types.MaxLen)]
        if longest and len(raw) > longest[0]:
            raise bad(name, f"must be at most {longest[0]} characters")
        return raw


class RangeQuery(Query):
    """A question about a range of time, in a time zone, of the events that pass the filters."""

    from_: str | None = Field(None, alias="from", description=FROM, examples=["2026-01-05"])
    to: str | None = Field(None, description=TO, examples=["2026-01-11"])
    tz: Zone = Field("UTC", description=TZ, examples=["Europe/Berlin"])
    filters: Conditions = Field(default_factory=list, description=FILTERS,
                                examples=['[{"field":"prop:plan","op":"eq","value":"pro"}]'])

    def given(self) -> bool:
        return self.from_ is not None or self.to is not None

    def range(self, *, max_days: int, default_start: dt.datetime | None = None) -> TimeRange:
        return parse_range({"from": self.from_, "to": self.to, "tz": self.tz}, max_days=max_days,
                           default_start=default_start)


class SummaryQuery(RangeQuery):
    pass


class TimeseriesQuery(RangeQuery):
    metric: Metric = Field("events", description="What to count: `sessions` counts sessions by their start.")
    interval: Interval = Field("day", description="Bucket size in `tz`. Hour buckets follow DST: a spring-forward "
                                                  "day has 23, a fall-back day 25. At most 2000 buckets (else 400).")


class BreakdownQuery(RangeQuery):
    by: Dimension = Field(
        description="`page` is the URL path of page views; `entryPage`/`exitPage` count sessions (then `events` is "
                    "the number of sessions); `referrer` is the referring host and `source` the UTM source, else "
                    "the referring host (null: direct); `library` the sending library, `appVersion` the app's "
                    "version, `locale` the language tag (en-US), `screen` the screen size class (mobile, tablet, "
                    "laptop, desktop). Sorted by visitors descending, then value (by code point, null first).",
        examples=[*DIMENSIONS, "prop:plan", "context:app.version"])
    limit: int = Field(100, ge=1, le=1000, description="Page size (1 to 1000).")
    cursor: ValueCursor = Field(None, description=CURSOR)


class RetentionQuery(RangeQuery):
    period: Period = Field("week", description="Cohort and return period.")
    periods: int = Field(8, ge=1, le=100, description="Return periods per cohort (1 to 100).")
    start_event: str | None = Field(None, max_length=MAX_NAME,
                                    description="Event that puts a visitor in a cohort (default: any).")
    event: str | None = Field(None, max_length=MAX_NAME, description="Event that counts as returning (default: any).")


class SessionsQuery(RangeQuery):
    limit: int = Field(50, ge=1, le=1000, description="Page size (1 to 1000).")
    cursor: TimeCursor = Field(None, description=CURSOR)


class EventsQuery(RangeQuery):
    limit: int = Field(100, ge=1, le=1000, description="Page size (1 to 1000).")
    cursor: TimeCursor = Field(None, description=CURSOR)


class PersonQuery(EventsQuery):
    pass


class ExportQuery(RangeQuery):
    format: Format = Field("csv", description="File format.")


class ProjectExportQuery(Query):
    """A whole project's export: every event unless `from`/`to` bound it, resumable with `after`."""

    format: Format = Field("ndjson", description="`ndjson`: a Segment spec message per line (AnalyticsSegmentMessage); "
                                                 "`csv`: AnalyticsEvent's fields as columns.")
    from_: str | None = Field(None, alias="from", description="Start: an ISO date (midnight in `tz`) or date-time. "
                                                               "Default: the first event.")
    to: str | None = Field(None, description="End: a date includes that whole day; a date-time is exclusive. "
                                             "Default: the last event.")
    tz: Zone = Field("UTC", description="IANA time zone of `from` and `to` given as dates.")
    after: ExportPosition = Field(None, description=EXPORT_AFTER, examples=['["2026-01-05T10:00:00.123Z","m-1"]'])

    def bounds(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """`from` and `to` as instants, None where not given (that end of the export is open)."""
        if not (self.from_ or self.to):
            return None, None
        rng = parse_range({"from": self.from_ or EARLIEST_DAY, "to": self.to or LATEST_DAY, "tz": self.tz},
                          max_days=ALL_DAYS)
        return rng.start if self.from_ else None, rng.end if self.to else None


class StreamQuery(Query):
    filters: Conditions = Field(default_factory=list, description=FILTERS)


class RealtimeQuery(StreamQuery):
    limit: int = Field(20, ge=1, le=100, description="Latest events to return (1 to 100).")


class AnalyticsCondition(RequestBody):
    """A condition an event must meet (the query strings' `filters` hold a JSON list of them)."""

    model_config = OPTIONAL_NOT_NULL

    field: str = Field(description="A dimension such as `event`, `page`, `browser`, or `prop:<key>` / "
                                   "`context:<key>`.", examples=["browser", "prop:plan"])
    op: Op = "eq"
    value: Any = Field(None, description="A string, number or boolean; a list of them for eq/neq (any of / none of). "
                                         "Not needed for set/notset.")


class AnalyticsFunnelStepRequest(RequestBody):
    model_config = OPTIONAL_NOT_NULL
    event: str = Field(min_length=1, max_length=MAX_EVENT_NAME)
    filters: list[AnalyticsCondition] | None = Field(None, description="Conditions this step's event must meet.")


class AnalyticsFunnelRequest(RequestBody):
    """A funnel: its steps in order, the time allowed to convert, the range and filters."""

    model_config = OPTIONAL_NOT_NULL

    steps: list[AnalyticsFunnelStepRequest] = Field(min_length=MIN_STEPS, max_length=MAX_STEPS)
    window_seconds: int = Field(DEFAULT_WINDOW_SECONDS, ge=1, le=MAX_WINDOW_SECONDS,
                                description="Time allowed from step 1 to the last step.")
    from_: str | None = Field(None, alias="from", description=FROM)
    to: str | None = Field(None, description=TO)
    tz: str | None = Field(None, description=TZ + " Default UTC.")
    filters: list[AnalyticsCondition] | None = Field(None, description="Conditions every event of the funnel must "
                                                                       "meet.")
    _definition: FunnelDefinition = PrivateAttr()

    @model_validator(mode="wrap")
    @classmethod
    def _rules(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """bodies.py's rules first, for their 400s naming the field; what passes them fits the fields."""
        definition = parse_definition(data)
        funnel = handler(data)
        funnel._definition = definition
        return funnel

    @property
    def definition(self) -> FunnelDefinition:
        return self._definition

    def range(self, *, max_days: int) -> TimeRange:
        return parse_range({"from": self.from_, "to": self.to, "tz": self.tz}, max_days=max_days)


FUNNEL_EXAMPLE = {
    "steps": [{"event": "Viewed Pricing", "filters": [{"field": "page", "op": "eq", "value": "/pricing"}]},
              {"event": "Started Signup"}, {"event": "Signed Up"}],
    "windowSeconds": 86400, "from": "2026-01-01", "to": "2026-01-31", "tz": "Europe/Berlin",
}
