"""SQLModel table models over the tables created by migration 0001_accounts (never create_all).

A user and a project are each defined once: `UserBase`/`ProjectBase` hold the fields the public
shapes share with the table, the table model adds what only the database keeps (owner, hashes,
update times), and the public shapes (services/users/public.py) and request bodies
(services/users/schemas.py) derive from the same base, FastAPI-template style. Those take the
public shapes' pydantic config; SQLModel declares `model_config` as its own SQLModelConfig (the
same keys plus `table`), which mypy cannot match with pydantic's ConfigDict: the one ignore each."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import BigInteger, DateTime, LargeBinary
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _bigint(**kwargs: Any) -> Any:
    return Field(sa_type=BigInteger, **kwargs)


def _uuid(**kwargs: Any) -> Any:
    return Field(sa_type=UUID(as_uuid=True), **kwargs)


def _timestamp(**kwargs: Any) -> Any:
    return Field(sa_type=DateTime(timezone=True), **kwargs)


class UserBase(SQLModel):
    name: str = Field(description="Display name.")
    email: str = Field(description="Login email; unique regardless of case.")


class User(UserBase, table=True):
    __tablename__ = "users"

    id: int | None = _bigint(default=None, primary_key=True)
    password_hash: str
    created_at: dt.datetime = _timestamp(default_factory=utcnow)
    updated_at: dt.datetime = _timestamp(default_factory=utcnow)


class ProjectBase(SQLModel):
    name: str = Field(description="The project's name.")
    domain: str | None = Field(default=None, description="The site the project tracks, if set (a hostname).")
    retention_days: int | None = Field(
        default=None, description="Days the project keeps its events (30 to 36500); older events, their "
                                  "aggregates and the people last seen before then are deleted by the retention "
                                  "run (daily by default). null: kept forever (the default).")


class Project(ProjectBase, table=True):
    __tablename__ = "projects"

    id: int | None = _bigint(default=None, primary_key=True)
    owner_id: int = _bigint(foreign_key="users.id")
    write_key: str = Field(description="Public key that identifies the project when sending events (`wk_...`). "
                                       "Rotate it to stop old senders.")
    created_at: dt.datetime = _timestamp(default_factory=utcnow)
    updated_at: dt.datetime = _timestamp(default_factory=utcnow)


class AuthSession(SQLModel, table=True):
    """One login: its refresh tokens rotate inside it, and revoking it ends all of its tokens."""

    __tablename__ = "auth_sessions"

    id: uuid.UUID = _uuid(default_factory=uuid.uuid4, primary_key=True)
    user_id: int = _bigint(foreign_key="users.id")
    created_at: dt.datetime = _timestamp(default_factory=utcnow)
    revoked_at: dt.datetime | None = _timestamp(default=None)
    user_agent: str | None = None


class AccessToken(SQLModel, table=True):
    __tablename__ = "access_tokens"

    token_hash: bytes = Field(primary_key=True, sa_type=LargeBinary)
    session_id: uuid.UUID = _uuid(foreign_key="auth_sessions.id")
    user_id: int = _bigint(foreign_key="users.id")
    expires_at: dt.datetime = _timestamp()


class RefreshToken(SQLModel, table=True):
    __tablename__ = "refresh_tokens"

    token_hash: bytes = Field(primary_key=True, sa_type=LargeBinary)
    session_id: uuid.UUID = _uuid(foreign_key="auth_sessions.id")
    expires_at: dt.datetime = _timestamp()
    used_at: dt.datetime | None = _timestamp(default=None)
    created_at: dt.datetime = _timestamp(default_factory=utcnow)
