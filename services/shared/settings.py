"""Settings common to every service, read from `TME_*` environment variables.

Each service subclasses :class:`ServiceSettings` with its own fields; there are no default
secrets: URLs to PostgreSQL and Redis must be given (``tme dev`` and the tests provide
embedded servers and set them)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TME_", extra="ignore")

    service_name: str = "tme"
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = Field(default="", description="PostgreSQL URL, postgresql://user:pass@host:port/db")
    redis_url: str = Field(default="", description="Redis URL, redis://host:port/0")
    db_pool_min: int = 1
    db_pool_max: int = 10
    log_level: str = "INFO"
    log_format: str = Field(default="json", description="json or text")

    def require(self, *names: str) -> None:
        """Fail at start-up, naming the variable, when a required setting is empty."""
        missing = [n for n in names if not getattr(self, n)]
        if missing:
            env = ", ".join(f"TME_{n.upper()}" for n in missing)
            raise RuntimeError(f"{self.service_name}: missing required setting(s): {env}")
