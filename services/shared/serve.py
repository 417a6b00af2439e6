"""Run one service with its settings: the command every image and `tme dev` use
(`python -m services.<name>`).

Server: uvicorn (uvloop + httptools), as the design card says (granian was tried and measured
against it: docs/benchmarks.md). X-Forwarded-For is believed only from
`TME_FORWARDED_ALLOW_IPS` (uvicorn's proxy headers), and SIGTERM drains in-flight requests for up to
`TME_GRACEFUL_SHUTDOWN_SECONDS` after the application's shutdown.

Workers: `TME_WORKERS` processes; the gateway defaults to 2 (its ingest path is CPU-bound
Python), every other service to 1. With more than one worker, Prometheus metrics are shared
through files in `PROMETHEUS_MULTIPROC_DIR` (created, or emptied of a previous run's files,
here, before the workers start), so `/metrics` of any worker reports the whole process group.

Request limits (header size and count, body size, header and body deadlines: limits.py) are
enforced by the HTTP protocol of http_protocol.py, uvicorn's httptools protocol with those checks,
before any application code runs."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import uvicorn

from services.shared.http_protocol import LimitedHttpToolsProtocol
from services.shared.limits import server_limits
from services.shared.metrics_server import serve_metrics
from services.shared.settings import ServiceSettings

DEFAULT_WORKERS = {"gateway": 2}


def workers_for(service_name: str) -> int:
    value = os.environ.get("TME_WORKERS", "").strip()
    workers = int(value) if value else DEFAULT_WORKERS.get(service_name, 1)
    if workers < 1:
        raise RuntimeError(f"TME_WORKERS must be at least 1, not {workers}")
    return workers


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
    """The proxies whose X-Forwarded-For uvicorn believes; by default none (the peer address is
    the client). uvicorn takes the right-most hop that is not a trusted proxy, except with "*",
    where it takes the left-most, client-written one: "*" is refused."""
    value = os.environ.get("TME_FORWARDED_ALLOW_IPS", "").strip()
    if "*" in (part.strip() for part in value.split(",")):
        raise RuntimeError('TME_FORWARDED_ALLOW_IPS="*" lets any client choose its own address; name the '
                           "proxies' addresses or networks (e.g. 10.0.0.0/8)")
    return value


def _graceful_seconds() -> int:
    return int(os.environ.get("TME_GRACEFUL_SHUTDOWN_SECONDS", "25"))


def allow_bodies_of(settings: ServiceSettings) -> None:
    """Raise TME_MAX_BODY_BYTES to the largest body this service's own settings allow (the
    gateway's TME_INGEST_MAX_BATCH_BYTES), in the environment its workers inherit."""
    own = int(getattr(settings, "ingest_max_batch_bytes", 0))
    if own > server_limits().max_body_bytes:
        os.environ["TME_MAX_BODY_BYTES"] = str(own)
        server_limits.cache_clear()


def run(factory: str, settings: ServiceSettings) -> None:
    workers = workers_for(settings.service_name)
    allow_bodies_of(settings)
    if workers > 1:
        prepare_multiprocess_metrics()
    if settings.metrics_port:
        serve_metrics(settings.host, settings.metrics_port)
    uvicorn.run(
        factory,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        access_log=False,
        http=LimitedHttpToolsProtocol,
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips=_forwarded_allow_ips(),
        timeout_graceful_shutdown=_graceful_seconds(),
    )
