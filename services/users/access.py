"""Who may do what: roles in teams, guests of one project, and API keys' scopes.

A team's members have one role each, ranked `viewer` < `member` < `admin` < `owner`:
- `viewer`: read the analytics of the team's projects;
- `member`: also create projects;
- `admin`: also change projects' settings, rotate write keys, delete projects and erase people,
  manage members, invitations, API keys and share links, read the audit log;
- `owner`: also delete the team and make others owners (a team keeps at least one owner).
A guest (`project_guests`) is a viewer of one project only. An API key acts as an `admin` of its
team (scope `admin`) or as a `viewer` of the projects it names (scope `read`), and never as an
account (it cannot reach `/api/me`, teams it was not made in, or owner-only actions).

Every check answers 404 when the caller has no access at all (a project or team of someone else
looks like a missing one) and 403 when it can see the thing but its role does not allow the
action, with a message naming both roles."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.shared.errors import ApiError, Forbidden, NotFound
from services.users.models import Project, ProjectGuest, Team, TeamMember
from services.users.tokens import Principal


class Role(enum.StrEnum):
    VIEWER = "viewer"
    MEMBER = "member"
    ADMIN = "admin"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}


class KeyScope(enum.StrEnum):
    READ = "read"
    ADMIN = "admin"


def project_not_found() -> ApiError:
    return NotFound("Project not found.")


def team_not_found() -> ApiError:
    return NotFound("Team not found.")


def not_allowed(role: Role, needed: Role, what: str) -> ApiError:
    return Forbidden(f"Your role in this {what} ({role.value}) cannot do this; it needs {needed.value}.")


def account_required() -> ApiError:
    return Forbidden("API keys cannot do this: sign in as an account.")


def account_id(principal: Principal) -> int:
    """The calling account: an API key is refused (403)."""
    if principal.key is not None or principal.user_id is None:
        raise account_required()
    return principal.user_id


@dataclass(frozen=True)
class ProjectAccess:
    project: Project
    role: Role
    guest: bool = False  # a viewer of this project only, not in its team


async def team_role(db: AsyncSession, principal: Principal, team_id: int) -> Role | None:
    """The caller's role in the team, or None."""
    if principal.key is not None:  # a read key sees its team as a viewer (its projects: project_access)
        if principal.key.team_id != team_id:
            return None
        return Role.ADMIN if principal.key.scope == KeyScope.ADMIN else Role.VIEWER
    if principal.user_id is None:
        return None
    member = await db.get(TeamMember, (team_id, principal.user_id))
    return Role(member.role) if member is not None else None


async def project_access(db: AsyncSession, principal: Principal, project_id: int) -> ProjectAccess | None:
    """The project and the caller's role in it, or None when the caller may not see it."""
    project = await db.get(Project, project_id)
    if project is None:
        return None
    key = principal.key
    if key is not None:
        if key.team_id != project.team_id:
            return None
        if key.scope == KeyScope.ADMIN:
            return ProjectAccess(project, Role.ADMIN)
        return ProjectAccess(project, Role.VIEWER) if project_id in key.project_ids else None
    role = await team_role(db, principal, project.team_id)
    if role is not None:
        return ProjectAccess(project, role)
    if principal.user_id is not None and await db.get(ProjectGuest, (project_id, principal.user_id)) is not None:
        return ProjectAccess(project, Role.VIEWER, guest=True)
    return None


async def require_project(db: AsyncSession, principal: Principal, project_id: int | None, needed: Role) -> Project:
    """The project, when the caller's role in it allows `needed`: else 404 (no access) or 403."""
    access = None if project_id is None else await project_access(db, principal, project_id)
    if access is None:
        raise project_not_found()
    if not access.role.allows(needed):
        raise not_allowed(access.role, needed, "project")
    return access.project


async def require_team(db: AsyncSession, principal: Principal, team_id: int | None, needed: Role) -> tuple[Team, Role]:
    """The team and the caller's role, when it allows `needed`: else 404 (not a member) or 403."""
    role = None if team_id is None else await team_role(db, principal, team_id)
    team = None if role is None or team_id is None else await db.get(Team, team_id)
    if role is None or team is None:
        raise team_not_found()
    if not role.allows(needed):
        raise not_allowed(role, needed, "team")
    return team, role


async def accessible_projects(db: AsyncSession, principal: Principal) -> list[ProjectAccess]:
    """Every project the caller may see, by id: its teams' projects and those it is a guest of."""
    key = principal.key
    if key is not None:
        query = select(Project).where(Project.team_id == key.team_id)
        if key.scope != KeyScope.ADMIN:
            query = query.where(col(Project.id).in_(key.project_ids))
        role = Role.ADMIN if key.scope == KeyScope.ADMIN else Role.VIEWER
        return [ProjectAccess(p, role) for p in (await db.exec(query.order_by(col(Project.id)))).all()]
    if principal.user_id is None:
        return []
    rows = (await db.exec(
        select(Project, TeamMember.role, ProjectGuest.role)
        .outerjoin(TeamMember, (col(TeamMember.team_id) == col(Project.team_id))
                   & (col(TeamMember.user_id) == principal.user_id))
        .outerjoin(ProjectGuest, (col(ProjectGuest.project_id) == col(Project.id))
                   & (col(ProjectGuest.user_id) == principal.user_id))
        .where(or_(col(TeamMember.user_id).is_not(None), col(ProjectGuest.user_id).is_not(None)))
        .order_by(col(Project.id))
    )).all()
    return [ProjectAccess(project, Role(member_role or guest_role), guest=member_role is None)
            for project, member_role, guest_role in rows]


async def my_teams(db: AsyncSession, user_id: int) -> list[tuple[Team, Role]]:
    """The account's teams with its role in each, personal team first, then by id."""
    rows = (await db.exec(
        select(Team, TeamMember.role).join(TeamMember, col(TeamMember.team_id) == col(Team.id))
        .where(TeamMember.user_id == user_id).order_by(col(Team.personal).desc(), col(Team.id))
    )).all()
    return [(team, Role(role)) for team, role in rows]
