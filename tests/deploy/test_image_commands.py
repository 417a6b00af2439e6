"""Each image's exact command, run for real with the environment the chart gives its pod (its
hosts and ports adapted to this machine), against the test stack's PostgreSQL and Redis: the
services answer /healthz and /readyz and stop cleanly on SIGTERM within their grace period; the
migration Job, the schema wait and the `helm test` script do what the chart relies on."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from services.devstack import DevStack
from services.shared.embedded import free_port

from .dockerfiles import dockerfile
from .manifests import COMPONENTS, FULLNAME, REPO, env_map, expand, objects, one

VENV_BIN = str(Path(sys.executable).parent)


def image_env(service: str) -> dict[str, str]:
    """The ENV of the service's image (its build target), with its /opt/venv and /app paths mapped to
    this checkout."""
    df = dockerfile()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TME_", "PYTHON", "OTEL_"))}
    for key, value in df.env(df.target(service)).items():
        value = value.replace("$PATH", os.environ.get("PATH", "")).replace("/opt/venv/bin", VENV_BIN)
        env[key] = str(REPO) if key == "PYTHONPATH" and value == "/app" else value
    return env


def pod_env(container: dict[str, Any], local: dict[str, str]) -> dict[str, str]:
    """The container's env as Kubernetes would resolve it; Secret-fed variables and the
    in-cluster addresses replaced by `local` (this machine's servers)."""
    env: dict[str, str] = {}
    for name, entry in env_map(container).items():
        if "value" in entry:
            env[name] = expand(entry["value"], env)
        else:
            assert "secretKeyRef" in entry["valueFrom"], entry
            env[name] = "from-a-secret"
    for name in env:
        if name in local:
            env[name] = local[name]
    return env


def local_command(command: list[str]) -> list[str]:
    assert command[0] == "python"  # the image's PATH puts the virtualenv's python first
    return [sys.executable, *command[1:]]


def wait_ok(url: str, proc: subprocess.Popen[bytes], timeout: float = 45) -> int:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return -1
        try:
            last = httpx.get(url, timeout=2).status_code
            if last == 200:
                return 200
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"{url}: last answer {last}")


def test_each_image_command_serves_health_and_stops_cleanly(stack: DevStack, database_url: str, redis_url: str,
                                                            tmp_path: Path) -> None:
    objs = objects()
    procs: dict[str, tuple[subprocess.Popen[bytes], int, int, Path]] = {}
    metrics_ports: dict[str, int] = {}
    try:
        for service in COMPONENTS:
            spec = one(objs, "Deployment", f"{FULLNAME}-{service}")["spec"]["template"]["spec"]
            [container] = spec["containers"]
            df = dockerfile()
            assert df.cmd(df.target(service)) == container["command"]
            port, metrics_ports[service] = free_port(), free_port()
            local = {
                "TME_HOST": "127.0.0.1", "TME_PORT": str(port), "TME_METRICS_PORT": str(metrics_ports[service]),
                "TME_DATABASE_URL": database_url, "TME_REDIS_URL": redis_url,
                "TME_USERS_URL": stack.services["users"].url, "TME_TRACKING_URL": stack.services["tracking"].url,
                "TME_INTERNAL_TOKEN": stack.internal_token,
            }
            env = {**image_env(service), **pod_env(container, local)}
            assert env["TME_PORT"] == str(port) and env["TME_LOG_FORMAT"] == "json"
            log = tmp_path / f"{service}.log"
            with open(log, "wb") as out:
                proc = subprocess.Popen(local_command(container["command"]), env=env, cwd=tmp_path,
                                        stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            procs[service] = (proc, port, spec["terminationGracePeriodSeconds"], log)

        for service, (proc, port, _, log) in procs.items():
            base = f"http://127.0.0.1:{port}"
            assert wait_ok(f"{base}/healthz", proc) == 200, f"{service} exited:\n{log.read_text()[-3000:]}"
            assert wait_ok(f"{base}/readyz", proc) == 200, f"{service} not ready:\n{log.read_text()[-3000:]}"
            # /metrics on its own port (the chart's metrics.port), not on the API port
            metrics = f"http://127.0.0.1:{metrics_ports[service]}/metrics"
            assert "tme_http_requests_total" in httpx.get(metrics, timeout=5).text
            assert httpx.get(f"{base}/metrics", timeout=5).status_code == 404

        for proc, *_ in procs.values():
            proc.send_signal(signal.SIGTERM)  # what the kubelet sends (after the preStop hook)
        for service, (proc, _, grace, log) in procs.items():
            try:
                code = proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{service} still running {grace}s after SIGTERM (terminationGracePeriodSeconds)")
            # uvicorn re-raises the SIGTERM after its graceful shutdown (exit 143 in the pod)
            assert code in (0, -signal.SIGTERM), f"{service} exited with {code}:\n{log.read_text()[-3000:]}"
            text = log.read_text()
            assert "Application shutdown complete." in text and "Finished server process" in text, text[-3000:]
    finally:
        for proc, *_ in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _job_container(name: str) -> dict[str, Any]:
    job = one(objects(), "Job", f"{FULLNAME}-migrate")
    spec = job["spec"]["template"]["spec"]
    return next(c for c in spec["initContainers"] + spec["containers"] if c["name"] == name)


def _run(container: dict[str, Any], env: dict[str, str], args: list[str] | None = None,
         timeout: float = 60) -> subprocess.CompletedProcess[str]:
    command = local_command(container["command"])
    if args is not None:
        command = command[:3] + args  # python -c <script> <args>
    return subprocess.run(command, env=env, cwd="/", capture_output=True, text=True, timeout=timeout)


def test_migration_job_command_is_idempotent(database_url: str) -> None:
    container = _job_container("migrate")
    env = {**image_env("users"), **pod_env(container, {"TME_DATABASE_URL": database_url})}
    result = _run(container, env)
    assert result.returncode == 0, result.stderr
    assert "migrations applied up to head" in result.stdout


def test_wait_for_database_waits_for_a_reachable_server(database_url: str) -> None:
    container = _job_container("wait-for-database")
    env = {**image_env("users"), **pod_env(container, {"TME_DATABASE_URL": database_url})}
    ok = _run(container, env)
    assert ok.returncode == 0, ok.stderr
    assert "database ready (connect)" in ok.stderr
    env["TME_DATABASE_URL"] = f"postgresql://tme@127.0.0.1:{free_port()}/tme"  # nothing listens there
    down = _run(container, env, ["--until", "connect", "--timeout", "1", "--interval", "0.2"])
    assert down.returncode == 1
    assert "database not reachable" in down.stderr and "gave up after 1s" in down.stderr


def _admin(database_url: str, sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def test_services_wait_until_the_schema_is_migrated(database_url: str) -> None:
    objs = objects({"migrations": {"hook": False, "initContainer": True}})
    spec = one(objs, "Deployment", f"{FULLNAME}-users")["spec"]["template"]["spec"]
    [container] = spec["initContainers"]
    env = {**image_env("users"), **pod_env(container, {"TME_DATABASE_URL": database_url})}
    migrated = _run(container, env)
    assert migrated.returncode == 0, migrated.stderr
    assert "database ready (schema)" in migrated.stderr

    empty = f"tme_deploy_{uuid.uuid4().hex[:8]}"
    _admin(database_url, f'CREATE DATABASE "{empty}"')
    try:
        env["TME_DATABASE_URL"] = database_url.rsplit("/", 1)[0] + f"/{empty}"
        waiting = _run(container, env, ["--until", "schema", "--timeout", "1", "--interval", "0.2"])
        assert waiting.returncode == 1
        assert "no alembic_version table yet" in waiting.stderr
        migrate = _job_container("migrate")
        assert _run(migrate, env).returncode == 0
        assert _run(container, env, ["--until", "schema", "--timeout", "5"]).returncode == 0
    finally:
        _admin(database_url, f'DROP DATABASE IF EXISTS "{empty}" WITH (FORCE)')


def test_helm_test_script_sends_an_event_and_reads_it_back(gateway_url: str) -> None:
    pod = one(objects(), "Pod", f"{FULLNAME}-test-ingest")
    container = pod["spec"]["containers"][0]
    env = {**image_env("users"), **pod_env(container, {"TME_GATEWAY_URL": gateway_url, "TME_TEST_TIMEOUT": "10"})}
    result = _run(container, env, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "helm-test: registered helm-test-" in output
    assert "helm-test: sent event 'helm_test_" in output
    assert "helm-test: read event 'helm_test_" in output and "helm-test: ok" in output


def test_retention_cronjob_command_runs_once_and_says_what_it_deleted(database_url: str) -> None:
    cron = one(objects(), "CronJob", f"{FULLNAME}-retention")
    [container] = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    env = {**image_env("tracking"), **pod_env(container, {"TME_DATABASE_URL": database_url})}
    result = _run(container, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("retention: ") and "project(s) with a retention" in result.stdout
