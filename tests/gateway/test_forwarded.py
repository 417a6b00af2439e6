"""Which client address the gateway reports upstream (the one login and registration limits
count): by default the peer's, whatever X-Forwarded-For says; behind trusted proxies the
right-most hop that is not one of them (a client can only prepend hops); "*" is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.devstack import DevStack
from services.shared import serve

from .conftest import ExtraGateway

ALICE = {"Authorization": "Bearer alice-token"}


def _client_ip_seen(gateway: ExtraGateway, forwarded_for: str) -> str:
    with gateway.client() as client:
        response = client.post("/api/auth/login", json={}, headers={"X-Forwarded-For": forwarded_for})
    assert response.status_code == 200, response.text  # the echo upstream answers what it saw
    return str(response.json()["headers"]["x-tme-client-ip"])


def test_by_default_x_forwarded_for_is_not_believed(echo_gateway: ExtraGateway) -> None:
    assert _client_ip_seen(echo_gateway, "198.51.100.66") == "127.0.0.1"


@pytest.fixture(scope="module")
def behind_proxy(stack: DevStack, echo_url: str) -> Iterator[ExtraGateway]:
    """A gateway that trusts 127.0.0.1 (the tests' client) as its proxy."""
    env = {"TME_USERS_URL": echo_url, "TME_TRACKING_URL": echo_url, "TME_WORKERS": "1",
           "TME_FORWARDED_ALLOW_IPS": "127.0.0.1,10.0.0.0/8"}
    with ExtraGateway(stack, env, checked=False) as gateway:  # the echo's answers are not the API's
        yield gateway


def test_behind_a_trusted_proxy_the_client_is_the_right_most_untrusted_hop(behind_proxy: ExtraGateway) -> None:
    # the client wrote "6.6.6.6"; the proxies appended the address they saw, then their own
    assert _client_ip_seen(behind_proxy, "6.6.6.6, 203.0.113.9, 10.1.2.3") == "203.0.113.9"
    assert _client_ip_seen(behind_proxy, "203.0.113.10") == "203.0.113.10"


def test_trusting_every_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TME_FORWARDED_ALLOW_IPS", "10.0.0.0/8, *")
    with pytest.raises(RuntimeError, match="choose its own address"):
        serve._forwarded_allow_ips()
    monkeypatch.delenv("TME_FORWARDED_ALLOW_IPS")
    assert serve._forwarded_allow_ips() == ""  # nobody
