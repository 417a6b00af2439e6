"""Accounts: users, projects (write keys), login sessions, access and refresh tokens.

Revision ID: 0001_accounts
Revises:
Create Date: 2026-11-25
"""

from services.migrations.sql import run_script

revision = "0001_accounts"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script("""
    CREATE TABLE users (
        id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name          text NOT NULL,
        email         text NOT NULL,
        password_hash text NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

    CREATE TABLE projects (
        id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        owner_id   bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        name       text NOT NULL,
        domain     text,
        write_key  text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX projects_owner_idx ON projects (owner_id);

    -- one row per login; refresh tokens rotate inside it; revoking it ends all its tokens
    CREATE TABLE auth_sessions (
        id          uuid PRIMARY KEY,
        user_id     bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at  timestamptz NOT NULL DEFAULT now(),
        revoked_at  timestamptz,
        user_agent  text
    );
    CREATE INDEX auth_sessions_user_idx ON auth_sessions (user_id);

    -- tokens are stored only as SHA-256 hashes of the random secret handed to the client
    CREATE TABLE access_tokens (
        token_hash  bytea PRIMARY KEY,
        session_id  uuid NOT NULL REFERENCES auth_sessions(id) ON DELETE CASCADE,
        user_id     bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        expires_at  timestamptz NOT NULL
    );
    CREATE INDEX access_tokens_session_idx ON access_tokens (session_id);
    CREATE INDEX access_tokens_expires_idx ON access_tokens (expires_at);

    CREATE TABLE refresh_tokens (
        token_hash  bytea PRIMARY KEY,
        session_id  uuid NOT NULL REFERENCES auth_sessions(id) ON DELETE CASCADE,
        expires_at  timestamptz NOT NULL,
        used_at     timestamptz,
        created_at  timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
    """)


def downgrade() -> None:
    run_script("DROP TABLE refresh_tokens, access_tokens, auth_sessions, projects, users")
