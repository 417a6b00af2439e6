"""`helm test`: send an event through the gateway and read it back, as a user would.

Registers a throwaway account (POST /api/auth/register, which also creates its first project
and write key), sends one event with that write key (POST /api/track), then polls the
project's events (GET /api/projects/{id}/events, bearer token) until the event shows up.
Cleans up by deleting the project and logging out. Standard library only; exit 0 on success.

Environment: TME_GATEWAY_URL (e.g. http://tme-gateway:8000), TME_TEST_TIMEOUT (seconds)."""

import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request

BASE = os.environ.get("TME_GATEWAY_URL", "http://127.0.0.1:8000").rstrip("/")
TIMEOUT = float(os.environ.get("TME_TEST_TIMEOUT", "120"))


def log(message: str) -> None:
    print(f"helm-test: {message}", flush=True)


def call(method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        payload = json.loads(raw) if raw else None
    except ValueError:
        payload = raw.decode(errors="replace")
    return status, payload


def wait_for_gateway(deadline: float) -> None:
    while True:
        try:
            status, _ = call("GET", "/readyz")
            if status == 200:
                return
            reason = f"/readyz answered {status}"
        except OSError as exc:
            reason = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            raise SystemExit(f"helm-test: gateway at {BASE} not ready: {reason}")
        time.sleep(2)


def expect(status: int, payload: object, wanted: tuple[int, ...], what: str) -> None:
    if status not in wanted:
        raise SystemExit(f"helm-test: {what} answered {status}: {payload}")


def main() -> int:
    deadline = time.monotonic() + TIMEOUT
    wait_for_gateway(deadline)
    tag = secrets.token_hex(6)
    email = f"helm-test-{tag}@example.com"
    status, account = call("POST", "/api/auth/register",
                           {"name": "helm test", "email": email, "password": secrets.token_urlsafe(24)})
    expect(status, account, (201,), "POST /api/auth/register")
    assert isinstance(account, dict)
    token = account["accessToken"]
    project = account["project"]
    log(f"registered {email}, project {project['id']}")

    event_name = f"helm_test_{tag}"
    status, answer = call("POST", "/api/track", {"apiKey": project["writeKey"], "eventName": event_name})
    expect(status, answer, (200, 201, 202), "POST /api/track")
    log(f"sent event {event_name!r}")

    found = False
    events_path = f"/api/projects/{project['id']}/events"
    while not found:
        status, events = call("GET", events_path, token=token)
        expect(status, events, (200,), f"GET {events_path}")
        found = event_name in json.dumps(events)
        if not found:
            if time.monotonic() >= deadline:
                raise SystemExit(f"helm-test: event {event_name!r} not readable after {TIMEOUT:.0f}s")
            time.sleep(1)
    log(f"read event {event_name!r} back through the gateway")

    call("DELETE", f"/api/projects/{project['id']}", token=token)
    call("POST", "/api/auth/logout", token=token)
    log("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
