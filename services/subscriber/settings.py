from __future__ import annotations

from services.shared.settings import ServiceSettings


class SubscriberSettings(ServiceSettings):
    service_name: str = "subscriber"
    port: int = 8003
