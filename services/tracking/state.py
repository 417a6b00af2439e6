"""What the tracking service keeps for its lifetime (built in the app lifespan,
services/tracking/app.py), typed, and what its `/readyz` and dependency monitor check: the pool
its questions use."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from starlette.applications import Starlette

from services.shared.app import state_of
from services.shared.background import BackgroundLoop
from services.shared.probes import Probes, pool_check, pool_usage
from services.tracking.settings import TrackingSettings


@dataclass
class TrackingState:
    settings: TrackingSettings
    pool: asyncpg.Pool
    rollups: BackgroundLoop | None  # the rollup job; None when TME_ROLLUP_INTERVAL_SECONDS is 0
    data_jobs: BackgroundLoop | None  # deletions and erasures; None when TME_DATA_JOBS_INTERVAL_SECONDS is 0

    def probes(self) -> Probes:
        return Probes(checks={"postgres": pool_check(self.pool)}, pool=pool_usage(self.pool))


def tracking_state(app: Starlette) -> TrackingState:
    return state_of(app, TrackingState)
