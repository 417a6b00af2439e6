"""The users service's answers: a user, a project, a login (never a password or token hash).
Derived from the table models' bases (services/users/models.py); camelCase in JSON."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from services.lifecycle.jobs import JobKind, JobStatus
from services.shared.api.model import PUBLIC_CONFIG, ApiModel
from services.users.access import ProjectAccess, Role
from services.users.models import Project, ProjectBase, ShareLink, Team, TeamBase, User, UserBase
from services.users.schemas import ShareParams
from services.users.tokens import TokenPair


class UserPublic(UserBase):
    """The user."""

    model_config = PUBLIC_CONFIG  # type: ignore[assignment]  # SQLModel types this as SQLModelConfig
    id: int
    created_at: dt.datetime


ROLE_DESCRIPTION = ("Your role: `viewer` reads analytics; `member` also creates projects; `admin` also manages "
                    "settings, keys, members and deletions; `owner` also deletes the team.")


class ProjectPublic(ProjectBase):
    """The project, with its write key, its team and your role in it."""

    model_config = PUBLIC_CONFIG  # type: ignore[assignment]  # SQLModel types this as SQLModelConfig
    id: int
    team_id: int = Field(description="The team the project belongs to.")
    write_key: str = Field(description=Project.model_fields["write_key"].description)
    created_at: dt.datetime
    role: Role = Field(description=ROLE_DESCRIPTION + " A guest of this project only is a `viewer`.")
    guest: bool = Field(False, description="You see this project as a guest, not as a member of its team.")

    @classmethod
    def of(cls, access: ProjectAccess) -> ProjectPublic:
        return cls.model_validate({**access.project.model_dump(), "role": access.role, "guest": access.guest})


class TeamPublic(TeamBase):
    """A team you are in, and your role in it."""

    model_config = PUBLIC_CONFIG  # type: ignore[assignment]  # SQLModel types this as SQLModelConfig
    id: int
    personal: bool = Field(description=Team.model_fields["personal"].description)
    role: Role = Field(description=ROLE_DESCRIPTION)
    created_at: dt.datetime

    @classmethod
    def of(cls, team: Team, role: Role) -> TeamPublic:
        return cls.model_validate({**team.model_dump(), "role": role})


class TeamList(ApiModel):
    """Your teams: your personal team first, then by age."""

    teams: list[TeamPublic]


class ProjectList(ApiModel):
    """The caller's projects, oldest first."""

    projects: list[ProjectPublic]


class Session(ApiModel):
    """A login: the user and a fresh access/refresh token pair."""

    user: UserPublic
    access_token: str = Field(description="Send as `Authorization: Bearer <accessToken>`.")
    refresh_token: str = Field(description="Single use: exchange it at /api/auth/refresh.")
    expires_in: int = Field(description="Seconds until the access token expires.")

    @classmethod
    def of(cls, user: User, pair: TokenPair) -> Session:
        return cls(user=UserPublic.model_validate(user), access_token=pair.access_token,
                   refresh_token=pair.refresh_token, expires_in=pair.expires_in)


class Registration(Session):
    """A new account, logged in, with its first project."""

    project: ProjectPublic

    @classmethod
    def of_new(cls, user: User, pair: TokenPair, project: Project) -> Registration:
        return cls(**Session.of(user, pair).__dict__, project=ProjectPublic.of(ProjectAccess(project, Role.OWNER)))


class DataJob(ApiModel):
    """A job that deletes data in the background: a project's deletion (`delete_project`), an
    erasure (`erase_person`) or a retention run (`retention`). Its record stays when the job is
    done, and after the project is gone: who asked, when, and how many rows went."""

    id: int
    kind: JobKind
    project_id: int = Field(description="The project the job is about (it may no longer exist).")
    project_name: str | None = Field(description="The project's name when the job was asked for.")
    status: JobStatus = Field(description="`queued`, `running`, `done`, or `failed` (see `error`).")
    rows_deleted: dict[str, int] = Field(
        description="Rows deleted so far, per table; Redis entries count as `redis:dead_letters` and "
                    "`redis:write_keys`.")
    error: str | None = Field(description="Why the last attempt failed; a failed job is tried again (5 times).")
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class DataJobList(ApiModel):
    """The caller's data jobs, newest first."""

    jobs: list[DataJob]


class DeletionJobs(ApiModel):
    """The deletion jobs of the projects something deleted took with it."""

    jobs: list[DataJob]


class AccountDeletion(DeletionJobs):
    """The account is gone (its logins end at once); each project of the teams it was the only
    member of is deleted by a job."""


class TeamDeletion(DeletionJobs):
    """The team is gone (with its members, invitations, keys and share links); each of its
    projects is deleted by a job."""


class ShareLinkPublic(ApiModel):
    """A public, read-only link to one project's dashboard (its token is shown once, when made)."""

    id: int
    name: str | None
    created_by: int | None = Field(description="The account that made it (null once deleted).")
    created_at: dt.datetime
    last_viewed_at: dt.datetime | None = Field(description="When it was last opened (to the minute).")
    revoked_at: dt.datetime | None = Field(description="When it was revoked: it answers 404 since.")
    has_password: bool = Field(description="Whoever opens it must give its password.")
    params: ShareParams

    @classmethod
    def of(cls, link: ShareLink) -> ShareLinkPublic:
        return cls.model_validate({**link.model_dump(), "has_password": link.password_hash is not None})


class ShareLinkList(ApiModel):
    """The project's share links, newest first, revoked ones included."""

    share_links: list[ShareLinkPublic]


class ShareLinkCreated(ApiModel):
    """The new link: `url` holds its token, shown this once (only its SHA-256 is stored)."""

    share_link: ShareLinkPublic
    url: str = Field(description="The link to give: `<origin>/share/<token>`.")


class ApiKeyPublic(ApiModel):
    """An API key of the team, never its secret (shown once, when made or rotated; only its
    SHA-256 is stored)."""

    id: int
    name: str
    scope: Literal["read", "admin"] = Field(
        description="`read`: a viewer of `projectIds`; `admin`: an admin of the team (not of its keys or members).")
    project_ids: list[int] | None = Field(description="The projects a `read` key may read (null for `admin`).")
    hint: str = Field(description="The secret's last four characters, to tell keys apart.")
    created_by: int | None = Field(description="The account that made it (null once deleted).")
    created_at: dt.datetime
    last_used_at: dt.datetime | None = Field(
        description="When it was last accepted, to about a minute (written at most once a minute per key).")
    expires_at: dt.datetime | None = Field(description="When it stops working (null: until revoked).")
    revoked_at: dt.datetime | None = Field(description="When it was revoked: refused (401) since.")


class ApiKeyList(ApiModel):
    """The team's API keys, newest first, revoked ones included."""

    api_keys: list[ApiKeyPublic]


class ApiKeySecret(ApiModel):
    """The key and its secret, shown this once: send it as `Authorization: Bearer tme_key_...`."""

    api_key: ApiKeyPublic
    secret: str = Field(description="The key itself (`tme_key_...`); only its SHA-256 is stored.")


class MemberPublic(ApiModel):
    """A member of the team."""

    user_id: int
    name: str
    email: str
    role: Role = Field(description=ROLE_DESCRIPTION.replace("Your role", "The member's role"))
    joined_at: dt.datetime


class GuestPublic(ApiModel):
    """An account that reads one project of the team (a `viewer` of it) without being a member."""

    user_id: int
    name: str
    email: str
    project_id: int
    project_name: str
    added_at: dt.datetime


class MemberList(ApiModel):
    """The team's members, oldest first; and, for admins, the guests of its projects."""

    members: list[MemberPublic]
    guests: list[GuestPublic] | None = Field(description="The guests of the team's projects (null unless you are "
                                                         "an admin).")


class GuestList(ApiModel):
    """The project's guests, oldest first."""

    guests: list[GuestPublic]


class InvitationPublic(ApiModel):
    """A pending invitation (never its token: it is in the link, shown once)."""

    id: int
    email: str = Field(description="Whom it was sent to: only the account with this email can accept it.")
    role: Role
    project_id: int | None = Field(description="A guest invitation's project (null: to the team).")
    invited_by: int | None = Field(description="The account that sent it (null once deleted).")
    created_at: dt.datetime
    expires_at: dt.datetime


class InvitationList(ApiModel):
    """The team's pending invitations (neither used, revoked nor expired), newest first."""

    invitations: list[InvitationPublic]


class InvitationCreated(ApiModel):
    """The invitation and its link, shown this once (only the token's SHA-256 is stored)."""

    invitation: InvitationPublic
    link: str = Field(description="The link to give: `<dashboard>/invite/<token>`; it works once.")
    mailed: bool = Field(description="The link was also mailed to the email (TME_SMTP_HOST is set and the server "
                                     "accepted it).")


class InvitationView(ApiModel):
    """What an invitation link offers, shown to whoever opens it (no login needed)."""

    team_name: str
    project_name: str | None = Field(description="A guest invitation's project (null: the whole team).")
    inviter_name: str | None = Field(description="Who sent it (null once that account is deleted).")
    role: Role
    email: str = Field(description="Whom it was sent to: sign in (or register) with this email to accept it.")
    expires_at: dt.datetime
    account_exists: bool = Field(description="An account with this email exists: sign in; else register first.")


class InvitationAccepted(ApiModel):
    """You joined the team (or became the project's guest)."""

    team_id: int
    project_id: int | None = Field(description="A guest invitation's project (null: you joined the team).")
    role: Role = Field(description="Your role now (the higher one, if you were a member already).")
