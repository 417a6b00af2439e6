from __future__ import annotations

from services.shared.settings import ServiceSettings


class TrackingSettings(ServiceSettings):
    service_name: str = "tracking"
    port: int = 8002
