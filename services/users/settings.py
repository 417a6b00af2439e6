"""Users service settings (`TME_*`): token lifetimes, password hashing cost, login and registration throttles,
invitations and the SMTP server that mails them."""

from __future__ import annotations

from typing import Literal

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

    # invitations to a team (services/users/invitations.py) and the mail that carries them (mailer.py)
    invitation_ttl_hours: int = Field(default=168, ge=1, description="An invitation link expires after this long")
    public_url: str = Field(
        default="", description="The dashboard's address (https://analytics.example.com): invitation links start "
                                "with it; empty: the address the gateway was reached at")
    smtp_host: str = Field(default="", description="SMTP server that mails invitations (empty: none is mailed; the "
                                                   "dashboard shows the link to copy)")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP server port (587 STARTTLS, 465 TLS)")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", description="starttls (upgrade a plain connection), tls (TLS from the start) or none")
    smtp_username: str = Field(default="", description="SMTP login (empty: no login)")
    smtp_password: str = Field(default="", description="SMTP password (the chart reads it from a Secret)")
    smtp_from: str = Field(default="", description="Sender of the mails, e.g. 'TME <tme@example.com>' (empty: "
                                                   "noreply@ the SMTP host)")
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, description="How long a mail may take to send")
