"""Run one service with its settings: the command every image and `tme dev` use
(`python -m services.<name>`).

Server: the gateway runs under granian (HTTP parsing and socket I/O in Rust: on two cores it
accepted ~1.3-2x the batched ingest events uvicorn did, see docs/benchmarks.md); the
other services run under uvicorn (uvloop + httptools). `TME_SERVER=uvicorn|granian` overrides.
Behind either, X-Forwarded-For is believed only from `TME_FORWARDED_ALLOW_IPS` (uvicorn's
proxy-headers middleware), and SIGTERM drains in-flight requests for up to
`TME_GRACEFUL_SHUTDOWN_SECONDS` after the application's shutdown.

Workers: `TME_WORKERS` processes; the gateway defaults to 2 (its ingest path is CPU-bound
Python), every other service to 1. With more than one worker, Prometheus metrics are shared
through files in `PROMETHEUS_MULTIPROC_DIR` (created, or emptied of a previous run's files,
here, before the workers start), so `/metrics` of any worker reports the whole process group."""

from __future__ import annotations

import atexit
import importlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp

from services.shared.settings import ServiceSettings

DEFAULT_WORKERS = {"gateway": 2}
DEFAULT_SERVER = {"gateway": "granian"}
SERVERS = ("uvicorn", "granian")
_FACTORY_ENV = "TME_APP_FACTORY"  # the app factory, for granian's workers (they import a target by name)


def workers_for(service_name: str) -> int:
    value = os.environ.get("TME_WORKERS", "").strip()
    workers = int(value) if value else DEFAULT_WORKERS.get(service_name, 1)
    if workers < 1:
        raise RuntimeError(f"TME_WORKERS must be at least 1, not {workers}")
    return workers


def server_for(service_name: str) -> str:
    server = os.environ.get("TME_SERVER", "").strip().lower() or DEFAULT_SERVER.get(service_name, "uvicorn")
    if server not in SERVERS:
        raise RuntimeError(f"TME_SERVER must be one of {', '.join(SERVERS)}, not {server!r}")
    return server


def prepare_multiprocess_metrics() -> Path:
    """The directory the workers' metric files go to: PROMETHEUS_MULTIPROC_DIR when set (its
    *.db files from an earlier run removed: they would add up old counts), else a fresh
    temporary directory removed at exit. Must run before any worker imports prometheus_client."""
    configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink(missing_ok=True)
        return path
    path = Path(tempfile.mkdtemp(prefix="tme-metrics-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def _forwarded_allow_ips() -> str:
    return os.environ.get("TME_FORWARDED_ALLOW_IPS", "127.0.0.1")


def _graceful_seconds() -> int:
    return int(os.environ.get("TME_GRACEFUL_SHUTDOWN_SECONDS", "25"))


def proxied_app() -> ASGIApp:
    """granian's target in each worker: the service's app (factory named in TME_APP_FACTORY)
    behind the proxy-headers middleware uvicorn would apply."""
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    module, _, name = os.environ[_FACTORY_ENV].partition(":")
    app = getattr(importlib.import_module(module), name)()
    return ProxyHeadersMiddleware(app, trusted_hosts=_forwarded_allow_ips())


def _granian_log_config(settings: ServiceSettings) -> dict[str, Any]:
    """granian's own lines (start, workers, shutdown) in the service's log format."""
    if settings.log_format != "json":
        return {}
    formatter = {"()": "services.shared.logging.JsonFormatter", "service": settings.service_name}
    return {"formatters": {"generic": formatter, "access": formatter}}


def _run_granian(factory: str, settings: ServiceSettings, workers: int) -> None:
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    os.environ[_FACTORY_ENV] = factory
    Granian(
        f"{__name__}:proxied_app",
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=workers,
        backlog=2048,
        websockets=False,
        log_level=LogLevels.info,
        log_dictconfig=_granian_log_config(settings),
        log_access=False,
        respawn_failed_workers=True,
        workers_kill_timeout=max(1, _graceful_seconds()),
    ).serve()


def _run_uvicorn(factory: str, settings: ServiceSettings, workers: int) -> None:
    import uvicorn

    uvicorn.run(
        factory,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        access_log=False,
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips=_forwarded_allow_ips(),
        timeout_graceful_shutdown=_graceful_seconds(),
    )


def run(factory: str, settings: ServiceSettings) -> None:
    workers = workers_for(settings.service_name)
    if workers > 1:
        prepare_multiprocess_metrics()
    if server_for(settings.service_name) == "granian":
        _run_granian(factory, settings, workers)
    else:
        _run_uvicorn(factory, settings, workers)
