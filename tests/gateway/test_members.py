"""A team's members on the real stack, through the gateway: a role change applies at once to what
the member may do; a team keeps its last owner (409 to demote or remove it, or for it to leave);
ownership is transferred by an owner only; a member may leave; admins see their projects'
guests and remove them; none of it reaches another team."""

from __future__ import annotations

import datetime as dt

import httpx
from conftest import Database

from .conftest import Account, register
from .teams import join, message, role_of

TODAY = dt.datetime.now(dt.UTC).date()
TODAY_RANGE = {"from": str(TODAY - dt.timedelta(days=6)), "to": str(TODAY), "tz": "UTC"}


def members_path(account: Account, user_id: int | None = None) -> str:
    base = f"/api/teams/{account.team_id}/members"
    return base if user_id is None else f"{base}/{user_id}"


def uid(account: Account) -> int:
    return int(account.user["id"])


def rename_project(client: httpx.Client, owner: Account, actor: Account) -> int:
    return client.patch(f"/api/projects/{owner.project_id}", json={"name": "Renamed"},
                        headers=actor.auth).status_code


def test_members_see_each_other_with_their_roles(client: httpx.Client) -> None:
    owner = register(client, "Olga")
    viewer = join(client, owner, "viewer", "Vera")
    listed = client.get(members_path(owner), headers=viewer.auth)
    assert listed.status_code == 200, listed.text
    by_email = {m["email"]: m for m in listed.json()["members"]}
    assert by_email[owner.email]["role"] == "owner" and by_email[owner.email]["name"] == "Olga"
    assert by_email[viewer.email]["role"] == "viewer" and by_email[viewer.email]["joinedAt"]
    assert listed.json()["guests"] is None  # guests are the admins' to see
    assert client.get(members_path(owner), headers=owner.auth).json()["guests"] == []


def test_a_role_change_applies_at_once(client: httpx.Client) -> None:
    owner = register(client, "Olga")
    colleague = join(client, owner, "viewer")
    assert client.get(f"/api/projects/{owner.project_id}/stats/summary", params=TODAY_RANGE,
                      headers=colleague.auth).status_code == 200
    assert rename_project(client, owner, colleague) == 403
    promoted = client.patch(members_path(owner, uid(colleague)), json={"role": "admin"}, headers=owner.auth)
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["role"] == "admin"
    assert rename_project(client, owner, colleague) == 200
    demoted = client.patch(members_path(owner, uid(colleague)), json={"role": "viewer"}, headers=owner.auth)
    assert demoted.status_code == 200
    assert rename_project(client, owner, colleague) == 403


def test_only_admins_change_roles_and_only_owners_make_owners(client: httpx.Client) -> None:
    owner = register(client, "Olga")
    admin = join(client, owner, "admin", "Adam")
    member = join(client, owner, "member", "Mia")
    refused = client.patch(members_path(owner, uid(admin)), json={"role": "viewer"}, headers=member.auth)
    assert refused.status_code == 403 and "needs admin" in message(refused)
    made_owner = client.patch(members_path(owner, uid(member)), json={"role": "owner"}, headers=admin.auth)
    assert made_owner.status_code == 403 and "Only an owner" in message(made_owner)
    unmade = client.patch(members_path(owner, uid(owner)), json={"role": "admin"}, headers=admin.auth)
    assert unmade.status_code == 403
    assert client.patch(members_path(owner, uid(member)), json={"role": "viewer"},
                        headers=admin.auth).status_code == 200
    assert role_of(client, owner, uid(member)) == "viewer"


def test_the_last_owner_can_be_neither_demoted_nor_removed_nor_leave(client: httpx.Client) -> None:
    owner = register(client, "Olga")
    join(client, owner, "admin", "Adam")
    demoted = client.patch(members_path(owner, uid(owner)), json={"role": "admin"}, headers=owner.auth)
    assert demoted.status_code == 409 and "last owner" in message(demoted)
    left = client.delete(members_path(owner, uid(owner)), headers=owner.auth)
    assert left.status_code == 409 and "last owner" in message(left)
    assert role_of(client, owner, uid(owner)) == "owner"


def test_an_admin_cannot_remove_an_owner_but_an_owner_can_once_another_owner_remains(client: httpx.Client) -> None:
    owner = register(client, "Olga")
    admin = join(client, owner, "admin", "Adam")
    co_owner = join(client, owner, "owner", "Otto")
    assert client.delete(members_path(owner, uid(owner)), headers=admin.auth).status_code == 403
    removed = client.delete(members_path(owner, uid(co_owner)), headers=owner.auth)
    assert removed.status_code == 204, removed.text
    assert role_of(client, owner, uid(co_owner)) is None
    assert client.get(f"/api/projects/{owner.project_id}", headers=co_owner.auth).status_code == 404


def test_a_removed_member_loses_the_teams_projects_at_once(client: httpx.Client) -> None:
    owner = register(client, "Olga")
    member = join(client, owner, "member")
    assert client.get(f"/api/projects/{owner.project_id}/stats/summary", params=TODAY_RANGE,
                      headers=member.auth).status_code == 200
    assert client.delete(members_path(owner, uid(member)), headers=owner.auth).status_code == 204
    assert client.get(f"/api/projects/{owner.project_id}/stats/summary", params=TODAY_RANGE,
                      headers=member.auth).status_code == 404
    assert client.get(members_path(owner), headers=member.auth).status_code == 404


def test_a_member_may_leave(client: httpx.Client, db: Database) -> None:
    owner = register(client, "Olga")
    viewer = join(client, owner, "viewer", "Vera")
    left = client.delete(members_path(owner, uid(viewer)), headers=viewer.auth)
    assert left.status_code == 204, left.text
    assert client.get(f"/api/projects/{owner.project_id}", headers=viewer.auth).status_code == 404
    actions = [r["action"] for r in db.fetch("SELECT action FROM audit_events WHERE team_id = $1 ORDER BY id",
                                             owner.team_id)]
    assert actions[-3:] == ["member.invited", "member.joined", "member.left"]


def test_a_viewer_cannot_remove_others(client: httpx.Client) -> None:
    owner = register(client, "Olga")
    viewer = join(client, owner, "viewer", "Vera")
    member = join(client, owner, "member", "Mia")
    refused = client.delete(members_path(owner, uid(member)), headers=viewer.auth)
    assert refused.status_code == 403 and "cannot remove members" in message(refused)


def test_ownership_is_transferred_by_an_owner_to_a_member(client: httpx.Client, db: Database) -> None:
    owner = register(client, "Olga")
    admin = join(client, owner, "admin", "Adam")
    stranger = register(client, "Sam")
    path = f"/api/teams/{owner.team_id}/transfer"
    assert client.post(path, json={"userId": uid(owner)}, headers=admin.auth).status_code == 403
    assert client.post(path, json={"userId": uid(stranger)}, headers=owner.auth).status_code == 404
    moved = client.post(path, json={"userId": uid(admin)}, headers=owner.auth)
    assert moved.status_code == 200, moved.text
    roles = {m["userId"]: m["role"] for m in moved.json()["members"]}
    assert roles == {uid(owner): "admin", uid(admin): "owner"}
    # the new owner alone may now delete the team; the former one may no longer
    assert client.delete(f"/api/teams/{owner.team_id}", headers=owner.auth).status_code == 403
    row = db.fetchrow("SELECT actor_user_id, target FROM audit_events WHERE team_id = $1 AND action = $2",
                      owner.team_id, "team.ownership_transferred")
    assert row is not None and row["actor_user_id"] == uid(owner) and row["target"] == f"user:{uid(admin)}"


def test_members_of_another_team_are_not_found(client: httpx.Client) -> None:
    owner = register(client, "Olga")
    member = join(client, owner, "member")
    outsider = register(client, "Eve")
    assert client.get(members_path(owner), headers=outsider.auth).status_code == 404
    assert client.patch(members_path(owner, uid(member)), json={"role": "admin"},
                        headers=outsider.auth).status_code == 404
    assert client.delete(members_path(owner, uid(member)), headers=outsider.auth).status_code == 404
    # and a member id of another team is no member of this one
    assert client.patch(members_path(outsider, uid(member)), json={"role": "admin"},
                        headers=outsider.auth).status_code == 404


def test_a_bad_role_is_a_clear_422(client: httpx.Client) -> None:
    owner = register(client, "Olga")
    member = join(client, owner, "member")
    bad = client.patch(members_path(owner, uid(member)), json={"role": "god"}, headers=owner.auth)
    assert bad.status_code == 422 and "role" in bad.json()["error"]["fields"]
