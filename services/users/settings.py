"""Users service settings (`TME_*`): token lifetimes, password hashing cost, login throttle."""

from __future__ import annotations

from pydantic import Field

from services.shared.settings import ServiceSettings


class UsersSettings(ServiceSettings):
    service_name: str = "users"
    port: int = 8001

    access_token_ttl_seconds: int = Field(default=3600, ge=1, description="Lifetime of an access token")
    refresh_token_ttl_days: int = Field(default=30, ge=1, description="A refresh token expires after this long unused")

    # argon2id cost: OWASP's recommended minimum (t=2, m=19 MiB, p=1)
    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_memory_kib: int = Field(default=19 * 1024, ge=8)
    argon2_parallelism: int = Field(default=1, ge=1)

    # login throttle: this many failures per email + client IP within the window -> 429
    login_max_failures: int = Field(default=10, ge=1)
    login_window_seconds: int = Field(default=15 * 60, ge=1)

    # how often expired tokens and dead logins are deleted (0 turns the cleanup off)
    token_cleanup_interval_seconds: int = Field(default=3600, ge=0)
