"""Dimensions and filter conditions, turned into SQL over the `events` table (alias `e`).

A dimension name maps to a fixed SQL expression from the whitelist below; `prop:<key>` and
`context:<key>` read a JSON property whose key path (dots separate nested keys) is passed as a
parameter, never written into the query. Conditions are ANDed:
`{"field": "browser", "op": "eq|neq|contains|set|notset", "value": "Firefox"}`; `eq`/`neq` also
take a list of values (any of / none of)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

import orjson

from services.shared.errors import ApiError, InvalidParameter
from services.tracking.sql import Params

# dimension -> SQL expression (text) over events e
COLUMNS: dict[str, str] = {
    "event": "e.event_name",
    "type": "e.type",
    "page": "e.path",
    "url": "e.page",
    "referrer": "e.referrer_host",
    "referrerUrl": "e.referrer",
    "source": "e.referrer_source",  # the tagged or referring source: "Google" for utm_source=google and google.de
    "utmSource": "e.utm_source",
    "utmMedium": "e.utm_medium",
    "utmCampaign": "e.utm_campaign",
    "utmTerm": "e.utm_term",
    "utmContent": "e.utm_content",
    "browser": "e.browser",
    "os": "e.os",
    "device": "e.device_type",
    "library": "e.library",
    "appVersion": "e.app_version",
    "locale": "e.locale",
    "screen": "e.screen_class",
    "visitor": "e.visitor_id",
    "userId": "e.user_id",
    "anonymousId": "e.anonymous_id",
    "session": "e.session_id",
    "bot": "(e.is_bot::text)",
}
# an event whose referrer is the page's own host and that has no UTM source: internal navigation,
# which is no source, not even "direct"; the `source` and `referrer` breakdowns leave such events out
INTERNAL_REFERRAL = "(e.referrer_source IS NULL AND e.referrer_host IS NOT NULL)"
JSON_PREFIXES = {"prop:": "e.properties", "context:": "e.context"}
Op = Literal["eq", "neq", "contains", "set", "notset"]
OPS: tuple[Op, ...] = get_args(Op)
MAX_CONDITIONS = 20
MAX_VALUES = 100
MAX_KEY_LENGTH = 200
MAX_VALUE_LENGTH = 1000


def is_dimension(name: str) -> bool:
    if name in COLUMNS:
        return True
    for prefix in JSON_PREFIXES:
        if name.startswith(prefix):
            key = name[len(prefix):]  # no NUL: PostgreSQL text cannot hold it
            return 0 < len(key) <= MAX_KEY_LENGTH and all(key.split(".")) and "\x00" not in key
    return False


def dimension_sql(name: str, params: Params) -> str:
    """The SQL expression of a (validated) dimension name."""
    if name in COLUMNS:
        return COLUMNS[name]
    for prefix, column in JSON_PREFIXES.items():
        if name.startswith(prefix):
            return f"({column} #>> {params.add(name[len(prefix):].split('.'), 'text[]')})"
    raise ValueError(f"unknown dimension {name!r}")


def as_text(value: Any) -> str:
    """How a JSON value compares with a text column or a `#>>` property: strings as they are,
    numbers and booleans as JSON writes them."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    values: tuple[str, ...] = ()
    many: bool = False

    def sql(self, params: Params) -> str:
        expr = dimension_sql(self.field, params)
        if self.op == "set":
            return f"{expr} IS NOT NULL"
        if self.op == "notset":
            return f"{expr} IS NULL"
        if self.op == "contains":
            return f"strpos(lower({expr}), lower({params.add(self.values[0])})) > 0"
        if self.many:
            anyof = f"{expr} = ANY({params.add(list(self.values), 'text[]')})"
            return anyof if self.op == "eq" else f"({expr} IS NULL OR NOT {anyof})"
        value = params.add(self.values[0])
        return f"{expr} = {value}" if self.op == "eq" else f"{expr} IS DISTINCT FROM {value}"


def _scalar(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= MAX_VALUE_LENGTH and "\x00" not in value
    return isinstance(value, int | float | bool)


def parse_condition(item: Any, where: str) -> Condition:
    if not isinstance(item, dict):
        raise ValueError(f"{where} must be an object with field, op and value")
    field, op = item.get("field"), item.get("op", "eq")
    if not isinstance(field, str) or not is_dimension(field):
        raise ValueError(f"{where}: unknown field {field!r} (use a dimension such as event, page, browser, "
                         f"or prop:<key> / context:<key>)")
    if op not in OPS:
        raise ValueError(f"{where}: op must be one of {', '.join(OPS)}")
    if op in ("set", "notset"):
        return Condition(field, op)
    value = item.get("value")
    if op in ("eq", "neq") and isinstance(value, list):
        if not value or len(value) > MAX_VALUES or not all(_scalar(v) for v in value):
            raise ValueError(f"{where}: value must be a list of 1 to {MAX_VALUES} strings or numbers (no NUL "
                             "characters)")
        return Condition(field, op, tuple(as_text(v) for v in value), many=True)
    if value is None or not _scalar(value):
        raise ValueError(f"{where}: value must be a string, number or boolean (at most {MAX_VALUE_LENGTH} chars, "
                         "no NUL characters)")
    return Condition(field, op, (as_text(value),))


def parse_filters(data: Any, name: str = "filters") -> list[Condition]:
    if not isinstance(data, list):
        raise _invalid(name, "must be a JSON array of conditions")
    if len(data) > MAX_CONDITIONS:
        raise _invalid(name, f"at most {MAX_CONDITIONS} conditions")
    try:
        return [parse_condition(item, f"condition {i + 1}") for i, item in enumerate(data)]
    except ValueError as exc:
        raise _invalid(name, str(exc)) from None


def _invalid(name: str, message: str) -> ApiError:
    return InvalidParameter(f"{name}: {message}.", fields={name: message})


def conditions_sql(conditions: list[Condition], params: Params) -> str:
    return " AND ".join(f"({c.sql(params)})" for c in conditions) or "TRUE"


def mentions_bots(conditions: list[Condition]) -> bool:
    return any(c.field == "bot" for c in conditions)
