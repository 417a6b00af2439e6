from __future__ import annotations

from services.shared.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    service_name: str = "gateway"
    port: int = 8000
    users_url: str = "http://127.0.0.1:8001"
    tracking_url: str = "http://127.0.0.1:8002"
