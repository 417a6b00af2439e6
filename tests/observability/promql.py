"""The PromQL of the chart's dashboards and alert rules, and the metric names it references
(parsed with promql-parser, so a typo in a name or in the syntax cannot hide)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser
from deploy.manifests import CHART_DIR, by_kind, objects

# Grafana's range variables are not PromQL: give them a duration before parsing.
_GRAFANA_RANGES = re.compile(r"\$__(rate_interval|interval|range)\b|\$\{__(rate_interval|interval|range)\}")
# Series Prometheus itself produces for every scrape target (no service exports them).
PROMETHEUS_SERIES = frozenset({"up"})
RULE_VALUES = {"metrics": {"prometheusRule": {"enabled": True}}}


@dataclass(frozen=True)
class Query:
    where: str  # "tme-ingest.json: panel 'Events accepted'" / "alert TMEDeadLetters"
    expr: str


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted((CHART_DIR / "dashboards").glob("*.json"))}


def dashboard_queries() -> list[Query]:
    out: list[Query] = []
    for name, board in dashboards().items():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                out.append(Query(f"{name}: panel {panel['title']!r}", target["expr"]))
    return out


def alert_rules() -> list[dict[str, Any]]:
    rules = by_kind(objects(RULE_VALUES), "PrometheusRule")
    return [rule for obj in rules.values() for group in obj["spec"]["groups"] for rule in group["rules"]]


def rule_queries() -> list[Query]:
    return [Query(f"alert {rule['alert']}", rule["expr"]) for rule in alert_rules()]


def metric_names(expr: str) -> set[str]:
    """Every metric name a PromQL expression selects (raises on a syntax error or a selector
    without a metric name)."""
    ast = promql_parser.parse(_GRAFANA_RANGES.sub("5m", expr))
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if not node.name:
                raise ValueError(f"selector without a metric name in {expr!r}")
            names.add(node.name)

    promql_parser.walk(ast, visit)
    return names


def chart_files() -> list[Path]:
    return sorted((CHART_DIR / "dashboards").glob("*.json"))
