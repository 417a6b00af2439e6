"""Invitations on the real stack, through the gateway: an admin invites by email and gets a link
(its token stored only as SHA-256); the link shows what it offers without a login; a new person
registers then joins, an existing account joins; only the invited email may accept; it works once,
not once expired or revoked; a guest invitation gives read access to exactly one project. With
SMTP configured the users service mails the link, read here from a real SMTP server
(aiosmtpd) in the test process; a failed mail keeps the invitation."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from conftest import Database, unique_email

from services.devstack import DevStack, ServiceProcess
from services.shared.embedded import free_port

from .conftest import PASSWORD, Account, ExtraGateway, register
from .teams import accept, invite, message, role_of, token_of

TODAY = dt.datetime.now(dt.UTC).date()
RANGE = {"from": str(TODAY - dt.timedelta(days=6)), "to": str(TODAY), "tz": "UTC"}


def register_as(client: httpx.Client, address: str, name: str = "Grace") -> Account:
    made = client.post("/api/auth/register", json={"name": name, "email": address, "password": PASSWORD})
    assert made.status_code == 201, made.text
    body = made.json()
    return Account(address, PASSWORD, body["user"], body["project"], body["accessToken"], body["refreshToken"])


def test_a_new_person_opens_the_link_registers_and_joins(client: httpx.Client, db: Database) -> None:
    owner = register(client, "Olga")
    address = unique_email("grace")
    made = invite(client, owner, address, "member")
    link = made["link"]
    assert link.startswith(str(client.base_url).rstrip("/") + "/invite/tme_inv_")
    assert made["mailed"] is False  # the test stack has no SMTP server
    assert made["invitation"]["email"] == address and made["invitation"]["role"] == "member"
    stored = db.fetchval("SELECT token_hash FROM invitations WHERE id = $1", made["invitation"]["id"])
    assert bytes(stored) == hashlib.sha256(token_of(link).encode()).digest()

    shown = client.get(f"/api/invitations/{token_of(link)}")  # no login
    assert shown.status_code == 200, shown.text
    team_name = client.get(f"/api/teams/{owner.team_id}", headers=owner.auth).json()["name"]
    assert shown.json() == {"teamName": team_name, "projectName": None, "inviterName": "Olga", "role": "member",
                            "email": address, "expiresAt": made["invitation"]["expiresAt"], "accountExists": False}

    grace = register_as(client, address)
    joined = accept(client, grace, link)
    assert joined.status_code == 200, joined.text
    assert joined.json() == {"teamId": owner.team_id, "projectId": None, "role": "member"}
    projects = client.get("/api/projects", headers=grace.auth).json()["projects"]
    assert owner.project_id in [p["id"] for p in projects]
    assert client.get(f"/api/projects/{owner.project_id}/stats/summary", params=RANGE,
                      headers=grace.auth).status_code == 200
    teams = {t["id"]: t["role"] for t in client.get("/api/teams", headers=grace.auth).json()["teams"]}
    assert teams[owner.team_id] == "member"
    actions = [r["action"] for r in db.fetch("SELECT action FROM audit_events WHERE team_id = $1 ORDER BY id",
                                             owner.team_id)]
    assert actions[-2:] == ["member.invited", "member.joined"]


def test_an_invitation_works_once(client: httpx.Client) -> None:
    owner = register(client, "Olga")
    colleague = register(client, "Carl")
    link = invite(client, owner, colleague.email.upper(), "viewer")["link"]  # emails match without case
    assert client.get(f"/api/invitations/{token_of(link)}").json()["accountExists"] is True
    assert accept(client, colleague, link).status_code == 200
    again = accept(client, colleague, link)
    assert again.status_code == 404 and "already used" in message(again)
    shown = client.get(f"/api/invitations/{token_of(link)}")
    assert shown.status_code == 404 and "already used" in message(shown)


def test_an_invitation_expires(client: httpx.Client, db: Database) -> None:
    owner = register(client, "Olga")
    colleague = register(client, "Carl")
    made = invite(client, owner, colleague.email)
    expires = dt.datetime.fromisoformat(made["invitation"]["expiresAt"])
    week = dt.timedelta(hours=168)  # TME_INVITATION_TTL_HOURS' default
    assert abs(expires - dt.datetime.now(dt.UTC) - week) < dt.timedelta(minutes=5)
    db.execute("UPDATE invitations SET expires_at = now() - interval '1 second' WHERE id = $1",
               made["invitation"]["id"])
    late = accept(client, colleague, made["link"])
    assert late.status_code == 404 and "expired" in message(late)
    assert role_of(client, owner, int(colleague.user["id"])) is None
    pending = client.get(f"/api/teams/{owner.team_id}/invitations", headers=owner.auth).json()["invitations"]
    assert made["invitation"]["id"] not in [i["id"] for i in pending]


def test_a_revoked_invitation_no_longer_works(client: httpx.Client) -> None:
    owner = register(client, "Olga")
    colleague = register(client, "Carl")
    made = invite(client, owner, colleague.email)
    path = f"/api/teams/{owner.team_id}/invitations"
    assert [i["id"] for i in client.get(path, headers=owner.auth).json()["invitations"]] == [made["invitation"]["id"]]
    assert client.delete(f"{path}/{made['invitation']['id']}", headers=owner.auth).status_code == 204
    assert client.get(path, headers=owner.auth).json()["invitations"] == []
    revoked = accept(client, colleague, made["link"])
    assert revoked.status_code == 404 and "revoked" in message(revoked)


def test_only_the_invited_email_may_accept(client: httpx.Client) -> None:
    owner = register(client, "Olga")
    invited = unique_email("grace")
    link = invite(client, owner, invited)["link"]
    intruder = register(client, "Eve")
    refused = accept(client, intruder, link)
    assert refused.status_code == 403 and invited in message(refused)
    assert role_of(client, owner, int(intruder.user["id"])) is None
    grace = register_as(client, invited)
    assert accept(client, grace, link).status_code == 200  # the refusal did not use it up


def test_accepting_when_already_a_member_keeps_the_higher_role(client: httpx.Client, db: Database) -> None:
    owner = register(client, "Olga")
    admin = register(client, "Adam")
    assert accept(client, admin, invite(client, owner, admin.email, "admin")["link"]).status_code == 200
    # an invitation made before the account joined, for a lower role
    address = unique_email("lena")
    lower_first = invite(client, owner, address, "viewer")["link"]
    higher = invite(client, owner, address, "admin")["link"]
    lena = register_as(client, address, "Lena")
    assert accept(client, lena, higher).json()["role"] == "admin"
    kept = accept(client, lena, lower_first)
    assert kept.status_code == 200 and kept.json()["role"] == "admin"
    assert role_of(client, owner, int(lena.user["id"])) == "admin"
    again = client.post(f"/api/teams/{owner.team_id}/invitations", json={"email": admin.email}, headers=owner.auth)
    assert again.status_code == 409 and "already a member" in message(again)


def test_who_may_invite(client: httpx.Client) -> None:
    owner = register(client, "Olga")
    admin = register(client, "Adam")
    member = register(client, "Mia")
    for account, role in ((admin, "admin"), (member, "member")):
        assert accept(client, account, invite(client, owner, account.email, role)["link"]).status_code == 200
    path = f"/api/teams/{owner.team_id}/invitations"
    assert client.post(path, json={"email": unique_email()}, headers=member.auth).status_code == 403
    assert client.get(path, headers=member.auth).status_code == 403
    owner_invite = client.post(path, json={"email": unique_email(), "role": "owner"}, headers=admin.auth)
    assert owner_invite.status_code == 403 and "Only an owner" in message(owner_invite)
    assert client.post(path, json={"email": unique_email(), "role": "owner"}, headers=owner.auth).status_code == 201
    outsider = register(client, "Eve")
    assert client.post(path, json={"email": unique_email()}, headers=outsider.auth).status_code == 404
    bad = client.post(path, json={"email": "not an email"}, headers=owner.auth)
    assert bad.status_code == 422 and "email" in bad.json()["error"]["fields"]


def test_a_guest_invitation_opens_exactly_one_project(client: httpx.Client) -> None:
    owner = register(client, "Olga")
    other = client.post("/api/projects", json={"name": "Other site", "teamId": owner.team_id}, headers=owner.auth)
    assert other.status_code == 201, other.text
    other_id = other.json()["id"]
    guest = register(client, "Gus")
    path = f"/api/teams/{owner.team_id}/invitations"
    as_member = client.post(path, json={"email": guest.email, "role": "member", "projectId": owner.project_id},
                            headers=owner.auth)
    assert as_member.status_code == 422 and "viewer" in message(as_member)
    foreign = client.post(path, json={"email": guest.email, "role": "viewer", "projectId": guest.project_id},
                          headers=owner.auth)
    assert foreign.status_code == 422
    made = invite(client, owner, guest.email, "viewer", project_id=owner.project_id)
    assert client.get(f"/api/invitations/{token_of(made['link'])}").json()["projectName"] == owner.project["name"]
    joined = accept(client, guest, made["link"])
    assert joined.json() == {"teamId": owner.team_id, "projectId": owner.project_id, "role": "viewer"}

    project = f"/api/projects/{owner.project_id}"
    for read in (project, f"{project}/stats/summary", f"{project}/events"):
        assert client.get(read, params=RANGE, headers=guest.auth).status_code == 200, read
    assert client.patch(project, json={"name": "Mine now"}, headers=guest.auth).status_code == 403
    assert client.post(f"{project}/rotate-key", headers=guest.auth).status_code == 403
    assert client.delete(project, headers=guest.auth).status_code == 403
    assert client.get(f"/api/projects/{other_id}", headers=guest.auth).status_code == 404
    assert client.get(f"/api/projects/{other_id}/stats/summary", params=RANGE, headers=guest.auth).status_code == 404
    assert client.get(f"/api/teams/{owner.team_id}/members", headers=guest.auth).status_code == 404
    assert role_of(client, owner, int(guest.user["id"])) is None

    guests = client.get(f"{project}/guests", headers=owner.auth)
    assert [(g["userId"], g["projectId"]) for g in guests.json()["guests"]] == [(guest.user["id"], owner.project_id)]
    members = client.get(f"/api/teams/{owner.team_id}/members", headers=owner.auth).json()
    assert [g["email"] for g in members["guests"]] == [guest.email]
    assert client.get(f"{project}/guests", headers=guest.auth).status_code == 403
    assert client.delete(f"{project}/guests/{guest.user['id']}", headers=owner.auth).status_code == 204
    assert client.get(project, headers=guest.auth).status_code == 404


def test_unknown_tokens_are_not_found(client: httpx.Client) -> None:
    someone = register(client, "Sam")
    for token in ("tme_inv_nope", "nope", "x" * 300):
        assert client.get(f"/api/invitations/{token}").status_code == 404
        assert client.post(f"/api/invitations/{token}/accept", headers=someone.auth).status_code == 404
    assert client.post("/api/invitations/tme_inv_nope/accept").status_code == 401


# --- mail -----------------------------------------------------------------------------------------


@dataclass
class Inbox:
    """What the in-process SMTP server received."""

    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)
    refusing: bool = False  # answer every mail with a permanent failure

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # the hook aiosmtpd calls with each mail's envelope
        if self.refusing:
            return "554 Transaction failed"
        content = envelope.original_content or b""
        self.messages.append(email.message_from_bytes(content, policy=email.policy.default))  # type: ignore[arg-type]
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@dataclass
class MailingStack:
    inbox: Inbox
    smtp: Controller
    gateway: ExtraGateway


@pytest.fixture(scope="module")
def mailing(stack: DevStack) -> Iterator[MailingStack]:
    """A users service with TME_SMTP_* pointing at an SMTP server in this process, behind a gateway
    of its own whose address is TME_PUBLIC_URL."""
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    users_port = free_port()
    gateway = ExtraGateway(stack, {"TME_USERS_URL": f"http://127.0.0.1:{users_port}"})
    env = {**stack.service_env("users"), "TME_PORT": str(users_port), "TME_SMTP_HOST": "127.0.0.1",
           "TME_SMTP_PORT": str(smtp.port), "TME_SMTP_SECURITY": "none", "TME_SMTP_FROM": "TME <tme@example.com>",
           "TME_PUBLIC_URL": gateway.url}
    users = ServiceProcess("users", users_port, env, lambda _name, _line: None)
    users.start()
    try:
        users.wait_healthy(timeout=60)
        with gateway:
            yield MailingStack(inbox, smtp, gateway)
    finally:
        users.stop()
        smtp.stop()


def _text_of(message_: EmailMessage) -> str:
    part = message_.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def test_the_invitation_is_mailed_and_its_link_works(mailing: MailingStack) -> None:
    with mailing.gateway.client() as client:
        owner = register(client, "Olga")
        address = unique_email("grace")
        made = invite(client, owner, address, "member")
        assert made["mailed"] is True
        assert made["link"].startswith(mailing.gateway.url + "/invite/")
        received = mailing.inbox.messages[-1]
        assert mailing.inbox.recipients[-1] == [address]
        assert received["To"] == address and received["From"] == "TME <tme@example.com>"
        assert "Olga" in _text_of(received) and "as member" in _text_of(received)
        html_part = received.get_body(preferencelist=("html",))
        assert html_part is not None and made["link"] in str(html_part.get_content())
        mailed_link = next(line for line in _text_of(received).splitlines() if "/invite/" in line).strip()
        assert mailed_link == made["link"]

        grace = register_as(client, address)
        assert accept(client, grace, mailed_link).status_code == 200
        assert role_of(client, owner, int(grace.user["id"])) == "member"


def test_a_failed_mail_keeps_the_invitation(mailing: MailingStack) -> None:
    with mailing.gateway.client() as client:
        owner = register(client, "Olga")
        address = unique_email("grace")
        mailing.inbox.refusing = True  # the SMTP server refuses the mail
        try:
            made: dict[str, Any] = invite(client, owner, address)
        finally:
            mailing.inbox.refusing = False
        assert made["mailed"] is False
        grace = register_as(client, address)
        assert accept(client, grace, made["link"]).status_code == 200
