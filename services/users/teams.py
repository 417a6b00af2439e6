"""Teams: creating one with its first owner. (Members, invitations and ownership changes are
services/users/members.py; who may do what is services/users/access.py.)"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from services.users.access import Role
from services.users.models import Team, TeamMember


async def create_team(db: AsyncSession, user_id: int, name: str, *, personal: bool = False) -> Team:
    """A new team with `user_id` as its owner (flushed; the caller commits)."""
    team = Team(name=name, personal=personal, created_by=user_id)
    db.add(team)
    await db.flush()
    assert team.id is not None
    db.add(TeamMember(team_id=team.id, user_id=user_id, role=Role.OWNER.value))
    await db.flush()
    return team
