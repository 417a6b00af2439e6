"""Render the Helm chart with Helm's own engine (helm-python-sdk: the Helm Go SDK in a wheel, no
binary, no cluster) and walk the Kubernetes objects it produces."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from helm_python import Chart

REPO = Path(__file__).resolve().parents[2]
CHART_DIR = REPO / "charts" / "trackmyevents"
COMPONENTS = ("gateway", "users", "tracking", "subscriber")
HTTP_COMPONENTS = ("gateway", "users", "tracking")
KUBE_VERSIONS = ("1.30.0", "1.33.0")
# Custom resources: no schema in kubernetes-validate; each is gated by a values flag.
CRD_API_VERSIONS = {
    "ServiceMonitor": "monitoring.coreos.com/v1",
    "PodMonitor": "monitoring.coreos.com/v1",
    "PrometheusRule": "monitoring.coreos.com/v1",
    "ScaledObject": "keda.sh/v1alpha1",
    "TriggerAuthentication": "keda.sh/v1alpha1",
}
RELEASE = "tme"
NAMESPACE = "analytics"
FULLNAME = "tme-trackmyevents"

# The value sets the chart is rendered with in the tests.
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "external-database": {
        "postgresql": {"enabled": False},
        "redis": {"enabled": False},
        "externalDatabase": {"url": "postgresql://tme:s3cret@db.example.internal:5432/tme"},
        "externalRedis": {"url": "redis://:s3cret@redis.example.internal:6379/0"},
    },
    "external-secrets": {
        "postgresql": {"enabled": False},
        "redis": {"enabled": False},
        "externalDatabase": {"existingSecret": "tme-db", "existingSecretKey": "url"},
        "externalRedis": {"existingSecret": "tme-redis-url", "existingSecretKey": "url"},
    },
    "autoscaling-keda": {
        "gateway": {"autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 8,
                                    "targetCPUUtilizationPercentage": 60}},
        "subscriber": {"keda": {"enabled": True, "lagCount": "500"}},
    },
    "ingress": {
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "annotations": {"cert-manager.io/cluster-issuer": "letsencrypt"},
            "hosts": [{"host": "tme.example.com", "paths": [{"path": "/", "pathType": "Prefix"}]}],
            "tls": [{"hosts": ["tme.example.com"], "secretName": "tme-tls"}],
        },
        "networkPolicy": {"gatewayFrom": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}]},
    },
    "monitoring": {
        "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
                    "podMonitor": {"enabled": True}},
        "networkPolicy": {"metricsFrom": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]},
        "users": {"workers": 2},
        "image": {"pullSecrets": ["registry-credentials"]},
    },
}


@functools.lru_cache(maxsize=64)
def _render(values_json: str, release: str, namespace: str) -> dict[str, str]:
    with Chart.load(CHART_DIR) as chart:
        return chart.render(json.loads(values_json), name=release, namespace=namespace, is_install=True)


def render(values: dict[str, Any] | None = None, *, release: str = RELEASE,
           namespace: str = NAMESPACE) -> dict[str, str]:
    """{template path: rendered text}, as `helm install` would produce (NOTES.txt included)."""
    return _render(json.dumps(values or {}, sort_keys=True), release, namespace)


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc]


@functools.lru_cache(maxsize=64)
def _objects(values_json: str, release: str, namespace: str) -> tuple[dict[str, Any], ...]:
    out: list[dict[str, Any]] = []
    for path, text in sorted(_render(values_json, release, namespace).items()):
        if path.endswith((".yaml", ".yml")):
            out.extend(parse(text))
    return tuple(out)


def objects(values: dict[str, Any] | None = None, *, release: str = RELEASE,
            namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    """Every Kubernetes object of the release, hooks and test pods included (shared: do not modify)."""
    return list(_objects(json.dumps(values or {}, sort_keys=True), release, namespace))


def notes(values: dict[str, Any] | None = None) -> str:
    return next(text for path, text in render(values).items() if path.endswith("NOTES.txt"))


def by_kind(objs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objs if o["kind"] == kind}


def one(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = by_kind(objs, kind)
    assert name in found, f"no {kind} {name!r}; have {sorted(found)}"
    return found[name]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj["kind"] == "Pod":
        return obj["spec"]  # type: ignore[no-any-return]
    if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return obj["spec"]["template"]["spec"]  # type: ignore[no-any-return]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]  # type: ignore[no-any-return]
    return None


def workloads(objs: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for obj in objs:
        spec = pod_spec(obj)
        if spec is not None:
            yield obj, spec


def all_containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def component(obj: dict[str, Any]) -> str:
    return obj["metadata"]["labels"]["app.kubernetes.io/component"]  # type: ignore[no-any-return]


def env_map(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


_VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion in env values, command and args."""
    return _VAR_REF.sub(lambda m: env.get(m.group(1), m.group(0)), value)


def var_refs(value: str) -> list[str]:
    return _VAR_REF.findall(value)


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A label selector (matchLabels + matchExpressions In/NotIn/Exists) against labels."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    if obj["kind"] == "Pod":
        return obj["metadata"]["labels"]  # type: ignore[no-any-return]
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]  # type: ignore[no-any-return]
    return obj["spec"]["template"]["metadata"]["labels"]  # type: ignore[no-any-return]
