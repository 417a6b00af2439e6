"""The team pages in Debian's Chromium against the real stack: an owner invites someone from the
Members page and gets the link to copy (not mailed: the test stack has no SMTP server); the
invited person opens the link signed out, registers with the invited email, comes back to the
invitation, accepts it and sees the team's project, and the team in the team switcher; the owner
sees the new member and changes its role there (the API answers the new role); the owner renames
the team on the Team settings page. The link does not work twice. With TME_SCREENSHOTS=1 the pages
are saved to docs/screenshots/team-members.png, team-settings.png and team-invite.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import unique_email
from playwright.sync_api import expect
from schema_check import schema_hooks

from .conftest import new_page, shot
from .test_dashboard import PASSWORD, log_in, register


@pytest.fixture
def team(gateway_url: str) -> Iterator[dict[str, Any]]:
    """A new account whose personal team is named Acme, with its project named Shop."""
    with httpx.Client(base_url=gateway_url, timeout=30, event_hooks=schema_hooks()) as api:
        email, shop, token = register(api, "owner")
        auth = {"authorization": f"Bearer {token}"}
        assert api.patch(f"/api/projects/{shop['id']}", json={"name": "Shop"}, headers=auth).status_code == 200
        assert api.patch(f"/api/teams/{shop['teamId']}", json={"name": "Acme"}, headers=auth).status_code == 200
        yield {"email": email, "shop": shop, "auth": auth, "api": api, "team_id": shop["teamId"]}


def test_an_invited_person_registers_joins_and_sees_the_teams_project(browser: Any, gateway_url: str,
                                                                      team: dict[str, Any]) -> None:
    api, team_id = team["api"], team["team_id"]
    invited = unique_email("newcomer")
    owner_context, owner, owner_errors = new_page(browser)
    log_in(owner, gateway_url, f"/projects/{team['shop']['id']}/dashboard", team["email"], until_there=True)
    expect(owner.get_by_label("Current team")).to_have_value(str(team_id))
    owner.get_by_role("navigation", name="Account").get_by_role("link", name="Members").click()
    expect(owner).to_have_url(re.compile(rf"/teams/{team_id}/members$"))
    expect(owner.get_by_role("heading", name="Members", level=1)).to_be_visible()
    expect(owner.get_by_role("table", name="Members")).to_contain_text(team["email"])

    form = owner.get_by_role("form", name="Invite someone")
    form.get_by_label("Email").fill(invited)
    form.get_by_label("Role").select_option("member")
    form.get_by_role("button", name="Invite").click()
    shown = owner.get_by_test_id("invitation-link")
    expect(shown).to_contain_text("it was not mailed")
    expect(shown.get_by_role("button", name="Copy link")).to_be_visible()
    link = shown.locator("code").inner_text()
    assert re.fullmatch(re.escape(gateway_url) + r"/invite/tme_inv_[A-Za-z0-9_-]+", link), link
    expect(owner.get_by_role("table", name="Pending invitations")).to_contain_text(invited)
    shot(owner, "team-members")

    # the invited person: signed out, registers with the invited email, then accepts
    guest_context, newcomer, newcomer_errors = new_page(browser)
    newcomer.goto(link)
    card = newcomer.get_by_test_id("invitation")
    expect(card).to_contain_text("join the team Acme as member")
    expect(card).to_contain_text(f"For {invited}")
    shot(newcomer, "team-invite")
    card.get_by_role("link", name="Create your account").click()
    expect(newcomer).to_have_url(re.compile(r"/register\?next="))
    newcomer.get_by_label("Name").fill("Nina")
    newcomer.get_by_label("Email").fill(invited)
    newcomer.get_by_label("Password", exact=True).fill(PASSWORD)
    newcomer.get_by_label("Confirm password").fill(PASSWORD)
    newcomer.get_by_role("button", name="Create account").click()
    expect(newcomer).to_have_url(re.compile(r"/invite/tme_inv_"))
    newcomer.get_by_role("button", name="Accept the invitation").click()
    expect(newcomer).to_have_url(re.compile(r"/projects$"))
    expect(newcomer.get_by_role("main").get_by_role("link", name="Shop")).to_be_visible()
    expect(newcomer.get_by_label("Current team").locator("option", has_text="Acme")).to_have_count(1)
    newcomer.get_by_label("Current team").select_option(label="Acme")
    expect(newcomer).to_have_url(re.compile(rf"/projects/{team['shop']['id']}/dashboard"))
    expect(newcomer.get_by_label("Current project")).to_have_value(str(team["shop"]["id"]))

    # the owner sees the new member and makes it a viewer
    owner.reload()
    members = owner.get_by_role("table", name="Members")
    expect(members).to_contain_text(invited)
    expect(owner.get_by_role("table", name="Pending invitations")).to_have_count(0)
    with owner.expect_response(lambda r: "/members/" in r.url and r.request.method == "PATCH") as changed:
        owner.get_by_label("Role of Nina").select_option("viewer")
    assert changed.value.status == 200
    expect(owner.get_by_label("Role of Nina")).to_have_value("viewer")
    listed = api.get(f"/api/teams/{team_id}/members", headers=team["auth"]).json()["members"]
    assert {m["email"]: m["role"] for m in listed}[invited] == "viewer"

    # the team settings page: rename the team, and the switcher follows
    owner.get_by_role("link", name="Team settings").first.click()
    expect(owner).to_have_url(re.compile(rf"/teams/{team_id}/settings$"))
    owner.get_by_label("Team name").fill("Acme Analytics")
    owner.get_by_role("button", name="Save").click()
    expect(owner.get_by_role("status")).to_have_text("Saved.")
    expect(owner.get_by_label("Current team").locator("option:checked")).to_have_text("Acme Analytics")
    expect(owner.get_by_role("button", name="Transfer ownership…")).to_be_visible()
    expect(owner.get_by_role("button", name="Delete this team…")).to_be_visible()
    shot(owner, "team-settings")

    token = link.rsplit("/", 1)[1]
    assert api.get(f"/api/invitations/{token}").status_code == 404  # used
    assert owner_errors == [] and newcomer_errors == [], (owner_errors, newcomer_errors)
    owner_context.close()
    guest_context.close()
