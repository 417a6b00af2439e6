"""What the gateway forwards, what it streams back, and what it answers when an upstream is
slow or down. A second gateway process talks to tests/gateway/echo_upstream.py, which echoes
every request it receives (and knows two users: alice-token -> user 7 owning project 1,
bob-token -> user 8 owning project 2); a third talks to closed ports."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from .conftest import ExtraGateway

ALICE = {"Authorization": "Bearer alice-token"}


def _verify_calls(echo_url: str) -> int:
    return int(httpx.get(f"{echo_url}/_counters").json()["verify_calls"])


def test_tracking_requests_carry_the_verified_identity_and_nothing_the_client_forged(
    echo_gateway: ExtraGateway,
) -> None:
    forged = {
        "X-TME-User-Id": "8", "X-TME-Project-Id": "2", "X-TME-Client-IP": "10.6.6.6", "X-Tme-Anything": "x",
        "Cookie": "session=secret", "X-Forwarded-Host": "evil.example", "X-Request-Id": "req-123",
        "Accept-Language": "fr", "User-Agent": "tests/1.0",
    }
    with echo_gateway.client() as client:
        response = client.get("/api/projects/1/stats/summary?from=2024-01-01&q=a%20b&q=c", headers={**ALICE, **forged})
    assert response.status_code == 200, response.text
    seen = response.json()
    assert seen["method"] == "GET"
    assert seen["rawPath"] == "/api/projects/1/stats/summary"
    assert seen["query"] == "from=2024-01-01&q=a%20b&q=c"
    headers = seen["headers"]
    assert headers["x-tme-user-id"] == "7" and headers["x-tme-project-id"] == "1"
    assert headers["x-tme-client-ip"] == "127.0.0.1"
    assert headers["x-request-id"] == "req-123"
    assert headers["authorization"] == "Bearer alice-token"
    assert headers["accept-language"] == "fr" and headers["user-agent"] == "tests/1.0"
    assert "x-tme-anything" not in headers and "cookie" not in headers and "x-forwarded-host" not in headers
    # the upstream's internal headers stay inside; the request id comes back
    assert "x-tme-internal-secret" not in response.headers
    assert response.headers["x-echo"] == "yes"
    assert response.headers["x-request-id"] == "req-123"


def test_users_requests_are_forwarded_unchanged_with_the_client_ip(echo_gateway: ExtraGateway) -> None:
    with echo_gateway.client() as client:
        response = client.post("/api/auth/login", content=b'{"email": "a@example.com", "password": "pw"}',
                               headers={"Content-Type": "application/json", "X-TME-User-Id": "8",
                                        "X-Request-Id": "bad id with spaces"})
    assert response.status_code == 200
    seen = response.json()
    assert seen["method"] == "POST" and seen["path"] == "/api/auth/login"
    assert seen["body"] == '{"email": "a@example.com", "password": "pw"}'
    assert seen["headers"]["content-type"] == "application/json"
    assert seen["headers"]["x-tme-client-ip"] == "127.0.0.1"
    assert "x-tme-user-id" not in seen["headers"]
    rid = seen["headers"]["x-request-id"]
    assert rid != "bad id with spaces" and len(rid) >= 16  # an unusable id is replaced
    assert response.headers["x-request-id"] == rid


def test_tracking_bodies_and_methods_pass_through(echo_gateway: ExtraGateway) -> None:
    with echo_gateway.client() as client:
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            response = client.request(method, "/api/projects/1/funnels/5", json={"steps": ["a", "b"]}, headers=ALICE)
            assert response.status_code == 200, response.text
            assert response.json()["method"] == method
            assert response.json()["body"] == '{"steps":["a","b"]}'


def test_ownership_and_tokens_are_checked_before_forwarding(echo_gateway: ExtraGateway) -> None:
    with echo_gateway.client() as client:
        assert client.get("/api/projects/2/stats/summary", headers=ALICE).status_code == 404  # bob's
        assert client.get("/api/projects/3/stats/summary", headers=ALICE).status_code == 404  # nobody's
        assert client.get("/api/projects/1/stats/summary", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert client.get("/api/projects/1/stats/summary").status_code == 401
        assert client.get("/api/projects/2/stats/summary", headers={"Authorization": "Bearer bob-token"}).json()[
            "headers"]["x-tme-user-id"] == "8"


def test_verified_tokens_are_cached_and_forgotten_on_logout(echo_gateway: ExtraGateway, echo_url: str) -> None:
    token = {"Authorization": "Bearer alice-second-token"}
    with echo_gateway.client() as client:
        assert client.get("/api/projects/1/stats/a", headers=token).status_code == 200
        calls = _verify_calls(echo_url)
        for _ in range(3):
            assert client.get("/api/projects/1/stats/b", headers=token).status_code == 200
        assert _verify_calls(echo_url) == calls  # served from the cache

        assert client.post("/api/auth/logout", headers=token).status_code == 200
        after_logout = _verify_calls(echo_url)  # (the logout itself may look the session up)
        assert client.get("/api/projects/1/stats/c", headers=token).status_code == 200
        assert _verify_calls(echo_url) == after_logout + 1  # asked the users service again


def test_concurrent_requests_with_a_new_token_share_one_check(echo_gateway: ExtraGateway, echo_url: str) -> None:
    token = {"Authorization": "Bearer alice-slow-token"}
    calls = _verify_calls(echo_url)

    def fetch(n: int) -> int:
        with echo_gateway.client() as client:
            return client.get(f"/api/projects/1/stats/{n}", headers=token).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(fetch, range(6)))
    assert statuses == [200] * 6
    assert _verify_calls(echo_url) == calls + 1


def test_server_sent_events_are_streamed_as_they_come(echo_gateway: ExtraGateway, echo_url: str) -> None:
    started = time.monotonic()
    with echo_gateway.client() as client, client.stream(
        "GET", "/api/projects/1/realtime/stream", headers={**ALICE, "Accept": "text/event-stream"}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = []
        for line in response.iter_lines():
            lines.append(line)
            if line == 'data: {"n": 2}':
                break
    # 30 events 0.3 s apart: the first two arrive long before the stream would end
    assert time.monotonic() - started < 5
    assert lines[:3] == ["id: 1", "event: tick", 'data: {"n": 1}']

    deadline = time.monotonic() + 5  # the client left: the gateway closes the upstream stream too
    while httpx.get(f"{echo_url}/_counters").json()["open_streams"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert httpx.get(f"{echo_url}/_counters").json()["open_streams"] == 0


def test_a_slow_upstream_is_a_504_in_the_error_shape(echo_gateway: ExtraGateway) -> None:
    with echo_gateway.client() as client:
        response = client.get("/api/projects/1/stats/slow", headers=ALICE)
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"


def test_unreachable_upstreams_are_503_json_never_a_stack_trace(down_gateway: ExtraGateway) -> None:
    with down_gateway.client() as client:
        responses = [
            client.post("/api/auth/login", json={"email": "a@example.com", "password": "whatever"}),
            client.post("/api/auth/register", json={"name": "a", "email": "a@example.com", "password": "x" * 12}),
            client.get("/api/me", headers=ALICE),
            client.get("/api/projects", headers=ALICE),
            client.get("/api/projects/1/stats/summary", headers=ALICE),  # token check cannot be made
        ]
        for response in responses:
            assert response.status_code == 503, (response.request.url, response.text)
            error = response.json()["error"]
            assert error["code"] == "upstream_unavailable" and set(error) == {"code", "message", "fields"}
            assert "Traceback" not in response.text

        # no token at all is still a plain 401: nothing needs asking
        assert client.get("/api/projects/1/stats/summary").status_code == 401

        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["redis"] == "ok"
    assert checks["users"].startswith("unavailable") and checks["tracking"].startswith("unavailable")
    assert not any("Traceback" in line for line in down_gateway.lines)


def test_cors_is_off_by_default(client: httpx.Client) -> None:
    response = client.get("/api/openapi.json", headers={"Origin": "https://dash.example.com"})
    assert "access-control-allow-origin" not in response.headers


def test_configured_origins_may_call_the_dashboard_api(echo_gateway: ExtraGateway) -> None:
    preflight = {"Origin": "https://dash.example.com", "Access-Control-Request-Method": "PATCH",
                 "Access-Control-Request-Headers": "authorization, content-type"}
    with echo_gateway.client() as client:
        allowed = client.options("/api/projects/1", headers=preflight)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://dash.example.com"
        assert "PATCH" in allowed.headers["access-control-allow-methods"]

        refused = client.options("/api/projects/1", headers={**preflight, "Origin": "https://evil.example"})
        assert refused.headers.get("access-control-allow-origin") != "https://evil.example"

        simple = client.get("/api/projects/1/stats/x", headers={**ALICE, "Origin": "https://dash.example.com"})
        assert simple.headers["access-control-allow-origin"] == "https://dash.example.com"
        assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()


def test_a_users_own_data_is_never_kept_by_a_browser_cache(client: httpx.Client) -> None:
    """The account, its projects and its analytics are answered with `Cache-Control: no-store`, so
    a browser never shows an earlier answer (a name before its rename, a rotated write key) and no
    shared cache keeps one."""
    account = {"name": "Ada", "email": f"nostore-{time.time_ns()}@example.com", "password": "correct horse battery"}
    registered = client.post("/api/auth/register", json=account)
    assert registered.status_code == 201, registered.text
    body = registered.json()
    auth = {"Authorization": f"Bearer {body['accessToken']}"}
    project = body["project"]["id"]
    for path in ("/api/me", "/api/projects", f"/api/projects/{project}/stats/summary"):
        answer = client.get(path, headers=auth)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.headers["cache-control"] == "no-store", path
    assert registered.headers["cache-control"] == "no-store"  # the tokens above
