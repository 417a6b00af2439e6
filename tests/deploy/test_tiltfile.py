"""The Tiltfile, evaluated offline by a real Starlark interpreter (starlark-go) with Tilt's
functions stubbed to record their calls, checked against the Dockerfile and the chart rendered
with tilt/values-dev.yaml."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest
import starlark_go
import yaml

from .dockerfiles import dockerfile
from .manifests import COMPONENTS, KUBE_VERSIONS, REPO, all_containers, objects, workloads

TILT_FUNCTIONS = ("docker_build_with_restart", "docker_build", "helm", "k8s_yaml", "k8s_resource", "sync", "run",
                  "fall_back_on", "link", "local_resource")
Call = tuple[str, list[Any], dict[str, Any]]


@pytest.fixture(scope="module")
def tilt_calls() -> list[Call]:
    calls: list[Call] = []
    stubs: dict[str, Callable[..., Any]] = {}  # kept referenced: the interpreter does not own them

    def stub(kind: str) -> Callable[..., Any]:
        def record(*args: Any, **kwargs: Any) -> dict[str, Any]:
            calls.append((kind, list(args), kwargs))
            return {"tilt": kind, "args": list(args), "kwargs": kwargs}
        return record

    starlark_go.configure_starlark(allow_global_reassign=True)  # Tilt allows top-level loops
    interpreter = starlark_go.Starlark()
    for name in TILT_FUNCTIONS:
        stubs[name] = stub(name)
        interpreter.set(**{name: stubs[name]})
    source = (REPO / "Tiltfile").read_text()
    loads = re.findall(r"^load\('ext://([a-z_]+)', '([a-z_]+)'\)$", source, flags=re.M)
    assert loads == [("restart_process", "docker_build_with_restart")]
    interpreter.exec(re.sub(r"^load\(.*\)$", "", source, flags=re.M), filename="Tiltfile")
    return calls


def _of(calls: list[Call], kind: str) -> list[Call]:
    return [c for c in calls if c[0] == kind]


@pytest.fixture(scope="module")
def dev_objects(tilt_calls: list[Call]) -> list[dict[str, Any]]:
    [(_, args, kwargs)] = _of(tilt_calls, "helm")
    assert (REPO / args[0] / "Chart.yaml").exists()
    values: dict[str, Any] = {}
    for path in kwargs["values"]:
        values.update(yaml.safe_load((REPO / path).read_text()))
    return objects(values, release=kwargs["name"], namespace="default")


def test_service_images_are_built_with_live_update_and_restart(tilt_calls: list[Call]) -> None:
    builds = {args[0]: (args, kwargs) for _, args, kwargs in _of(tilt_calls, "docker_build_with_restart")}
    assert set(builds) == {f"tme-{c}" for c in COMPONENTS}
    for name in COMPONENTS:
        args, kwargs = builds[f"tme-{name}"]
        assert args[1] == "."  # the repository, as the Dockerfile expects
        df = dockerfile()
        assert REPO / kwargs["dockerfile"] == df.path
        # the service's own image, plus what live update needs
        dev = df.stage(kwargs["target"])
        assert df.target(name) in df.lineage(dev)
        assert kwargs["entrypoint"] == df.cmd(dev) == df.cmd(df.target(name)) == ["python", "-m", f"services.{name}"]
        syncs = [c["args"] for c in kwargs["live_update"] if c["tilt"] == "sync"]
        assert syncs == [["services", "/app/services"]]
        assert df.last(dev, "WORKDIR") == "/app" and "services ./services" in df.stage("base").values("COPY")
        # Live Update writes as the container's user: the dev stage gives it /app
        uid = df.last(dev, "USER").split(":")[0]
        assert any(run.startswith(f"chown -R {uid}") and run.endswith("/app") for run in dev.values("RUN"))
        assert kwargs["restart_file"].startswith("/app/")  # /tmp is an emptyDir in the pods
        fallbacks = [c["args"][0] for c in kwargs["live_update"] if c["tilt"] == "fall_back_on"]
        assert fallbacks == [["pyproject.toml", "requirements.lock"]]
        ignored = (REPO / ".dockerignore").read_text()
        for path in kwargs["only"]:
            assert (REPO / path).exists() and f"!{path}" in ignored


def test_chart_images_are_all_built_by_tilt(tilt_calls: list[Call], dev_objects: list[dict[str, Any]]) -> None:
    built = {args[0] for kind, args, _ in tilt_calls if kind in ("docker_build", "docker_build_with_restart")}
    images = {c["image"].split(":")[0] for _, spec in workloads(dev_objects) for c in all_containers(spec)}
    ours = {i for i in images if i.startswith("tme-")}
    assert ours == built
    assert images - ours == {"postgres", "redis"}
    [(_, args, kwargs)] = _of(tilt_calls, "docker_build")
    assert args[0] == "tme-tools" and "target" in kwargs
    df = dockerfile()
    assert REPO / kwargs["dockerfile"] == df.path
    tools = df.stage(kwargs["target"])
    assert df.cmd(tools)[:2] == ["python", "-m"]  # a Python service image, where `services.cli` runs
    for path in kwargs["only"]:  # the migration image holds what `services.cli migrate` imports
        assert (REPO / path).exists(), path
    # ...and its target builds nothing from files `only` leaves out (the gateway's Node stage)
    assert not [s for s in df.needs(tools) if s.base.startswith("node:")]
    assert {"services/migrations", "services/shared", "services/cli.py", "requirements.lock"} <= set(kwargs["only"])


def test_dev_values_fit_tilt(dev_objects: list[dict[str, Any]]) -> None:
    for obj in dev_objects:
        assert "helm.sh/hook" not in (obj["metadata"].get("annotations") or {}), obj["metadata"]["name"]
        kubernetes_validate.validate(obj, KUBE_VERSIONS[-1], strict=True)
    for obj, spec in workloads(dev_objects):
        if obj["kind"] == "Deployment":
            container = spec["containers"][0]
            assert container["securityContext"]["readOnlyRootFilesystem"] is False  # Live Update writes
            assert container["securityContext"]["runAsNonRoot"] is True


def test_resources_start_in_dependency_order(tilt_calls: list[Call], dev_objects: list[dict[str, Any]]) -> None:
    workload_names = {o["metadata"]["name"] for o in dev_objects if o["kind"] in ("Deployment", "StatefulSet", "Job")}
    deps: dict[str, list[str]] = {}
    for _, args, kwargs in _of(tilt_calls, "k8s_resource"):
        name = kwargs.get("new_name") or args[0]
        if "new_name" in kwargs:
            for selector in kwargs["objects"]:
                obj_name, kind = selector.split(":")
                assert [o for o in dev_objects if o["metadata"]["name"] == obj_name and o["kind"].lower() == kind]
        else:
            assert name in workload_names, f"k8s_resource({name!r}) names no workload of the chart"
        deps[name] = kwargs.get("resource_deps", [])
    assert workload_names <= set(deps)  # every workload has its place in the order
    for name, needs in deps.items():
        assert set(needs) <= set(deps), f"{name} depends on unknown {needs}"

    def before(name: str) -> set[str]:
        out: set[str] = set()
        for dep in deps[name]:
            out |= {dep, *before(dep)}
        return out

    assert {"tme-postgresql", "tme-config"} <= before("tme-migrate")
    for name in ("users", "tracking", "subscriber"):
        assert {"tme-migrate", "tme-postgresql", "tme-redis"} <= before(f"tme-{name}")
    assert {"tme-users", "tme-tracking", "tme-migrate"} <= before("tme-gateway")
    [(_, _, gateway)] = [c for c in _of(tilt_calls, "k8s_resource") if c[1][:1] == ["tme-gateway"]]
    port = next(o for o in dev_objects if o["metadata"]["name"] == "tme-gateway" and o["kind"] == "Deployment")[
        "spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]
    assert gateway["port_forwards"] == [f"8000:{port}"]
