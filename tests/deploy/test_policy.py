"""Policies every rendered configuration must keep: probes, resources, a locked-down security
context, selectors that select, Service ports that point at container ports, commands that are
real modules, graceful termination, and network isolation."""

from __future__ import annotations

import importlib.util
import re
from typing import Any

import pytest

from services.shared.db import plain_url
from services.subscriber.settings import SubscriberSettings

from .manifests import (
    COMPONENTS,
    FULLNAME,
    HTTP_COMPONENTS,
    VARIANTS,
    all_containers,
    by_kind,
    component,
    env_map,
    expand,
    matches,
    objects,
    one,
    pod_labels,
    var_refs,
    workloads,
)

VARIANT_NAMES = sorted(VARIANTS)
# The tests' own Pod, the migration Job and the retention CronJob run to completion: no liveness/readiness probes.
RUN_TO_COMPLETION = ("Job", "Pod", "CronJob")


def _cpu_millis(value: str | int) -> float:
    text = str(value)
    return float(text[:-1]) if text.endswith("m") else float(text) * 1000


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_long_running_containers_have_liveness_and_readiness_probes(variant: str) -> None:
    for obj, spec in workloads(objects(VARIANTS[variant])):
        if obj["kind"] in RUN_TO_COMPLETION:
            continue
        for container in spec["containers"]:
            where = f"{obj['kind']}/{obj['metadata']['name']}/{container['name']}"
            assert "livenessProbe" in container and "readinessProbe" in container, where
            ports = {p["name"] for p in container.get("ports", [])}
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                action = container.get(probe, {})
                target = action.get("httpGet") or action.get("tcpSocket")
                if target:
                    assert target["port"] in ports, f"{where} {probe} uses undeclared port {target['port']}"


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_service_probes_are_healthz_and_readyz(variant: str) -> None:
    for name in COMPONENTS:
        container = one(objects(VARIANTS[variant]), "Deployment", f"{FULLNAME}-{name}")["spec"]["template"]["spec"][
            "containers"][0]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_every_container_has_requests_and_a_memory_limit(variant: str) -> None:
    for obj, spec in workloads(objects(VARIANTS[variant])):
        for container in all_containers(spec):
            where = f"{obj['kind']}/{obj['metadata']['name']}/{container['name']}"
            resources = container.get("resources", {})
            requests, limits = resources.get("requests", {}), resources.get("limits", {})
            assert _cpu_millis(requests["cpu"]) > 0, where
            assert requests["memory"] and limits["memory"], where


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_every_container_runs_non_root_read_only_without_capabilities(variant: str) -> None:
    for obj, spec in workloads(objects(VARIANTS[variant])):
        pod_sc = spec.get("securityContext", {})
        assert pod_sc.get("seccompProfile") == {"type": "RuntimeDefault"}, obj["metadata"]["name"]
        assert spec.get("automountServiceAccountToken") is False, obj["metadata"]["name"]
        for container in all_containers(spec):
            where = f"{obj['kind']}/{obj['metadata']['name']}/{container['name']}"
            sc = container.get("securityContext", {})
            assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, where
            assert sc.get("runAsUser", pod_sc.get("runAsUser", 0)) != 0, where
            assert sc.get("readOnlyRootFilesystem") is True, where
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
            assert "add" not in sc.get("capabilities", {}), where
            # a read-only root filesystem needs a writable /tmp
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, where
            volumes = {v["name"]: v for v in spec.get("volumes", [])}
            claims = {c["metadata"]["name"] for c in obj["spec"].get("volumeClaimTemplates", [])}
            for name in mounts.values():
                assert name in volumes or name in claims, f"{where} mounts unknown volume {name}"


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_controllers_select_their_own_pods(variant: str) -> None:
    objs = objects(VARIANTS[variant])
    controllers = [o for o in objs if o["kind"] in ("Deployment", "StatefulSet")]
    for obj in controllers:
        labels = pod_labels(obj)
        assert matches(obj["spec"]["selector"], labels), obj["metadata"]["name"]
        others = [o for o in controllers if o is not obj and matches(obj["spec"]["selector"], pod_labels(o))]
        assert not others, f"{obj['metadata']['name']} also selects {[o['metadata']['name'] for o in others]}"
    for pdb in by_kind(objs, "PodDisruptionBudget").values():
        assert [o for o in controllers if matches(pdb["spec"]["selector"], pod_labels(o))], pdb["metadata"]["name"]
    for kind in ("HorizontalPodAutoscaler", "ScaledObject"):
        for scaler in by_kind(objs, kind).values():
            target = scaler["spec"]["scaleTargetRef"]
            assert target["name"] in by_kind(objs, target.get("kind", "Deployment")), scaler["metadata"]["name"]


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_every_service_port_points_at_a_declared_container_port(variant: str) -> None:
    objs = objects(VARIANTS[variant])
    pods = [o for o in objs if o["kind"] in ("Deployment", "StatefulSet")]
    for service in by_kind(objs, "Service").values():
        name = service["metadata"]["name"]
        selected = [o for o in pods if matches({"matchLabels": service["spec"]["selector"]}, pod_labels(o))]
        assert len(selected) == 1, f"Service {name} selects {len(selected)} workloads"
        ports = [p for c in selected[0]["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])]
        for port in service["spec"]["ports"]:
            target = port["targetPort"]
            assert any(target in (p["name"], p["containerPort"]) for p in ports), f"{name}: {target}"


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_each_service_runs_its_module_as_the_image_does(variant: str) -> None:
    objs = objects(VARIANTS[variant])
    for name in COMPONENTS:
        deployment = one(objs, "Deployment", f"{FULLNAME}-{name}")
        assert component(deployment) == name
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        command = container["command"]
        assert command == ["python", "-m", f"services.{name}"]
        assert importlib.util.find_spec(f"{command[2]}.__main__") is not None
        assert container["image"].rsplit(":", 1)[0].endswith(f"/{name}")
    for _obj, spec in workloads(objs):
        for container in all_containers(spec):
            if container.get("command", [])[:2] == ["python", "-m"]:
                assert importlib.util.find_spec(container["command"][2]) is not None, container["command"]


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_environment_references_resolve(variant: str) -> None:
    objs = objects(VARIANTS[variant])
    rendered_secrets = set(by_kind(objs, "Secret"))
    external = {v.get("existingSecret") for v in VARIANTS[variant].values() if isinstance(v, dict)}
    for obj, spec in workloads(objs):
        for container in all_containers(spec):
            where = f"{obj['metadata']['name']}/{container['name']}"
            defined: list[str] = []
            for entry in container.get("env", []):
                for ref in var_refs(entry.get("value", "")):
                    assert ref in defined, f"{where}: {entry['name']} uses $({ref}) before it is defined"
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] in rendered_secrets | external, f"{where}: unknown Secret {ref['name']}"
                defined.append(entry["name"])
            for arg in container.get("args", []) + container.get("command", []):
                for ref in var_refs(arg):
                    assert ref in defined, f"{where}: argument uses $({ref})"


def test_bundled_connection_urls_point_at_the_bundled_services() -> None:
    objs = objects()
    for name in ("users", "tracking", "subscriber"):
        container = one(objs, "Deployment", f"{FULLNAME}-{name}")["spec"]["template"]["spec"]["containers"][0]
        env = {k: v.get("value", "") for k, v in env_map(container).items()}
        env["DATABASE_PASSWORD"], env["REDIS_PASSWORD"] = "Pa55word", "Re5is"
        db_url = expand(env["TME_DATABASE_URL"], env)
        assert db_url == f"postgresql://tme:Pa55word@{FULLNAME}-postgresql:5432/tme"
        assert plain_url(db_url) == db_url
        # tracking too: a deleted project's dead letters and shared write keys are deleted there
        assert expand(env["TME_REDIS_URL"], env) == f"redis://:Re5is@{FULLNAME}-redis:6379/0"
    gateway = one(objs, "Deployment", f"{FULLNAME}-gateway")["spec"]["template"]["spec"]["containers"][0]
    env = {k: v.get("value") for k, v in env_map(gateway).items()}
    assert env["TME_USERS_URL"] == f"http://{FULLNAME}-users:8001"
    assert env["TME_TRACKING_URL"] == f"http://{FULLNAME}-tracking:8002"
    assert "TME_DATABASE_URL" not in env


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_termination_leaves_time_for_draining(variant: str) -> None:
    objs = objects(VARIANTS[variant])
    for name in COMPONENTS:
        spec = one(objs, "Deployment", f"{FULLNAME}-{name}")["spec"]["template"]["spec"]
        container = spec["containers"][0]
        env = {k: v.get("value", "") for k, v in env_map(container).items()}
        pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command")
        sleep = int(pre_stop[1]) if pre_stop else 0
        needed = sleep + int(env["TME_GRACEFUL_SHUTDOWN_SECONDS"]) + int(env.get("TME_SUBSCRIBER_SHUTDOWN_SECONDS", 0))
        assert spec["terminationGracePeriodSeconds"] > needed, name
        if name in HTTP_COMPONENTS:
            assert pre_stop and pre_stop[0] == "sleep" and sleep > 0, f"{name}: no preStop sleep"
    subscriber = one(objs, "Deployment", f"{FULLNAME}-subscriber")["spec"]["template"]["spec"]
    env = env_map(subscriber["containers"][0])
    assert int(env["TME_SUBSCRIBER_SHUTDOWN_SECONDS"]["value"]) >= 20
    # the chart's dedupe window is the service's own default unless a value changes it
    window = SubscriberSettings.model_fields["subscriber_dedupe_window_hours"].default
    assert float(env["TME_SUBSCRIBER_DEDUPE_WINDOW_HOURS"]["value"]) == window


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_app_pods_get_no_service_link_variables(variant: str) -> None:
    # {SERVICE}_PORT=tcp://... variables would land in the TME_* namespace of the settings
    for obj, spec in workloads(objects(VARIANTS[variant])):
        assert spec.get("enableServiceLinks") is False, obj["metadata"]["name"]


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_images_are_pinned(variant: str) -> None:
    for _obj, spec in workloads(objects(VARIANTS[variant])):
        for container in all_containers(spec):
            image = container["image"]
            assert re.search(r":[\w][\w.-]*$", image) and not image.endswith(":latest"), image


def _allowed_peers(objs: list[dict[str, Any]], target: dict[str, Any]) -> list[Any]:
    """The ingress rules of every NetworkPolicy that selects `target`'s pods."""
    labels = pod_labels(target)
    rules: list[Any] = []
    for policy in by_kind(objs, "NetworkPolicy").values():
        if matches(policy["spec"]["podSelector"], labels):
            rules.extend(policy["spec"].get("ingress") or [])
    return rules


def _reachable_from(objs: list[dict[str, Any]], target: dict[str, Any], source: dict[str, Any]) -> bool:
    """Whether a pod of `source` (same namespace) may open a connection to a pod of `target`."""
    for rule in _allowed_peers(objs, target):
        peers = rule.get("from")
        if not peers:
            return True
        for peer in peers:
            if "podSelector" in peer and "namespaceSelector" not in peer and matches(peer["podSelector"],
                                                                                     pod_labels(source)):
                return True
    return False


def _open_to_everyone(objs: list[dict[str, Any]], target: dict[str, Any]) -> bool:
    return any(not rule.get("from") for rule in _allowed_peers(objs, target))


@pytest.mark.parametrize("variant", VARIANT_NAMES)
def test_network_policies_let_only_the_gateway_be_reached_from_outside(variant: str) -> None:
    objs = objects(VARIANTS[variant])
    workloads_by_component = {component(o): o for o in objs
                              if o["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob")}
    workloads_by_component["test"] = one(objs, "Pod", f"{FULLNAME}-test-ingest")
    deny = one(objs, "NetworkPolicy", f"{FULLNAME}-default-deny")
    assert deny["spec"]["policyTypes"] == ["Ingress"] and "ingress" not in deny["spec"]
    for obj in workloads_by_component.values():
        assert matches(deny["spec"]["podSelector"], pod_labels(obj)), obj["metadata"]["name"]

    gateway = workloads_by_component["gateway"]
    if VARIANTS[variant].get("networkPolicy", {}).get("gatewayFrom"):
        assert not _open_to_everyone(objs, gateway)
        assert _reachable_from(objs, gateway, workloads_by_component["test"])  # helm test
    else:
        assert _open_to_everyone(objs, gateway)
    expected = {
        "users": {"gateway"},
        "tracking": {"gateway"},
        "subscriber": set(),
        "postgresql": {"users", "tracking", "subscriber", "migrate", "retention"},
        "redis": {"gateway", "users", "tracking", "subscriber"},
    }
    for name, clients in expected.items():
        if name not in workloads_by_component:
            continue  # an external database or Redis
        target = workloads_by_component[name]
        assert not _open_to_everyone(objs, target), f"{name} is open to everyone"
        allowed = {c for c, source in workloads_by_component.items()
                   if c != name and _reachable_from(objs, target, source)}
        assert allowed == clients, f"{name} is reachable from {sorted(allowed)}"
