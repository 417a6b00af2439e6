"""Users service settings (`TME_*`): token lifetimes, password hashing cost, login and registration throttles."""

from __future__ import annotations

from pydantic import Field

from services.shared.settings import ServiceSettings


class UsersSettings(ServiceSettings):
    service_name: str = "users"
    port: int = Field(default=8001, description="Port to listen on")

    access_token_ttl_seconds: int = Field(default=3600, ge=1, description="Lifetime of an access token")
    refresh_token_ttl_days: int = Field(default=30, ge=1, description="A refresh token expires after this long unused")

    # argon2id cost: OWASP's recommended minimum (t=2, m=19 MiB, p=1)
    argon2_time_cost: int = Field(default=2, ge=1, description="argon2id passes (OWASP minimum: 2)")
    argon2_memory_kib: int = Field(default=19 * 1024, ge=8, description="argon2id memory per hash in KiB (19 MiB)")
    argon2_parallelism: int = Field(default=1, ge=1, description="argon2id lanes")

    # login throttle (throttle.py): failures within the window per email + client IP, per email, per IP -> 429
    login_max_failures: int = Field(default=10, ge=1, description="Failed logins per email + IP before 429")
    login_max_failures_per_account: int = Field(
        default=30, ge=1, description="Failed logins per email, from any address, before 429")
    login_max_failures_per_address: int = Field(
        default=100, ge=1, description="Failed logins per client IP, for any email, before 429")
    login_window_seconds: int = Field(default=15 * 60, ge=1, description="Window of the login throttle")

    # registration limit per client IP (throttle.py)
    register_max_per_address: int = Field(default=10, ge=1, description="Registrations per client IP per window")
    register_window_seconds: int = Field(default=3600, ge=1, description="Window of the registration limit")

    # how often expired tokens and dead logins are deleted (0 turns the cleanup off)
    token_cleanup_interval_seconds: int = Field(default=3600, ge=0,
                                                description="How often expired tokens are deleted (0: never)")
