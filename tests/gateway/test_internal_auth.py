"""Service-to-service trust rests on a shared secret, not on the network: users and tracking
answer only requests carrying the internal token the gateway sends, so forged identity headers or
a call to users' `/internal/*` from anything else that reaches the pod network get a 401. Probes and
metrics stay open; the gateway itself works as before."""

from __future__ import annotations

import httpx
import pytest
from conftest import INTERNAL


@pytest.mark.parametrize("service", ["users", "tracking"])
def test_internal_services_refuse_calls_without_the_token(service: str, users_url: str, tracking_url: str) -> None:
    base = {"users": users_url, "tracking": tracking_url}[service]
    forged = {"X-TME-Project-Id": "1", "X-TME-User-Id": "1"}
    paths = {"users": ["/internal/write-keys/wk_anything", "/internal/projects/1", "/api/me"],
             "tracking": ["/api/projects/1/stats/summary", "/api/projects/1/events"]}[service]
    with httpx.Client(base_url=base, timeout=10) as direct:
        for path in paths:
            for headers in (forged, {**forged, "X-TME-Internal-Token": "wrong"},
                            {**forged, "X-TME-Internal-Token": INTERNAL["X-TME-Internal-Token"][:-1]}):
                response = direct.get(path, headers=headers)
                assert response.status_code == 401, (path, response.text)
                assert response.json()["error"]["code"] == "internal_only"
        for open_path in ("/healthz", "/readyz", "/metrics"):
            assert direct.get(open_path).status_code == 200, open_path
        assert direct.get(paths[0], headers={**forged, **INTERNAL}).status_code != 401


def test_the_gateway_calls_them_with_the_token(client: httpx.Client) -> None:
    response = client.post("/api/auth/register", json={"name": "Ida", "email": "ida-internal@example.com",
                                                       "password": "correct horse battery staple"})
    assert response.status_code == 201, response.text
    token, project = response.json()["accessToken"], response.json()["project"]["id"]
    summary = client.get(f"/api/projects/{project}/stats/summary", headers={"Authorization": f"Bearer {token}"})
    assert summary.status_code == 200, summary.text
    # a client cannot smuggle a token of its own through the gateway: x-tme-* headers are dropped
    me = client.get("/api/me", headers={"Authorization": f"Bearer {token}", "X-TME-Internal-Token": "x"})
    assert me.status_code == 200
