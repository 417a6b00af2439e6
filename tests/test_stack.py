"""The local stack: every service is alive, ready and exports metrics."""

import httpx
import pytest


@pytest.mark.parametrize("name", ["gateway", "users", "tracking", "subscriber"])
def test_every_service_is_healthy_ready_and_exports_metrics(stack, name):
    url = stack.services[name].url
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{url}/readyz")
    assert ready.status_code == 200, ready.text
    assert "tme_http_requests_total" in httpx.get(f"{url}/metrics").text
