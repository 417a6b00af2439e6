"""`/metrics` on a port of its own (`TME_METRICS_PORT`), so a NetworkPolicy can let Prometheus
reach the metrics and nothing else: on the API port a scraper could also call the API.

The server is prometheus_client's, in a daemon thread of the process that starts uvicorn: with
several workers that is their supervisor, which reads every worker's metric files (the
multiprocess directory); with one worker, the worker itself. Hot-path metrics are buffered in
each worker and flushed every second (metrics.py), so a scrape sees them at most a second late."""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server


def serve_metrics(host: str, port: int) -> None:
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    start_http_server(port, addr=host, registry=registry)
