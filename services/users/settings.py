from __future__ import annotations

from services.shared.settings import ServiceSettings


class UsersSettings(ServiceSettings):
    service_name: str = "users"
    port: int = 8001
