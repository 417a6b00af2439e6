"""Realtime streams and exports cannot starve other tenants: they run on an upstream pool of
their own and are capped per user and per project; beyond the cap a clear 429, and with the
cap of streams open everybody's ordinary analytics questions still answer."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import httpx
import pytest

from services.devstack import DevStack

from .conftest import Account, ExtraGateway

SSE = {"Accept": "text/event-stream"}


@pytest.fixture(scope="module")
def capped_gateway(stack: DevStack) -> Iterator[ExtraGateway]:
    """One process; 3 streams per user, 2 per project; an ordinary pool of only 2 connections
    (fewer than the streams held open in the tests: they must not be on it)."""
    env = {"TME_WORKERS": "1", "TME_STREAM_MAX_PER_USER": "3", "TME_STREAM_MAX_PER_PROJECT": "2",
           "TME_UPSTREAM_MAX_CONNECTIONS": "2", "TME_STREAM_MAX_CONNECTIONS": "10"}
    with ExtraGateway(stack, env) as gateway:
        yield gateway


def _open(stack: contextlib.ExitStack, client: httpx.Client, account: Account, project_id: int) -> httpx.Response:
    return stack.enter_context(client.stream("GET", f"/api/projects/{project_id}/realtime/stream",
                                             headers={**account.auth, **SSE}))


def test_streams_are_capped_per_project_and_user_and_others_still_get_answers(
    capped_gateway: ExtraGateway, client: httpx.Client, alice: Account, bob: Account,
) -> None:
    second = client.post("/api/projects", json={"name": "Second"}, headers=alice.auth)
    assert second.status_code == 201, second.text
    first_id, second_id = alice.project["id"], second.json()["id"]
    with capped_gateway.client() as gw, contextlib.ExitStack() as held:
        for _ in range(2):
            assert _open(held, gw, alice, first_id).status_code == 200
        by_project = gw.get(f"/api/projects/{first_id}/realtime/stream", headers={**alice.auth, **SSE})
        assert by_project.status_code == 429, by_project.text
        assert by_project.json()["error"]["code"] == "too_many_streams"
        assert int(by_project.headers["Retry-After"]) >= 1

        assert _open(held, gw, alice, second_id).status_code == 200  # her third: another project
        by_user = gw.get(f"/api/projects/{second_id}/events/export", headers=alice.auth)  # exports count too
        assert by_user.status_code == 429, by_user.text
        assert "live streams or exports open" in by_user.json()["error"]["message"]

        # three streams held, more than the ordinary pool's two connections: questions still answer
        with capped_gateway.client() as other:
            for account in (alice, bob):
                summary = other.get(f"/api/projects/{account.project['id']}/stats/summary", headers=account.auth,
                                    timeout=10)
                assert summary.status_code == 200, summary.text
            assert _open(held, other, bob, bob.project["id"]).status_code == 200  # bob has his own cap

    # closed streams give their slots back (the gateway notices the client left)
    with capped_gateway.client() as gw:
        deadline = time.monotonic() + 30
        while True:
            with gw.stream("GET", f"/api/projects/{first_id}/realtime/stream",
                           headers={**alice.auth, **SSE}) as again:
                if again.status_code == 200:
                    break
            assert time.monotonic() < deadline, "the closed streams' slots never came back"
            time.sleep(0.2)
