"""Tenant isolation and parameter validation: one user never reads another's project, tracking
itself refuses a request the gateway did not send for that project, bad parameters are 400s
that name the parameter."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import httpx
import pytest
from conftest import INTERNAL

from .conftest import Project, assert_error, register

SECTIONS = ("stats/summary", "stats/timeseries", "stats/breakdown?by=page", "retention", "sessions", "realtime",
            "events", "events/export", "persons/v1")


def test_another_users_project_is_not_found(project: Project, client: httpx.Client) -> None:
    project.events.add("2026-01-05 10:00")
    _, stranger_token = register(client, "Mallory")
    stranger = {"Authorization": f"Bearer {stranger_token}"}
    for section in SECTIONS:
        assert_error(client.get(project.url(section), headers=stranger), 404)
    assert_error(client.post(project.url("funnels"), headers=stranger,
                             json={"steps": [{"event": "a"}, {"event": "b"}]}), 404)
    assert_error(client.get(project.url("realtime/stream"), headers=stranger), 404)
    assert_error(client.get(project.url("stats/summary")), 401)


def test_tracking_refuses_requests_for_another_project(project: Project, tracking_url: str) -> None:
    project.events.add("2026-01-05 10:00")
    path = f"/api/projects/{project.id}/stats/summary"
    with httpx.Client(base_url=tracking_url, headers=INTERNAL) as direct:
        assert direct.get(path, headers={"X-TME-Project-Id": str(project.id)}).status_code == 200
        for headers in ({}, {"X-TME-Project-Id": str(project.id + 1)}, {"X-TME-Project-Id": f"+{project.id}"},
                        {"X-TME-Project-Id": "0" + str(project.id)}):
            assert_error(direct.get(path, headers=headers), 404)
        huge = 2**63
        assert_error(direct.get(f"/api/projects/{huge}/stats/summary", headers={"X-TME-Project-Id": str(huge)}), 404)


@pytest.mark.parametrize(("params", "field"), [
    ({"tz": "Mars/Olympus"}, "tz"),
    ({"tz": "../../etc/passwd"}, "tz"),
    ({"from_": "last week"}, "from"),
    ({"to": "2026-13-01"}, "to"),
    ({"from_": "2026-01-10", "to": "2026-01-05"}, "to"),
    ({"from_": "2020-01-01", "to": "2026-01-01"}, "from"),
    ({"filters": "not json"}, "filters"),
    ({"filters": [{"field": "country", "op": "eq", "value": "DE"}]}, "filters"),
    ({"filters": [{"field": "prop:", "op": "eq", "value": "x"}]}, "filters"),
    ({"filters": [{"field": "event", "op": "eq", "value": {"nested": 1}}]}, "filters"),
    ({"filters": [{"field": "event", "op": "eq", "value": "x"}] * 21}, "filters"),
])
def test_bad_parameters_are_400_naming_the_parameter(project: Project, params: dict, field: str) -> None:
    for section in ("stats/summary", "events", "sessions"):
        assert_error(project.get(section, **params), 400, field)


def test_defaults_cover_the_last_seven_days(project: Project) -> None:
    body = project.ok("stats/timeseries", tz="Europe/Berlin")
    assert len(body["points"]) == 7 and body["tz"] == "Europe/Berlin"
    today = dt.datetime.now(ZoneInfo("Europe/Berlin")).date()
    assert body["points"][-1]["bucket"][:10] == today.isoformat()
    assert body["points"][0]["bucket"][:10] == (today - dt.timedelta(days=6)).isoformat()
    summary = project.ok("stats/summary")
    assert summary["events"] == {"value": 0, "previous": 0}


def test_query_latency_is_measured(project: Project, tracking_url: str) -> None:
    project.ok("stats/summary")
    metrics = httpx.get(f"{tracking_url}/metrics").text
    assert 'tme_analytics_query_duration_seconds_count{endpoint="summary"}' in metrics
