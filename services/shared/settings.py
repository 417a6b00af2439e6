"""Settings common to every service, read from `TME_*` environment variables.

Each service subclasses :class:`ServiceSettings` with its own fields; there are no default
secrets: URLs to PostgreSQL and Redis must be given (``tme dev`` and the tests provide
embedded servers and set them)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TME_", extra="ignore")

    service_name: str = Field(default="tme", description="Name in logs, metrics and traces")
    host: str = Field(default="127.0.0.1", description="Interface to listen on (0.0.0.0 in containers)")
    port: int = Field(default=8000, description="Port to listen on")
    database_url: str = Field(
        default="", description="PostgreSQL URL postgresql://user:pass@host/db (users, tracking, subscriber: required)")
    redis_url: str = Field(
        default="", description="Redis URL, redis://host:port/0 (gateway, users, subscriber: required; tracking: "
                                 "where a deleted project's dead letters and shared write keys are deleted)")
    db_pool_min: int = Field(default=1, ge=0, description="Connections the PostgreSQL pool keeps open")
    db_pool_max: int = Field(default=10, ge=1, description="Most connections the PostgreSQL pool opens")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_format: str = Field(default="json", description="json or text")
    metrics_port: int = Field(
        default=0, ge=0, le=65535, description="Port serving /metrics alone (the chart's 9464), so a NetworkPolicy can "
                                               "open metrics without the API; 0: /metrics on the API port")
    internal_token: str = Field(
        default="", description="Shared secret of internal calls (X-TME-Internal-Token): the gateway sends it, users "
                                "and tracking refuse requests without it (gateway, users, tracking: required; the "
                                "chart generates it, `tme dev` makes one per start)")
    monitor_interval_seconds: float = Field(
        default=15.0, description="how often dependency and pool metrics are sampled (0: never)")

    def require(self, *names: str) -> None:
        """Fail at start-up, naming the variable, when a required setting is empty."""
        missing = [n for n in names if not getattr(self, n)]
        if missing:
            env = ", ".join(f"TME_{n.upper()}" for n in missing)
            raise RuntimeError(f"{self.service_name}: missing required setting(s): {env}")
