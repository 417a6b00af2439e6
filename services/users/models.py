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
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
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
    team_id: int = _bigint(foreign_key="teams.id")
    created_by: int | None = _bigint(default=None, foreign_key="users.id")
    write_key: str = Field(description="Public key that identifies the project when sending events (`wk_...`). "
                                       "Rotate it to stop old senders.")
    created_at: dt.datetime = _timestamp(default_factory=utcnow)
    updated_at: dt.datetime = _timestamp(default_factory=utcnow)


class TeamBase(SQLModel):
    name: str = Field(description="The team's name.")


class Team(TeamBase, table=True):
    """A team owns projects; accounts are its members with a role (migration 0013_teams)."""

    __tablename__ = "teams"

    id: int | None = _bigint(default=None, primary_key=True)
    personal: bool = Field(default=False, description="The team made for an account when it registered.")
    created_by: int | None = _bigint(default=None, foreign_key="users.id")
    created_at: dt.datetime = _timestamp(default_factory=utcnow)
    updated_at: dt.datetime = _timestamp(default_factory=utcnow)


class TeamMember(SQLModel, table=True):
    __tablename__ = "team_members"

    team_id: int = _bigint(primary_key=True, foreign_key="teams.id")
    user_id: int = _bigint(primary_key=True, foreign_key="users.id")
    role: str  # services/users/access.py Role
    created_at: dt.datetime = _timestamp(default_factory=utcnow)


class ProjectGuest(SQLModel, table=True):
    """An account that may read one project of a team it is not in."""

    __tablename__ = "project_guests"

    project_id: int = _bigint(primary_key=True, foreign_key="projects.id")
    user_id: int = _bigint(primary_key=True, foreign_key="users.id")
    role: str = "viewer"
    created_at: dt.datetime = _timestamp(default_factory=utcnow)


class Invitation(SQLModel, table=True):
    __tablename__ = "invitations"

    id: int | None = _bigint(default=None, primary_key=True)
    team_id: int = _bigint(foreign_key="teams.id")
    project_id: int | None = _bigint(default=None, foreign_key="projects.id")
    email: str
    role: str
    token_hash: bytes = Field(sa_type=LargeBinary, unique=True)
    invited_by: int | None = _bigint(default=None, foreign_key="users.id")
    created_at: dt.datetime = _timestamp(default_factory=utcnow)
    expires_at: dt.datetime = _timestamp()
    accepted_at: dt.datetime | None = _timestamp(default=None)
    accepted_by: int | None = _bigint(default=None, foreign_key="users.id")
    revoked_at: dt.datetime | None = _timestamp(default=None)


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: int | None = _bigint(default=None, primary_key=True)
    team_id: int = _bigint(foreign_key="teams.id")
    name: str
    scope: str  # services/users/access.py KeyScope
    project_ids: list[int] | None = Field(default=None, sa_type=ARRAY(BigInteger))
    token_hash: bytes = Field(sa_type=LargeBinary, unique=True)
    hint: str
    created_by: int | None = _bigint(default=None, foreign_key="users.id")
    created_at: dt.datetime = _timestamp(default_factory=utcnow)
    last_used_at: dt.datetime | None = _timestamp(default=None)
    expires_at: dt.datetime | None = _timestamp(default=None)
    revoked_at: dt.datetime | None = _timestamp(default=None)


class ShareLink(SQLModel, table=True):
    __tablename__ = "share_links"

    id: int | None = _bigint(default=None, primary_key=True)
    project_id: int = _bigint(foreign_key="projects.id")
    name: str | None = None
    token_hash: bytes = Field(sa_type=LargeBinary, unique=True)
    password_hash: str | None = None
    params: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB)
    created_by: int | None = _bigint(default=None, foreign_key="users.id")
    created_at: dt.datetime = _timestamp(default_factory=utcnow)
    last_viewed_at: dt.datetime | None = _timestamp(default=None)
    revoked_at: dt.datetime | None = _timestamp(default=None)


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
