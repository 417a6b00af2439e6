"""A team's members and its projects' guests: who is in, role changes, removals, leaving and the
transfer of ownership, with their rules:

- an `admin` changes roles and removes members; only an `owner` makes or unmakes an owner;
- any member may leave (remove itself);
- a team always keeps an owner: demoting or removing its last owner is refused (409), and so is
  leaving it as its last owner, a personal team included (transfer ownership or delete the team);
- a transfer makes another member the owner and the caller an `admin`.

Every change locks the team's row first, so two concurrent changes cannot both take the last owner
away. Who may do what in general is services/users/access.py."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.shared.errors import ApiError, Conflict, Forbidden, NotFound
from services.users.access import Role
from services.users.models import Project, ProjectGuest, Team, TeamMember, User


def member_not_found() -> ApiError:
    return NotFound("Member not found.")


def guest_not_found() -> ApiError:
    return NotFound("Guest not found.")


def last_owner(team: Team) -> ApiError:
    return Conflict(f"This is the last owner of {team.name!r}: a team keeps at least one owner. "
                    "Make another member an owner first (or delete the team).")


def owners_only() -> ApiError:
    return Forbidden("Only an owner can make or unmake an owner.")


@dataclass(frozen=True)
class Member:
    member: TeamMember
    user: User


@dataclass(frozen=True)
class Guest:
    guest: ProjectGuest
    user: User
    project: Project


async def team_members(db: AsyncSession, team_id: int) -> list[Member]:
    """The team's members, oldest first."""
    rows = (await db.exec(
        select(TeamMember, User).join(User, col(User.id) == col(TeamMember.user_id))
        .where(TeamMember.team_id == team_id).order_by(col(TeamMember.created_at), col(TeamMember.user_id))
    )).all()
    return [Member(member, user) for member, user in rows]


async def project_guests(db: AsyncSession, *, team_id: int | None = None, project_id: int | None = None) -> list[Guest]:
    """The guests of the team's projects (or of one project), by project then age."""
    query = (select(ProjectGuest, User, Project).join(User, col(User.id) == col(ProjectGuest.user_id))
             .join(Project, col(Project.id) == col(ProjectGuest.project_id)))
    if team_id is not None:
        query = query.where(Project.team_id == team_id)
    if project_id is not None:
        query = query.where(ProjectGuest.project_id == project_id)
    rows = (await db.exec(query.order_by(col(ProjectGuest.project_id), col(ProjectGuest.created_at)))).all()
    return [Guest(guest, user, project) for guest, user, project in rows]


async def _locked(db: AsyncSession, team_id: int) -> Team:
    team = (await db.exec(select(Team).where(Team.id == team_id).with_for_update())).one()
    return team


async def _member(db: AsyncSession, team_id: int, user_id: int | None) -> TeamMember:
    member = None if user_id is None else await db.get(TeamMember, (team_id, user_id))
    if member is None:
        raise member_not_found()
    return member


async def _other_owners(db: AsyncSession, team_id: int, user_id: int) -> int:
    query = select(func.count()).select_from(TeamMember).where(
        TeamMember.team_id == team_id, TeamMember.role == Role.OWNER.value, TeamMember.user_id != user_id)
    return int((await db.exec(query)).one())


async def change_role(db: AsyncSession, team_id: int, caller_role: Role, user_id: int | None,
                      role: Role) -> tuple[TeamMember, Role]:
    """Give the member `role`: the member and its previous role (the caller commits)."""
    team = await _locked(db, team_id)
    member = await _member(db, team_id, user_id)
    previous = Role(member.role)
    if Role.OWNER in (previous, role) and previous != role and caller_role != Role.OWNER:
        raise owners_only()
    if previous == Role.OWNER and role != Role.OWNER and not await _other_owners(db, team_id, member.user_id):
        raise last_owner(team)
    if role != previous:
        member.role = role.value
        db.add(member)
    return member, previous


async def remove_member(db: AsyncSession, team_id: int, caller_id: int, caller_role: Role,
                        user_id: int | None) -> TeamMember:
    """Remove a member (needs `admin`, or `owner` for an owner) or, as itself, leave the team."""
    team = await _locked(db, team_id)
    member = await _member(db, team_id, user_id)
    leaving = member.user_id == caller_id
    if not leaving:
        if not caller_role.allows(Role.ADMIN):
            raise Forbidden(f"Your role in this team ({caller_role.value}) cannot remove members; it needs admin.")
        if member.role == Role.OWNER.value and caller_role != Role.OWNER:
            raise owners_only()
    if member.role == Role.OWNER.value and not await _other_owners(db, team_id, member.user_id):
        raise last_owner(team)
    await db.delete(member)
    return member


async def transfer_ownership(db: AsyncSession, team_id: int, caller_id: int, user_id: int) -> TeamMember:
    """Make `user_id` an owner and the caller an admin; the new owner (the caller commits)."""
    await _locked(db, team_id)
    if user_id == caller_id:
        raise Conflict("You already own this team: choose another member.")
    target = await _member(db, team_id, user_id)
    caller = await _member(db, team_id, caller_id)
    target.role = Role.OWNER.value
    caller.role = Role.ADMIN.value
    db.add_all([target, caller])
    return target


async def remove_guest(db: AsyncSession, project_id: int, user_id: int | None) -> ProjectGuest:
    guest = None if user_id is None else await db.get(ProjectGuest, (project_id, user_id))
    if guest is None:
        raise guest_not_found()
    await db.delete(guest)
    return guest
