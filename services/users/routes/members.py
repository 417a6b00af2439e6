"""A team's members, its projects' guests and its invitations (rules: services/users/members.py and
services/users/invitations.py). These need an account: an API key is refused (403). The gateway
forgets an account's cached roles on every gateway once its role changed or it left."""

from __future__ import annotations

import logging
from typing import Annotated

from pydantic import StringConstraints
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request

from services.shared.api.endpoint import PUBLIC, endpoint
from services.shared.audit import AuditAction
from services.shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from services.users.access import Role, account_id
from services.users.audit_log import audit
from services.users.bearer import authenticate
from services.users.invitations import (
    TOKEN_PATTERN,
    accept_invitation,
    create_invitation,
    invitation_link,
    invitation_mail,
    open_invitation,
    pending_invitations,
    revoke_invitation,
)
from services.users.mailer import Mailer
from services.users.members import (
    Guest,
    Member,
    change_role,
    project_guests,
    remove_guest,
    remove_member,
    team_members,
    transfer_ownership,
)
from services.users.models import Invitation, Project, Team, TeamMember, User
from services.users.path_ids import path_id
from services.users.public import (
    GuestList,
    GuestPublic,
    InvitationAccepted,
    InvitationCreated,
    InvitationList,
    InvitationPublic,
    InvitationView,
    MemberList,
    MemberPublic,
)
from services.users.routes.auth import find_user_by_email
from services.users.routes.projects import PROJECT_ID, project_for
from services.users.routes.share_links import ORIGIN_HEADER
from services.users.routes.teams import TEAM_ID, account_in_team
from services.users.schemas import InvitationCreate, MemberUpdate, OwnershipTransfer
from services.users.state import users_state

log = logging.getLogger("tme.users.members")

TAG = "Members and invitations"
MEMBER_ID = {**TEAM_ID, "user_id": int}
INVITATION_ID = {**TEAM_ID, "invitation_id": int}
GUEST_ID = {**PROJECT_ID, "user_id": int}
TOKEN = {"token": Annotated[str, StringConstraints(pattern=TOKEN_PATTERN)]}


def _member(m: Member) -> MemberPublic:
    assert m.user.id is not None
    return MemberPublic(user_id=m.user.id, name=m.user.name, email=m.user.email, role=Role(m.member.role),
                        joined_at=m.member.created_at)


def _guest(g: Guest) -> GuestPublic:
    assert g.user.id is not None and g.project.id is not None
    return GuestPublic(user_id=g.user.id, name=g.user.name, email=g.user.email, project_id=g.project.id,
                       project_name=g.project.name, added_at=g.guest.created_at)


def _invitation(invitation: Invitation) -> InvitationPublic:
    return InvitationPublic.model_validate(invitation.model_dump())


@endpoint("GET", "/api/teams/{team_id}/members", tag=TAG, summary="List a team's members",
          errors=(NotFound, Forbidden), path_params=TEAM_ID)
async def list_members(request: Request) -> MemberList:
    """Any member sees the members; an `admin` also sees the guests of the team's projects."""
    async with users_state(request).sessions() as db:
        who = await account_in_team(db, request, Role.VIEWER)
        members = await team_members(db, who.team_id)
        guests = await project_guests(db, team_id=who.team_id) if who.role.allows(Role.ADMIN) else None
    return MemberList(members=[_member(m) for m in members],
                      guests=None if guests is None else [_guest(g) for g in guests])


@endpoint("PATCH", "/api/teams/{team_id}/members/{user_id}", tag=TAG, summary="Change a member's role",
          errors=(NotFound, Forbidden, Conflict), path_params=MEMBER_ID, examples={"body": {"role": "viewer"}})
async def patch_member(request: Request, body: MemberUpdate) -> MemberPublic:
    """Needs `admin`; making or unmaking an `owner` needs `owner`. Demoting the team's last owner
    is refused (409). The new role applies at once, on every gateway."""
    async with users_state(request).sessions() as db:
        who = await account_in_team(db, request, Role.ADMIN)
        member, previous = await change_role(db, who.team_id, who.role, path_id(request.path_params["user_id"]),
                                             Role(body.role))
        user = await db.get(User, member.user_id)
        assert user is not None
        if previous.value != member.role:
            await audit(db, request, who.principal, who.team_id, AuditAction.MEMBER_ROLE_CHANGED,
                        target=f"user:{member.user_id}", details={"email": user.email, "from": previous.value,
                                                                  "to": member.role})
        await db.commit()
    log.info("member role changed", extra={"team_id": who.team_id, "user_id": member.user_id, "role": member.role})
    return _member(Member(member, user))


@endpoint("DELETE", "/api/teams/{team_id}/members/{user_id}", tag=TAG, summary="Remove a member, or leave",
          errors=(NotFound, Forbidden, Conflict), path_params=MEMBER_ID)
async def delete_member(request: Request) -> None:
    """An `admin` removes a member (an `owner` removes an owner); any member removes itself to leave
    the team. The team's last owner cannot go (409), a personal team's neither: make someone else
    owner first, or delete the team. The account loses the team's projects at once."""
    async with users_state(request).sessions() as db:
        who = await account_in_team(db, request, Role.VIEWER)
        member = await remove_member(db, who.team_id, who.user_id, who.role, path_id(request.path_params["user_id"]))
        user = await db.get(User, member.user_id)
        leaving = member.user_id == who.user_id
        action = AuditAction.MEMBER_LEFT if leaving else AuditAction.MEMBER_REMOVED
        await audit(db, request, who.principal, who.team_id, action,
                    target=f"user:{member.user_id}", details={"email": None if user is None else user.email,
                                                             "role": member.role})
        await db.commit()
    log.info("member left" if leaving else "member removed", extra={"team_id": who.team_id, "user_id": member.user_id})


@endpoint("POST", "/api/teams/{team_id}/transfer", tag=TAG, summary="Transfer the team's ownership",
          errors=(NotFound, Forbidden, Conflict), path_params=TEAM_ID, examples={"body": {"userId": 42}})
async def transfer(request: Request, body: OwnershipTransfer) -> MemberList:
    """Needs `owner`. The member named becomes an owner and you an `admin`; the answer is the team's
    members after the change."""
    async with users_state(request).sessions() as db:
        who = await account_in_team(db, request, Role.OWNER)
        target = await transfer_ownership(db, who.team_id, who.user_id, body.user_id)
        user = await db.get(User, target.user_id)
        await audit(db, request, who.principal, who.team_id, AuditAction.OWNERSHIP_TRANSFERRED,
                    target=f"user:{target.user_id}", details={"email": None if user is None else user.email})
        await db.commit()
        members = await team_members(db, who.team_id)
    log.info("team ownership transferred", extra={"team_id": who.team_id, "from": who.user_id, "to": target.user_id})
    return MemberList(members=[_member(m) for m in members], guests=None)


@endpoint("GET", "/api/projects/{project_id}/guests", tag=TAG, summary="List a project's guests",
          errors=(NotFound, Forbidden), path_params=PROJECT_ID)
async def list_guests(request: Request) -> GuestList:
    """Accounts that read this project without being members of its team. Needs `admin`."""
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        account_id(principal)
        project = await project_for(db, request, principal, Role.ADMIN)
        guests = await project_guests(db, project_id=project.id)
    return GuestList(guests=[_guest(g) for g in guests])


@endpoint("DELETE", "/api/projects/{project_id}/guests/{user_id}", tag=TAG, summary="Remove a project's guest",
          errors=(NotFound, Forbidden), path_params=GUEST_ID)
async def delete_guest(request: Request) -> None:
    """The account no longer sees the project, at once. Needs `admin`."""
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        account_id(principal)
        project = await project_for(db, request, principal, Role.ADMIN)
        assert project.id is not None
        guest = await remove_guest(db, project.id, path_id(request.path_params["user_id"]))
        user = await db.get(User, guest.user_id)
        await audit(db, request, principal, project.team_id, AuditAction.MEMBER_REMOVED, project_id=project.id,
                    target=f"user:{guest.user_id}", details={"email": None if user is None else user.email,
                                                            "guest": True})
        await db.commit()
    log.info("guest removed", extra={"project_id": project.id, "user_id": guest.user_id})


@endpoint("POST", "/api/teams/{team_id}/invitations", tag=TAG, summary="Invite someone", status=201,
          errors=(NotFound, Forbidden, Conflict, ValidationFailed), path_params=TEAM_ID,
          examples={"body": {"email": "grace@example.com", "role": "member"}})
async def invite(request: Request, body: InvitationCreate) -> InvitationCreated:
    """Needs `admin` (inviting an `owner` needs `owner`). With `projectId` the invitation makes a
    guest of that project only (role `viewer`). The answer's `link` holds the token, shown this
    once; when SMTP is configured (TME_SMTP_HOST) it is also mailed (`mailed`; a mail that fails
    leaves the invitation usable). It works once, for the account with this email, until
    `expiresAt` (TME_INVITATION_TTL_HOURS, a week by default)."""
    state = users_state(request)
    async with state.sessions() as db:
        who = await account_in_team(db, request, Role.ADMIN)
        invited_role = Role(body.role)
        if invited_role == Role.OWNER and who.role != Role.OWNER:
            raise Forbidden("Only an owner can invite an owner.")
        project = await _guest_project(db, who.team, body)
        invitation, token = await create_invitation(db, who.team, email=body.email, role=invited_role,
                                                    project=project, invited_by=who.user_id,
                                                    ttl_hours=state.settings.invitation_ttl_hours)
        await audit(db, request, who.principal, who.team_id, AuditAction.MEMBER_INVITED,
                    project_id=None if project is None else project.id, target=f"invitation:{invitation.id}",
                    details={"email": invitation.email, "role": invitation.role})
        await db.commit()
        inviter = await db.get(User, who.user_id)
    origin = state.settings.public_url or request.headers.get(ORIGIN_HEADER, "")
    link = invitation_link(origin, token)
    mail = invitation_mail(invitation, link, team=who.team.name, project=None if project is None else project.name,
                           inviter=None if inviter is None else inviter.name)
    mailed = await Mailer(state.settings).send(mail)
    log.info("member invited", extra={"team_id": who.team_id, "invitation_id": invitation.id, "mailed": mailed})
    return InvitationCreated(invitation=_invitation(invitation), link=link, mailed=mailed)


async def _guest_project(db: AsyncSession, team: Team, body: InvitationCreate) -> Project | None:
    """A guest invitation's project: one of the team's, and the role `viewer` (else 422)."""
    if body.project_id is None:
        return None
    if body.role != Role.VIEWER.value:
        raise ValidationFailed("A guest of a project is a viewer.", fields={"role": "must be viewer with projectId"})
    project = await db.get(Project, body.project_id)
    if project is None or project.team_id != team.id:
        raise ValidationFailed("The project is not one of this team's.", fields={"projectId": "is not this team's"})
    return project


@endpoint("GET", "/api/teams/{team_id}/invitations", tag=TAG, summary="List pending invitations",
          errors=(NotFound, Forbidden), path_params=TEAM_ID)
async def list_invitations(request: Request) -> InvitationList:
    """Needs `admin`."""
    async with users_state(request).sessions() as db:
        who = await account_in_team(db, request, Role.ADMIN)
        invitations = await pending_invitations(db, who.team_id)
    return InvitationList(invitations=[_invitation(i) for i in invitations])


@endpoint("DELETE", "/api/teams/{team_id}/invitations/{invitation_id}", tag=TAG, summary="Revoke an invitation",
          errors=(NotFound, Forbidden), path_params=INVITATION_ID)
async def delete_invitation(request: Request) -> None:
    """Its link answers 404 from now on. Needs `admin`."""
    async with users_state(request).sessions() as db:
        who = await account_in_team(db, request, Role.ADMIN)
        invitation = await revoke_invitation(db, who.team_id, path_id(request.path_params["invitation_id"]))
        await audit(db, request, who.principal, who.team_id, AuditAction.INVITATION_REVOKED,
                    project_id=invitation.project_id, target=f"invitation:{invitation.id}",
                    details={"email": invitation.email})
        await db.commit()
    log.info("invitation revoked", extra={"team_id": who.team_id, "invitation_id": invitation.id})


@endpoint("GET", "/api/invitations/{token}", tag=TAG, summary="Open an invitation", security=PUBLIC,
          errors=(NotFound,), path_params=TOKEN)
async def get_invitation(request: Request) -> InvitationView:
    """What the link `/invite/<token>` offers, without a login. 404 when the token is unknown, or
    says so when it was used, revoked or has expired."""
    async with users_state(request).sessions() as db:
        invitation = await open_invitation(db, request.path_params["token"])
        team = await db.get(Team, invitation.team_id)
        project = None if invitation.project_id is None else await db.get(Project, invitation.project_id)
        inviter = None if invitation.invited_by is None else await db.get(User, invitation.invited_by)
        exists = await find_user_by_email(db, invitation.email) is not None
    assert team is not None
    return InvitationView(team_name=team.name, project_name=None if project is None else project.name,
                          inviter_name=None if inviter is None else inviter.name, role=Role(invitation.role),
                          email=invitation.email, expires_at=invitation.expires_at, account_exists=exists)


@endpoint("POST", "/api/invitations/{token}/accept", tag=TAG, summary="Accept an invitation",
          errors=(NotFound, Forbidden), path_params=TOKEN)
async def accept(request: Request) -> InvitationAccepted:
    """Signed in as the account the invitation was sent to (403 otherwise; register first if you
    have none): you join the team, or become a guest of its project. It works once (then 404).
    Already a member: you keep the higher role."""
    async with users_state(request).sessions() as db:
        principal = await authenticate(request, db)
        user = await db.get(User, account_id(principal))
        assert user is not None
        invitation = await accept_invitation(db, request.path_params["token"], user)
        await audit(db, request, principal, invitation.team_id, AuditAction.MEMBER_JOINED,
                    project_id=invitation.project_id, target=f"user:{user.id}",
                    details={"email": user.email, "role": invitation.role, "invitation": invitation.id})
        await db.commit()
        member = await db.get(TeamMember, (invitation.team_id, user.id))
    log.info("invitation accepted", extra={"team_id": invitation.team_id, "user_id": user.id})
    role = Role.VIEWER if member is None else Role(member.role)  # not a member: the project's guest
    return InvitationAccepted(team_id=invitation.team_id, project_id=invitation.project_id, role=role)


endpoints = [list_members, patch_member, delete_member, transfer, list_guests, delete_guest, invite,
             list_invitations, delete_invitation, get_invitation, accept]
