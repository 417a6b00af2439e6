"""Every metric a dashboard panel or an alert rule uses is really exported by a service of the
running stack, and the histograms they read move with real traffic."""

from __future__ import annotations

from collections import defaultdict

import httpx
import pytest
from deploy.manifests import REPO
from prometheus_client.parser import text_string_to_metric_families

from .conftest import SERVICES, TracedStack, run_flow, wait_for
from .promql import PROMETHEUS_SERIES, Query, dashboard_queries, metric_names, rule_queries

Scrape = dict[str, dict[str, float]]  # sample name -> {labels as text: value}


def scrape(stack: TracedStack) -> tuple[Scrape, dict[str, set[str]]]:
    """All samples of the four services (summed per name and label set), and which service
    exports each sample name."""
    samples: Scrape = defaultdict(dict)
    exporters: dict[str, set[str]] = defaultdict(set)
    for service in SERVICES:
        response = httpx.get(f"{stack.url(service)}/metrics", timeout=10)
        assert response.status_code == 200
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                key = ",".join(f"{k}={v}" for k, v in sorted({**sample.labels, "svc": service}.items()))
                samples[sample.name][key] = sample.value
                exporters[sample.name].add(service)
    return samples, exporters


def total(samples: Scrape, name: str) -> float:
    return sum(samples.get(name, {}).values())


def histograms(queries: list[Query]) -> set[str]:
    return {n.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum")
            for q in queries for n in metric_names(q.expr) if n.endswith(("_bucket", "_count", "_sum"))}


@pytest.fixture(scope="module")
def traffic(traced_stack: TracedStack) -> tuple[Scrape, Scrape, dict[str, set[str]]]:
    before, _ = scrape(traced_stack)
    run_flow(traced_stack)
    # the subscriber refreshes its stream gauges on its own schedule, the monitor every second, and
    # each gateway worker writes its buffered request figures every second (services/shared/metrics.py)
    for name in ("tme_dependency_check_duration_seconds_count", "tme_ingest_enqueue_duration_seconds_count"):
        wait_for(lambda name=name: total(scrape(traced_stack)[0], name) > total(before, name), name)
    after, exporters = scrape(traced_stack)
    return before, after, exporters


def test_every_metric_of_every_dashboard_and_alert_is_exported(traffic) -> None:  # type: ignore[no-untyped-def]
    _, _, exporters = traffic
    queries = dashboard_queries() + rule_queries()
    assert len(queries) > 40
    missing = [(q.where, name) for q in queries for name in sorted(metric_names(q.expr))
               if name not in exporters and name not in PROMETHEUS_SERIES]
    assert missing == [], f"not exported by any service: {missing}"


def test_a_misspelt_metric_name_would_be_caught(traffic) -> None:  # type: ignore[no-untyped-def]
    _, _, exporters = traffic
    typo = "sum(rate(tme_ingest_events_acepted_total[5m]))"
    assert metric_names(typo) == {"tme_ingest_events_acepted_total"}
    assert "tme_ingest_events_acepted_total" not in exporters
    with pytest.raises(ValueError):
        metric_names("sum(rate(tme_ingest_events_accepted_total[5m])")  # unbalanced parenthesis


def test_the_histograms_the_dashboards_read_moved_with_the_traffic(traffic) -> None:  # type: ignore[no-untyped-def]
    before, after, _ = traffic
    names = histograms(dashboard_queries() + rule_queries())
    assert {"tme_http_request_duration_seconds", "tme_ingest_enqueue_duration_seconds",
            "tme_subscriber_insert_duration_seconds", "tme_subscriber_batch_events",
            "tme_analytics_query_duration_seconds", "tme_dependency_check_duration_seconds"} <= names
    still = [n for n in sorted(names) if total(after, f"{n}_count") <= total(before, f"{n}_count")]
    assert still == [], f"histograms that did not move: {still}"


def test_each_service_exports_its_dependency_and_pool_state(traffic) -> None:  # type: ignore[no-untyped-def]
    _, after, exporters = traffic
    up = {key: value for key, value in after["tme_dependency_up"].items()}
    expected = {("gateway", "redis"), ("users", "postgres"), ("users", "redis"), ("tracking", "postgres"),
                ("subscriber", "postgres"), ("subscriber", "redis")}
    seen = {(dict(kv.split("=", 1) for kv in key.split(","))["service"],
             dict(kv.split("=", 1) for kv in key.split(","))["dependency"]) for key in up}
    assert seen == expected
    assert all(value == 1.0 for value in up.values())
    assert exporters["tme_db_pool_max_connections"] == {"users", "tracking", "subscriber"}
    assert total(after, "tme_db_pool_max_connections") > 0
    assert exporters["tme_subscriber_stream_lag_entries"] == {"subscriber"}
    assert total(after, "tme_ingest_events_accepted_total") >= 3
    assert total(after, "tme_subscriber_rows_inserted_total") >= 3


def test_label_values_are_route_templates_not_raw_paths(traffic) -> None:  # type: ignore[no-untyped-def]
    _, after, _ = traffic
    routes = {dict(kv.split("=", 1) for kv in key.split(","))["route"]
              for key in after["tme_http_requests_total"]}
    assert "/api/projects/{project_id:int}/{rest:path}" in routes
    assert not [r for r in routes if any(ch.isdigit() for ch in r.replace("v1", ""))], routes


def test_every_exported_metric_is_documented(traced_stack: TracedStack, traffic) -> None:  # type: ignore[no-untyped-def]
    reference = (REPO / "docs" / "operations.md").read_text()
    families = set()
    for service in SERVICES:
        text = httpx.get(f"{traced_stack.url(service)}/metrics", timeout=10).text
        families |= {f.name for f in text_string_to_metric_families(text)
                     if f.name.startswith("tme_") and not f.name.endswith("_created")}
    assert families and not [f for f in sorted(families) if f"`{f}" not in reference]
