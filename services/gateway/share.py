"""Shared dashboards, served by the gateway without a login: `/api/share/{token}` (what the link
shows) and `/api/share/{token}/stats/{summary|timeseries|breakdown}` (the dashboard page's
questions, about the link's project only). The page itself is the dashboard's, at `/share/{token}`
(services/gateway/web.py serves the single-page app for it).

The token decides the project (share_views.py): the path never names one, and the questions go to
the tracking service with the link's project in `X-TME-Project-Id` exactly as the logged-in
analytics routes do, with the range and filters the viewer chose. Breakdowns and filters are
limited to the dashboard's own dimensions (pages, sources, devices, events...): none names a
person or a session (`userId`, `anonymousId`, `visitor`, `session`), a full URL or a custom
property, unless the link was shared with a filter on it. Answers are the tracking service's,
read into their documented shapes (nothing else is passed on)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, TypeVar

import httpx
from pydantic import BaseModel, Field, StringConstraints, ValidationError
from starlette.requests import Request

from services.gateway.proxy import request_id, upstream_failure
from services.gateway.share_views import PASSWORD_HEADER, TOKEN_PATTERN, ShareViews, wrong_password
from services.gateway.state import gateway_state
from services.shared.api.endpoint import PUBLIC, Endpoint, endpoint
from services.shared.api.model import ApiModel
from services.shared.errors import (
    CATALOGUE,
    ApiError,
    BadGateway,
    InvalidParameter,
    NotFound,
    QueryTimeout,
    RateLimited,
    Unauthorized,
)
from services.shared.internal_api import ShareView
from services.tracking.filters import Condition
from services.tracking.public import AnalyticsBreakdown, AnalyticsSummary, AnalyticsTimeseries
from services.tracking.schemas import BreakdownQuery, SummaryQuery, TimeseriesQuery
from services.users.schemas import ShareParams

TAG = "Shared dashboards"
TOKEN = {"token": Annotated[str, StringConstraints(pattern=TOKEN_PATTERN)]}
ERRORS = (NotFound, Unauthorized, RateLimited)
ASKS = (*ERRORS, QueryTimeout)
# what the shared dashboard breaks down and filters by (the dashboard page's tabs)
M = TypeVar("M", bound=BaseModel)
SHARED_DIMENSIONS = frozenset({
    "event", "page", "entryPage", "exitPage", "referrer", "source", "utmSource", "utmMedium", "utmCampaign",
    "utmTerm", "utmContent", "browser", "os", "device", "screen", "locale", "appVersion", "library",
})
PASSWORD = (f"A link with a password needs it in the `{PASSWORD_HEADER}` header of every request (percent-encoded "
            "UTF-8, as `encodeURIComponent` writes it); without it, or with a wrong one, the answer is 401, and "
            "repeated wrong passwords are throttled like logins (429).")


class ShareDashboard(ApiModel):
    """What a share link shows: a read-only view of one project's dashboard. Until a link's
    password is given, only `passwordRequired` is told."""

    name: str | None = Field(description="The link's name, if it was given one.")
    project_name: str | None = Field(description="The project's name (null until the password is given).")
    domain: str | None = Field(description="The site the project tracks, if set.")
    params: ShareParams | None = Field(description="The range and filters the link was shared with.")
    password_required: bool
    unlocked: bool = Field(description="The view is open: no password is needed, or the right one was sent.")
    dimensions: list[str] = Field(description="What the view may be broken down and filtered by (empty until the "
                                              "password is given).")

    @classmethod
    def of(cls, view: ShareView) -> ShareDashboard:
        if not view.unlocked:
            return cls(name=None, project_name=None, domain=None, params=None, password_required=True, unlocked=False,
                       dimensions=[])
        return cls(name=view.name, project_name=view.project_name, domain=view.domain,
                   params=ShareParams.model_validate(view.params), password_required=view.password_required,
                   unlocked=True, dimensions=sorted(_dimensions(view)))


def _views(request: Request) -> ShareViews:
    return gateway_state(request.app).shares


def _token(request: Request) -> str:
    return str(request.path_params["token"])


def _dimensions(view: ShareView) -> frozenset[str]:
    """What the view may be broken down and filtered by: the dashboard's dimensions and those of the
    link's own filters."""
    shared = {str(f["field"]) for f in view.params.get("filters") or () if isinstance(f, dict) and "field" in f}
    return SHARED_DIMENSIONS | shared


def _refuse_others(view: ShareView, filters: Iterable[Condition], by: str | None = None) -> None:
    """400 for a breakdown or a filter on a dimension the shared dashboard does not show."""
    allowed = _dimensions(view)
    if by is not None and by not in allowed:
        raise InvalidParameter("A shared dashboard is not broken down by this.",
                               fields={"by": "must be one of " + ", ".join(sorted(allowed))})
    refused = sorted({c.field for c in filters if c.field not in allowed})
    if refused:
        raise InvalidParameter("A shared dashboard is not filtered by " + ", ".join(refused) + ".",
                               fields={"filters": "fields must be among " + ", ".join(sorted(allowed))})


def _upstream_error(response: httpx.Response) -> ApiError:
    """The tracking service's error, as the same error (an unknown answer: 502)."""
    try:
        detail = response.json()["error"]
        kind = CATALOGUE[detail["code"]]
        message, fields = str(detail["message"]), dict(detail.get("fields") or {})
    except (ValueError, KeyError, TypeError):
        return BadGateway("The tracking service failed to answer.")
    if kind.status != response.status_code:
        return BadGateway("The tracking service failed to answer.")
    retry = response.headers.get("retry-after")
    return kind(message, fields=fields, headers={"Retry-After": retry} if retry else None)


async def _ask(request: Request, section: str, answer: type[M], filters: Iterable[Condition],
               by: str | None = None) -> M:
    """The tracking service's answer to the viewer's question about the link's project, once the link
    is open and the question keeps to the shared dimensions."""
    view = await _views(request).unlocked(request, _token(request))
    _refuse_others(view, filters, by)
    gateway = gateway_state(request.app)
    rid = request_id(request)
    try:
        response = await gateway.tracking.get(
            f"/api/projects/{view.project_id}/stats/{section}", params=request.url.query,
            headers={"x-tme-project-id": str(view.project_id), "x-request-id": rid})
    except httpx.HTTPError as exc:
        raise upstream_failure(exc, "tracking", rid) from None
    if response.status_code != 200:
        raise _upstream_error(response)
    try:
        return answer.model_validate_json(response.content)
    except ValidationError:
        raise BadGateway("The tracking service failed to answer.") from None


@endpoint("GET", "/api/share/{token}", tag=TAG, summary="Open a shared dashboard", security=PUBLIC, errors=ERRORS,
          path_params=TOKEN, description="What a share link (`/share/<token>`) shows, without a login: the project's "
                                         "name and domain and the range and filters it was shared with; never its "
                                         "id or write key. 404 once the link is revoked or its project deleted. "
                                         + PASSWORD + " Without a password a locked link answers "
                                         "`passwordRequired: true` and nothing else.")
async def share_dashboard(request: Request) -> ShareDashboard:
    view = await _views(request).view(request, _token(request))
    if not view.unlocked and request.headers.get(PASSWORD_HEADER):
        raise wrong_password()
    return ShareDashboard.of(view)


SHARED_QUESTIONS = ("The shared dashboard's question about its project, with the range and filters the viewer "
                    "chose, answered as the project's own `stats` route answers it. Filters (and breakdowns) "
                    "may use " + ", ".join(f"`{d}`" for d in sorted(SHARED_DIMENSIONS)) + " and the fields of the "
                    "link's own filters. " + PASSWORD)


@endpoint("GET", "/api/share/{token}/stats/summary", tag=TAG, summary="A shared dashboard's headline figures",
          security=PUBLIC, errors=ASKS, path_params=TOKEN, description=SHARED_QUESTIONS)
async def share_summary(request: Request, query: SummaryQuery) -> AnalyticsSummary:
    return await _ask(request, "summary", AnalyticsSummary, query.filters)


@endpoint("GET", "/api/share/{token}/stats/timeseries", tag=TAG, summary="A shared dashboard's chart",
          security=PUBLIC, errors=ASKS, path_params=TOKEN, description=SHARED_QUESTIONS)
async def share_timeseries(request: Request, query: TimeseriesQuery) -> AnalyticsTimeseries:
    return await _ask(request, "timeseries", AnalyticsTimeseries, query.filters)


@endpoint("GET", "/api/share/{token}/stats/breakdown", tag=TAG, summary="A shared dashboard's breakdown",
          security=PUBLIC, errors=ASKS, path_params=TOKEN, description=SHARED_QUESTIONS)
async def share_breakdown(request: Request, query: BreakdownQuery) -> AnalyticsBreakdown:
    return await _ask(request, "breakdown", AnalyticsBreakdown, query.filters, query.by)


SHARE_ENDPOINTS: list[Endpoint] = [share_dashboard, share_summary, share_timeseries, share_breakdown]
