"""Invitations to a team, or to one project as a guest (`invitations`, migration 0013_teams).

The token (`tme_inv_...`) is handed out once, in the link `<dashboard>/invite/<token>`, and stored
only as its SHA-256. It works once, for the account whose email it was sent to (compared without
case), until it expires (TME_INVITATION_TTL_HOURS) or is revoked. Accepting it when already a
member keeps the higher of the two roles; a guest invitation to a team one is already in adds
nothing. Either way the invitation is used up."""

from __future__ import annotations

import datetime as dt
import html
import secrets

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.shared.errors import ApiError, Conflict, Forbidden, NotFound
from services.users.access import Role
from services.users.mailer import Mail
from services.users.models import Invitation, Project, ProjectGuest, Team, TeamMember, User, utcnow
from services.users.routes.auth import find_user_by_email
from services.users.tokens import token_hash

INVITATION_PREFIX = "tme_inv_"
MAX_INVITATION_TOKEN = 200
# what new_invitation_token makes (43 characters after the prefix), with room to spare
TOKEN_PATTERN = r"^tme_inv_[A-Za-z0-9_-]{1,192}$"


def new_invitation_token() -> str:
    return INVITATION_PREFIX + secrets.token_urlsafe(32)


def invitation_not_found() -> ApiError:
    return NotFound("Invitation not found.")


def invitation_link(origin: str, token: str) -> str:
    return f"{origin.rstrip('/')}/invite/{token}"


async def create_invitation(db: AsyncSession, team: Team, *, email: str, role: Role, project: Project | None,
                            invited_by: int | None, ttl_hours: int) -> tuple[Invitation, str]:
    """A new invitation and its token (flushed; the caller commits). 409 when the email is already
    a member of the team (or, for a guest invitation, when it already sees the project)."""
    assert team.id is not None
    invitee = await find_user_by_email(db, email)
    if invitee is not None and invitee.id is not None:
        if await db.get(TeamMember, (team.id, invitee.id)) is not None:
            raise Conflict(f"{email} is already a member of this team.")
        if project is not None and await db.get(ProjectGuest, (project.id, invitee.id)) is not None:
            raise Conflict(f"{email} is already a guest of this project.")
    token = new_invitation_token()
    invitation = Invitation(team_id=team.id, project_id=None if project is None else project.id, email=email,
                            role=role.value, token_hash=token_hash(token), invited_by=invited_by,
                            expires_at=utcnow() + dt.timedelta(hours=ttl_hours))
    db.add(invitation)
    await db.flush()
    return invitation, token


async def pending_invitations(db: AsyncSession, team_id: int) -> list[Invitation]:
    """The team's invitations neither used, revoked nor expired, newest first."""
    query = select(Invitation).where(Invitation.team_id == team_id, col(Invitation.accepted_at).is_(None),
                                     col(Invitation.revoked_at).is_(None), Invitation.expires_at > utcnow())
    return list((await db.exec(query.order_by(col(Invitation.id).desc()))).all())


async def revoke_invitation(db: AsyncSession, team_id: int, invitation_id: int | None) -> Invitation:
    """Revoke a pending invitation of the team (404 when there is none such)."""
    invitation = None if invitation_id is None else await db.get(Invitation, invitation_id)
    if invitation is None or invitation.team_id != team_id or invitation.accepted_at is not None:
        raise invitation_not_found()
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        db.add(invitation)
    return invitation


async def open_invitation(db: AsyncSession, token: str, *, lock: bool = False) -> Invitation:
    """The usable invitation of a token: else 404 saying whether it was used, revoked or expired
    (whoever holds the token may know that) or unknown."""
    if not token.startswith(INVITATION_PREFIX) or len(token) > MAX_INVITATION_TOKEN:
        raise invitation_not_found()
    query = select(Invitation).where(Invitation.token_hash == token_hash(token))
    invitation = (await db.exec(query.with_for_update() if lock else query)).first()
    if invitation is None:
        raise invitation_not_found()
    if invitation.accepted_at is not None:
        raise NotFound("This invitation was already used.")
    if invitation.revoked_at is not None:
        raise NotFound("This invitation was revoked.")
    if invitation.expires_at <= utcnow():
        raise NotFound("This invitation has expired: ask for a new one.")
    return invitation


async def accept_invitation(db: AsyncSession, token: str, user: User) -> Invitation:
    """Join the team (or become the project's guest) as the invitation says, and use it up (the
    caller commits). 403 when `user` is not the account it was sent to."""
    assert user.id is not None
    invitation = await open_invitation(db, token, lock=True)
    if invitation.email.lower() != user.email.lower():
        raise Forbidden(f"This invitation was sent to {invitation.email}: sign in with that email to accept it.")
    member = await db.get(TeamMember, (invitation.team_id, user.id))
    role = Role(invitation.role)
    if invitation.project_id is None:
        if member is None:
            db.add(TeamMember(team_id=invitation.team_id, user_id=user.id, role=role.value))
        elif not Role(member.role).allows(role):
            member.role = role.value
            db.add(member)
    elif member is None and await db.get(ProjectGuest, (invitation.project_id, user.id)) is None:
        db.add(ProjectGuest(project_id=invitation.project_id, user_id=user.id, role=Role.VIEWER.value))
    invitation.accepted_at = utcnow()
    invitation.accepted_by = user.id
    db.add(invitation)
    await db.flush()
    return invitation


def invitation_mail(invitation: Invitation, link: str, *, team: str, project: str | None, inviter: str | None) -> Mail:
    """The mail that carries an invitation's link (plain text and a simple HTML part)."""
    what = f"the project {project!r} of the team {team!r}" if project else f"the team {team!r}"
    who = inviter or "Someone"
    expires = invitation.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    text = (f"{who} invites you to {what} on Track My Events, as {invitation.role}.\n\n"
            f"Open this link to accept (it works once, until {expires}):\n{link}\n\n"
            "If you did not expect this, ignore this mail.\n")
    e = html.escape
    page = (f"<p>{e(who)} invites you to {e(what)} on Track My Events, as <b>{e(invitation.role)}</b>.</p>"
            f'<p><a href="{e(link, quote=True)}">Accept the invitation</a> (it works once, until {e(expires)}).</p>'
            "<p>If you did not expect this, ignore this mail.</p>")
    return Mail(to=invitation.email, subject=f"Invitation to {what} on Track My Events", text=text, html=page)
