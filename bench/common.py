"""Shared benchmark plumbing: a private stack on free ports, a registered project, tools."""

from __future__ import annotations

import atexit
import platform
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import httpx

from services.devstack import DevStack
from services.shared.embedded import free_port


def machine_summary() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return f"{platform.system()} {platform.machine()}, {cores} cores ({cpu}), Python {platform.python_version()}"


class LogFile:
    def __init__(self, path: Path) -> None:
        self.file = path.open("a", buffering=1)

    def __call__(self, name: str, line: str) -> None:
        self.file.write(f"{name:<10} | {line}\n")


def _drop_data(data: Path) -> None:
    """The private stack's databases (gigabytes after a 10M-event run) go when the benchmark
    ends; its stack.log stays for reading."""
    for child in data.iterdir():
        if child.name != "stack.log":
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


def start_stack(extra_env: dict[str, str] | None = None) -> DevStack:
    data = Path(tempfile.mkdtemp(prefix="tme-bench-"))
    atexit.register(_drop_data, data)  # after the benchmark's own `finally` has stopped the stack
    ports = {n: free_port() for n in ("gateway", "users", "tracking", "subscriber")}
    stack = DevStack(data, ports=ports, pg_port=free_port(), redis_port=free_port(),
                     sink=LogFile(data / "stack.log"),
                     # benchmarks measure capacity through one write key and one address: no per-key or
                     # per-address limits (services/gateway/ingest/ratelimit.py, services/users/throttle.py)
                     extra_env={"TME_LOG_LEVEL": "WARNING", "TME_INGEST_RATE_PER_KEY": "0",
                                "TME_REGISTER_MAX_PER_ADDRESS": "1000000", **(extra_env or {})})
    stack.start()
    print(f"# stack logs: {data / 'stack.log'}")
    return stack


def register(gateway_url: str) -> dict:
    body = {"name": "Bench", "email": f"bench-{uuid.uuid4().hex[:8]}@example.com", "password": "bench-password-1"}
    r = httpx.post(f"{gateway_url}/api/auth/register", json=body, timeout=30)
    r.raise_for_status()
    return {**r.json(), "email": body["email"], "password": body["password"]}


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise SystemExit(f"{name} is required for this benchmark: apt-get install {name}")
    return path
