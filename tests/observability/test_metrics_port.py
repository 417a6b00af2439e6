"""With TME_METRICS_PORT set (as the chart does), /metrics is served on that port alone and not
on the API port, so a NetworkPolicy can open the metrics to Prometheus without opening the API.
With several uvicorn workers, the metrics port reports every worker's requests."""

from __future__ import annotations

import httpx
from conftest import INTERNAL

from services.devstack import DevStack
from services.shared.embedded import free_port

from .conftest import wait_for

SUMMARY_ROUTE = 'route="/api/projects/{project_id:int}/stats/summary"'


def _requests_counted(text: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("tme_http_requests_total{") and SUMMARY_ROUTE in line)


def test_metrics_on_their_own_port_with_every_worker_counted(stack: DevStack) -> None:
    metrics_port = free_port()
    key = "tracking-metrics-port"
    svc = stack.start_service("tracking", key=key, port=free_port(),
                              env={"TME_METRICS_PORT": str(metrics_port), "TME_WORKERS": "2"})
    try:
        with httpx.Client(base_url=svc.url, timeout=10, headers=INTERNAL) as api:
            assert api.get("/metrics").status_code == 404
            for _ in range(6):
                api.get("/api/projects/1/stats/summary", headers={"X-TME-Project-Id": "1"})
        scrape = f"http://127.0.0.1:{metrics_port}/metrics"
        assert httpx.get(scrape, timeout=10).status_code == 200
        # the workers flush their buffered metrics every second
        wait_for(lambda: _requests_counted(httpx.get(scrape, timeout=10).text) >= 6, "six requests counted")
    finally:
        svc.stop()
        stack.services.pop(key, None)
