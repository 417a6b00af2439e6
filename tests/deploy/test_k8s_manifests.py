"""k8s/: the plain manifests for `kubectl apply -k`, rendered from the chart by k8s/render.py.
They must not drift from the chart, must be valid for Kubernetes, and must carry no password."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from types import ModuleType

import kubernetes_validate
import pytest
import yaml

from .manifests import KUBE_VERSIONS, REPO, all_containers, matches, parse, pod_labels, pod_spec

K8S = REPO / "k8s"


def _render_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("k8s_render", K8S / "render.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _objects() -> list[dict]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    out: list[dict] = []
    for name in kustomization["resources"]:
        out.extend(parse((K8S / name).read_text()))
    return out


def test_manifests_match_the_chart() -> None:
    render = _render_module()
    changed = render.drift(render.manifest_files())
    assert changed == [], f"k8s/ drifted from the chart in {changed}: run `python k8s/render.py`"


def test_render_check_mode_reports_drift_from_the_command_line() -> None:
    result = subprocess.run([sys.executable, str(K8S / "render.py"), "--check"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr


def test_drift_is_noticed() -> None:
    render = _render_module()
    files = render.manifest_files()
    tampered = dict(files)
    tampered["deployments.yaml"] = files["deployments.yaml"].replace("replicas: 2", "replicas: 3", 1)
    assert tampered["deployments.yaml"] != files["deployments.yaml"]
    assert render.drift(tampered) == ["deployments.yaml"]
    assert render.drift({**files, "extra.yaml": "kind: List\n"}) == ["extra.yaml"]


def test_kustomization_lists_every_manifest_and_generates_the_credentials() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "values.yaml"}
    assert set(kustomization["resources"]) == files
    assert kustomization["namespace"] == "trackmyevents"
    [generator] = kustomization["secretGenerator"]
    assert generator["envs"] == ["credentials.env"] and generator["options"]["disableNameSuffixHash"] is True
    assert "credentials.env" in (K8S / ".gitignore").read_text().split()
    # every Secret the pods read is that generated one: no password in the manifests
    objs = _objects()
    assert not [o for o in objs if o["kind"] == "Secret"]
    keys: set[str] = set()
    for obj in objs:
        spec = pod_spec(obj)
        for container in all_containers(spec) if spec else []:
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["name"] == generator["name"], ref
                    keys.add(ref["key"])
    assert keys == {"postgres-password", "redis-password", "internal-token"}
    assert "postgres-password=" in (K8S / "kustomization.yaml").read_text()  # the how-to in its header


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_manifests_are_valid_kubernetes_objects(kube_version: str) -> None:
    for obj in _objects():
        try:
            kubernetes_validate.validate(obj, kube_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message} at {list(exc.path)}")


def test_without_helm_the_migrations_run_as_a_job_and_services_wait_for_them() -> None:
    objs = _objects()
    [job] = [o for o in objs if o["kind"] == "Job"]
    assert not job["metadata"].get("annotations")  # no Helm hook: kubectl would ignore it
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["python", "-m", "services.cli", "migrate"]
    for obj in objs:
        if obj["kind"] == "Deployment" and not obj["metadata"]["name"].endswith("-gateway"):
            [wait] = obj["spec"]["template"]["spec"]["initContainers"]
            assert wait["command"][3:5] == ["--until", "schema"]
    assert not [o for o in objs if o["kind"] == "Pod"]  # `helm test` pods are Helm's
    for obj in objs:
        if obj["kind"] in ("Service", "PodDisruptionBudget"):
            selector = obj["spec"]["selector"]
            selector = selector if "matchLabels" in selector else {"matchLabels": selector}
            assert [o for o in objs if o["kind"] in ("Deployment", "StatefulSet")
                    and matches(selector, pod_labels(o))], obj["metadata"]["name"]
