"""What the gateway keeps for its lifetime (built in the app lifespan, services/gateway/app.py),
typed, and what its `/readyz` and dependency monitor check: the Redis client ingest writes
through and the clients of the users and tracking services its requests go through."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import redis.asyncio as aioredis
from starlette.applications import Starlette

from services.gateway.auth import Authenticator
from services.gateway.broadcast import Broadcast
from services.gateway.settings import GatewaySettings
from services.gateway.streams import StreamSlots
from services.shared.app import state_of
from services.shared.probes import Check, Probes

if TYPE_CHECKING:  # ingest/state.py reads the ingest state through gateway_state
    from services.gateway.ingest.state import IngestState
    from services.gateway.share_views import ShareViews  # imports the ingest package's rate limit


@dataclass
class GatewayState:
    settings: GatewaySettings
    redis: aioredis.Redis
    users: httpx.AsyncClient
    tracking: httpx.AsyncClient
    streams: httpx.AsyncClient  # realtime streams and exports: a pool of their own (streams.py)
    stream_slots: StreamSlots
    auth: Authenticator
    ingest: IngestState
    broadcast: Broadcast  # revocations reach every gateway process at once
    shares: ShareViews  # what share links show (share.py)

    def probes(self) -> Probes:
        return Probes(checks={"redis": self.redis.ping, "users": upstream_check(self.users),
                              "tracking": upstream_check(self.tracking)},
                      redis=self.redis)


def upstream_check(client: httpx.AsyncClient) -> Check:
    async def check() -> None:
        response = await client.get("/healthz", timeout=2.0)
        response.raise_for_status()

    return check


def gateway_state(app: Starlette) -> GatewayState:
    return state_of(app, GatewayState)
