"""The chart's Grafana dashboards and PrometheusRule: what they cover, how they ship, and that
every alert has a runbook in docs/operations.md."""

from __future__ import annotations

from deploy.manifests import CRD_API_VERSIONS, FULLNAME, REPO, by_kind, objects

from .promql import RULE_VALUES, alert_rules, dashboards

ALERTS = {"TMEConsumerLagGrowing", "TMEDeadLetters", "TMEIngestRefusing", "TMEHighErrorRatio", "TMETargetDown",
          "TMEServiceDown", "TMEDependencyDown"}


def test_the_four_dashboards_ship_in_the_sidecar_configmap() -> None:
    boards = dashboards()
    assert {b["uid"] for b in boards.values()} == {"tme-ingest", "tme-pipeline", "tme-api", "tme-dependencies"}
    configmap = by_kind(objects(), "ConfigMap")[f"{FULLNAME}-dashboards"]
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert sorted(configmap["data"]) == sorted(boards)
    for name, board in boards.items():
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), name
        assert all(p["gridPos"]["x"] + p["gridPos"]["w"] <= 24 for p in board["panels"]), name
        variables = {v["name"] for v in board["templating"]["list"]}
        assert {"datasource", "namespace"} <= variables, name
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                assert target["datasource"]["uid"] == "${datasource}", (name, panel["title"])
                assert 'namespace=~"$namespace"' in target["expr"], (name, panel["title"])


def test_the_dashboards_cover_what_operators_look_at() -> None:
    titles = {b["uid"]: " | ".join(p["title"] for p in b["panels"]).lower() for b in dashboards().values()}
    for uid, words in {
        "tme-ingest": ("accepted", "refused", "reason", "latency", "503"),
        "tme-pipeline": ("stream length", "lag", "pending", "dead", "by subscriber pod", "batch"),
        "tme-api": ("latency by route", "5xx", "errors", "analytics"),
        "tme-dependencies": ("up", "pool", "redis memory"),
    }.items():
        assert all(word in titles[uid] for word in words), (uid, titles[uid])


def test_alert_rules_are_a_prometheusrule_only_when_asked_for() -> None:
    assert not by_kind(objects(), "PrometheusRule")
    [rule] = by_kind(objects(RULE_VALUES), "PrometheusRule").values()
    assert rule["apiVersion"] == CRD_API_VERSIONS["PrometheusRule"]
    assert rule["metadata"]["labels"]["app.kubernetes.io/component"] == "alerts"
    custom = objects({"metrics": {"prometheusRule": {"enabled": True, "labels": {"release": "prometheus"}}}})
    assert by_kind(custom, "PrometheusRule")[FULLNAME]["metadata"]["labels"]["release"] == "prometheus"


def test_every_alert_has_a_severity_a_summary_and_a_runbook() -> None:
    rules = alert_rules()
    assert {r["alert"] for r in rules} == ALERTS
    runbooks = (REPO / "docs" / "operations.md").read_text()
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert 'namespace="analytics"' in rule["expr"], rule["alert"]  # only this release's series
        assert f"### {rule['alert']}" in runbooks, f"no runbook for {rule['alert']}"
    linked = objects({"metrics": {"prometheusRule": {"enabled": True,
                                                     "runbookBaseUrl": "https://git.example.com/ops.md"}}})
    [linked_rule] = by_kind(linked, "PrometheusRule").values()
    urls = [r["annotations"]["runbook_url"] for g in linked_rule["spec"]["groups"] for r in g["rules"]]
    assert all(u.startswith("https://git.example.com/ops.md#tme") for u in urls)


def test_the_service_monitor_keeps_the_services_own_service_label() -> None:
    values = {"metrics": {"serviceMonitor": {"enabled": True}}}
    [monitor] = by_kind(objects(values), "ServiceMonitor").values()
    assert monitor["spec"]["endpoints"][0]["honorLabels"] is True
