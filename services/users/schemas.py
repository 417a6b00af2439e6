"""Request bodies, with the field rules and messages clients see. Unknown fields are ignored; names
are trimmed; public field names are camelCase. A project's bodies derive from the table's base
(services/users/models.py)."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from services.shared.api.model import REQUEST_CONFIG, RequestBody
from services.tracking.filters import MAX_CONDITIONS
from services.tracking.schemas import AnalyticsCondition
from services.users.models import ProjectBase

NAME_MAX = 100
PASSWORD_MIN = 8
PASSWORD_MAX = 128
RETENTION_DAYS_MIN = 30
RETENTION_DAYS_MAX = 36500  # 100 years
EMAIL_MAX = 254

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST = re.compile(rf"^{_LABEL}(\.{_LABEL})*(:\d{{1,5}})?$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")


def _name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if len(value) > NAME_MAX:
        raise ValueError(f"must be at most {NAME_MAX} characters")
    return value


def _email(value: str) -> str:
    value = value.strip()
    if len(value) > EMAIL_MAX or not _EMAIL.match(value):
        raise ValueError("must be a valid email address")
    return value


def _given_email(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if len(value) > EMAIL_MAX:
        raise ValueError(f"must be at most {EMAIL_MAX} characters")
    return value


def _new_password(value: str) -> str:
    if len(value) < PASSWORD_MIN:
        raise ValueError(f"must be at least {PASSWORD_MIN} characters")
    if len(value) > PASSWORD_MAX:
        raise ValueError(f"must be at most {PASSWORD_MAX} characters")
    return value


def _given_password(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    if len(value) > 1024:
        raise ValueError("is too long")
    return value


def _domain(value: Any) -> Any:
    """'https://Example.com/' -> 'example.com'; '' -> None; anything not a hostname is refused."""
    if not isinstance(value, str):
        return value
    host = _SCHEME.sub("", value.strip().lower()).rstrip("/")
    if not host:
        return None
    if len(host) > 253 or not _HOST.match(host):
        raise ValueError("must be a hostname such as example.com")
    return host


def _retention_days(value: Any) -> Any:
    """A whole number of days in range, or null (kept forever); "90" or 90.0 is refused, not converted."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not RETENTION_DAYS_MIN <= value <= RETENTION_DAYS_MAX:
        raise ValueError(f"must be a whole number of days from {RETENTION_DAYS_MIN} to {RETENTION_DAYS_MAX}, "
                         "or null to keep events forever")
    return value


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("must not be null")
    return value


Name = Annotated[str, AfterValidator(_name)]
Email = Annotated[str, AfterValidator(_email)]
NewPassword = Annotated[str, AfterValidator(_new_password)]
GivenPassword = Annotated[str, AfterValidator(_given_password)]
Domain = Annotated[str | None, BeforeValidator(_domain)]
RetentionDays = Annotated[Annotated[int, Field(ge=RETENTION_DAYS_MIN, le=RETENTION_DAYS_MAX)] | None,
                          BeforeValidator(_retention_days),
                          Field(description=ProjectBase.model_fields["retention_days"].description)]
# optional in a PATCH (absent = unchanged) but never null when given
PatchName = Annotated[Name | None, BeforeValidator(_not_null)]


class RegisterRequest(RequestBody):
    """A new account: it is logged in and gets a first project."""

    name: Name
    email: Email
    password: NewPassword = Field(json_schema_extra={"writeOnly": True})


class LoginRequest(RequestBody):
    email: Annotated[str, AfterValidator(_given_email)]
    password: GivenPassword = Field(json_schema_extra={"writeOnly": True})


class RefreshRequest(RequestBody):
    refresh_token: Annotated[str, Field(min_length=1, max_length=1024)]


class UserUpdate(RequestBody):
    """Only the fields given change."""

    name: PatchName = None


class PasswordChange(RequestBody):
    current_password: GivenPassword = Field(json_schema_extra={"writeOnly": True})
    new_password: NewPassword = Field(json_schema_extra={"writeOnly": True})


class AccountDelete(RequestBody):
    """The account's password, to confirm: the account and every project's data go for good."""

    password: GivenPassword = Field(json_schema_extra={"writeOnly": True})


class DeletionQuery(RequestBody):
    client: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._/-]{0,39}$")] = Field(
        "api", description="What asks for the deletion, kept in its job's record (the dashboard sends "
                           "`dashboard`): up to 40 letters, digits, spaces and `._/-`.")


class TeamCreate(RequestBody):
    """A new team: you are its owner."""

    name: Name


class TeamUpdate(RequestBody):
    """Only the fields given change."""

    name: PatchName = None


class DataJobsQuery(RequestBody):
    limit: int = Field(50, ge=1, le=200, description="How many of the newest jobs (1 to 200).")


class ProjectCreate(ProjectBase):
    model_config = REQUEST_CONFIG  # type: ignore[assignment]  # SQLModel types this as SQLModelConfig
    name: Name
    domain: Domain = None
    retention_days: RetentionDays = None
    team_id: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = Field(
        None, description="The team to create it in (you must be at least a `member`); default: your personal team.")


class ProjectUpdate(RequestBody):
    """Only the fields given change; `"domain": null` clears the domain, `"retentionDays": null`
    keeps events forever. (A patch, so not a ProjectBase: every field may be absent.)"""

    name: PatchName = None
    domain: Domain = None
    retention_days: RetentionDays = None


def _time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise ValueError("must be an IANA time zone such as Europe/Berlin") from None
    return value


class ShareParams(RequestBody):
    """The view a share link opens with (the dashboard's range and filters); whoever opens the link
    may change them."""

    period: Literal["today", "7d", "30d", "90d", "custom"] | None = Field(
        None, description="A range relative to the day it is viewed, or `custom` (then `from` and `to`).")
    from_: dt.date | None = Field(None, alias="from", description="First day of a `custom` range.")
    to: dt.date | None = Field(None, description="Last day of a `custom` range (included).")
    tz: Annotated[str, AfterValidator(_time_zone)] | None = Field(None, description="IANA time zone of the days.")
    filters: list[AnalyticsCondition] | None = Field(None, max_length=MAX_CONDITIONS,
                                                     description="Conditions the view starts with.")


class ShareLinkCreate(RequestBody):
    """A new public, read-only link to the project's dashboard."""

    name: Name | None = Field(None, description="What the link is for (e.g. who it was given to).")
    password: NewPassword | None = Field(None, json_schema_extra={"writeOnly": True},
                                         description="Asked of whoever opens the link (8 to 128 characters).")
    params: ShareParams = Field(default_factory=ShareParams)


def _in_future(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError("must include a time zone (e.g. 2027-01-01T00:00:00Z)")
    if value <= dt.datetime.now(dt.UTC):
        raise ValueError("must be in the future")
    return value


class ApiKeyCreate(RequestBody):
    """A new API key of the team: `read` the analytics of `projectIds`, or `admin` of the whole team."""

    name: Name = Field(description="What the key is for (e.g. the script or tool using it).")
    scope: Literal["read", "admin"] = Field(
        description="`read`: a viewer of `projectIds`; `admin`: an admin of the team (not of its keys or members).")
    project_ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] | None = Field(
        None, max_length=1000, description="The team's projects a `read` key may read (required for `read`, "
                                           "refused for `admin`).")
    expires_at: Annotated[dt.datetime, AfterValidator(_in_future)] | None = Field(
        None, description="When the key stops working (in the future; none: until revoked).")


RoleName = Literal["viewer", "member", "admin", "owner"]
ROLE_FIELD = ("`viewer` reads analytics; `member` also creates projects; `admin` also manages settings, keys, "
              "members and deletions; `owner` also deletes the team and makes owners.")


class MemberUpdate(RequestBody):
    """A member's new role."""

    role: RoleName = Field(description=ROLE_FIELD)


class OwnershipTransfer(RequestBody):
    """Whom to give the team to: one of its members."""

    user_id: Annotated[int, Field(ge=1, le=2**63 - 1)] = Field(description="The member who becomes the owner.")


class InvitationCreate(RequestBody):
    """Invite someone by email to the team, or to one project as a guest (`projectId`, role `viewer`)."""

    email: Email
    role: RoleName = Field("member", description=ROLE_FIELD + " A guest invitation takes `viewer` only.")
    project_id: Annotated[int, Field(ge=1, le=2**63 - 1)] | None = Field(
        None, description="Invite a guest of this project of the team only (a viewer of it, not a member).")
