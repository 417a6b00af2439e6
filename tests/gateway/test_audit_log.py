"""A team's audit log on the real stack: what its admins can read at GET /api/teams/{id}/audit
after signing in, changing projects, asking for erasures and exporting data (as an account or with
an API key, named by the key); newest first, a page at a time, filtered by action or project; never
an address; and an account's deletion leaves the other teams' logs without its email."""

from __future__ import annotations

from typing import Any

import httpx
from conftest import Database

from .conftest import Account, bearer, register

AGENT = "audit-test/1.0 (curl-like)"


def personal_team(client: httpx.Client, account: Account) -> int:
    teams = client.get("/api/teams", headers=account.auth)
    assert teams.status_code == 200, teams.text
    return int(teams.json()["teams"][0]["id"])


def audit(client: httpx.Client, headers: dict[str, str], team_id: int, **params: Any) -> dict[str, Any]:
    answer = client.get(f"/api/teams/{team_id}/audit", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def actions(page: dict[str, Any]) -> list[str]:
    return [entry["action"] for entry in page["entries"]]


def test_a_sign_in_is_logged_with_who_and_the_client_but_no_address(client: httpx.Client, db: Database) -> None:
    ada = register(client, "Ada")
    team_id = personal_team(client, ada)
    signed_in = client.post("/api/auth/login", json={"email": ada.email, "password": ada.password},
                            headers={"User-Agent": AGENT})
    assert signed_in.status_code == 200, signed_in.text

    entry = audit(client, ada.auth, team_id)["entries"][0]
    assert entry["action"] == "sign_in"
    assert entry["actor"] == {"userId": ada.user["id"], "apiKeyId": None, "name": ada.email}
    assert entry["client"] == AGENT
    row = db.fetchrow("SELECT * FROM audit_events WHERE id = $1", entry["id"])
    assert row is not None
    assert "127.0.0.1" not in str(dict(row))  # the tests' client address is nowhere in the row

    failed = client.post("/api/auth/login", json={"email": ada.email, "password": "not the password"})
    assert failed.status_code == 401
    assert audit(client, ada.auth, team_id)["entries"][0]["id"] == entry["id"]  # a failed login is not a sign-in


def test_project_changes_erasures_and_exports_are_logged_newest_first(client: httpx.Client) -> None:
    ada = register(client, "Ada")
    team_id = personal_team(client, ada)
    headers = {**ada.auth, "User-Agent": AGENT}

    made = client.post("/api/projects", json={"name": "Shop"}, headers=headers)
    assert made.status_code == 201, made.text
    shop = int(made.json()["id"])
    assert client.patch(f"/api/projects/{shop}", json={"name": "Shop 2", "domain": "shop.example"},
                        headers=headers).status_code == 200
    assert client.post(f"/api/projects/{shop}/rotate-key", headers=headers).status_code == 200
    erased = client.post(f"/api/projects/{shop}/regulations", headers=headers,
                         json={"regulationType": "DELETE_ONLY", "subjectType": "USER_ID",
                               "subjectIds": ["user-1", "user-2"]})
    assert erased.status_code == 202, erased.text
    exported = client.get(f"/api/projects/{shop}/export", params={"format": "csv"}, headers=headers)
    assert exported.status_code == 200, exported.text
    person = client.get(f"/api/projects/{ada.project_id}/persons/nobody-at-all/export", headers=headers)
    assert person.status_code == 404  # nothing exported: nothing logged
    deleted = client.delete(f"/api/projects/{shop}", headers=headers)
    assert deleted.status_code == 202, deleted.text

    entries = audit(client, ada.auth, team_id, projectId=shop)["entries"]
    assert [e["action"] for e in entries] == ["project.deleted", "data.exported", "person.erasure_requested",
                                              "project.write_key_rotated", "project.updated", "project.created"]
    assert all(e["projectId"] == shop and e["client"] == AGENT and e["actor"]["name"] == ada.email
               for e in entries)
    by_action = {e["action"]: e for e in entries}
    assert by_action["project.created"]["details"] == {"name": "Shop"}
    assert by_action["project.updated"]["details"] == {"fields": ["domain", "name"]}
    assert by_action["person.erasure_requested"]["details"]["subjects"] == 2
    assert "user-1" not in str(by_action["person.erasure_requested"])  # how many, never who
    assert by_action["data.exported"]["details"] == {"what": "project", "format": "csv", "resumed": False}
    assert by_action["project.deleted"]["details"]["jobId"] == deleted.json()["id"]

    only = audit(client, ada.auth, team_id, action="project.updated")
    assert actions(only) == ["project.updated"]


def test_the_log_is_read_a_page_at_a_time_without_gaps_or_repeats(client: httpx.Client) -> None:
    ada = register(client, "Ada")
    team_id = personal_team(client, ada)
    for n in range(5):
        assert client.patch(f"/api/projects/{ada.project_id}", json={"name": f"Name {n}"},
                            headers=ada.auth).status_code == 200
    whole = audit(client, ada.auth, team_id, limit=200)["entries"]
    seen: list[int] = []
    before: int | None = None
    while True:
        page = audit(client, ada.auth, team_id, limit=2, **({"before": before} if before else {}))
        seen += [e["id"] for e in page["entries"]]
        before = page["nextBefore"]
        if before is None:
            break
    assert seen == [e["id"] for e in whole] and seen == sorted(seen, reverse=True)
    assert len(seen) >= 5


def test_only_the_teams_admins_read_its_log(client: httpx.Client, db: Database) -> None:
    ada, eve = register(client, "Ada"), register(client, "Eve")
    team_id = personal_team(client, ada)
    assert client.get(f"/api/teams/{team_id}/audit", headers=eve.auth).status_code == 404
    db.execute("INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, 'member')", team_id, eve.user["id"])
    refused = client.get(f"/api/teams/{team_id}/audit", headers=eve.auth)
    assert refused.status_code == 403, refused.text
    assert client.get(f"/api/teams/{team_id}/audit").status_code == 401
    bad = client.get(f"/api/teams/{team_id}/audit", params={"action": "nonsense", "limit": 0}, headers=ada.auth)
    assert bad.status_code == 400, bad.text


def test_a_deleted_account_keeps_its_actions_in_others_logs_but_not_its_email(client: httpx.Client) -> None:
    ada, bob = register(client, "Ada"), register(client, "Bob")
    team_id = personal_team(client, ada)
    invited = client.post(f"/api/teams/{team_id}/invitations", json={"email": bob.email, "role": "admin"},
                          headers=ada.auth)
    assert invited.status_code == 201, invited.text
    token = invited.json()["link"].rsplit("/", 1)[-1]
    assert client.post(f"/api/invitations/{token}/accept", headers=bob.auth).status_code == 200
    assert client.patch(f"/api/projects/{ada.project_id}", json={"name": "Bob was here"},
                        headers=bob.auth).status_code == 200
    assert bob.email in str(audit(client, ada.auth, team_id))
    gone = client.request("DELETE", "/api/me", headers=bob.auth, json={"password": bob.password})
    assert gone.status_code == 202, gone.text

    page = audit(client, ada.auth, team_id)
    bobs = [e for e in page["entries"] if e["actor"]["userId"] == bob.user["id"]]
    assert [e["action"] for e in bobs] == ["member.left", "project.updated", "member.joined"]
    assert {e["actor"]["name"] for e in bobs} == {"deleted account"}
    assert bobs[0]["details"] == {"role": "admin", "accountDeleted": True}
    assert bob.email not in str(page)  # nor in the invitation's entry
    assert [e["action"] for e in page["entries"]][-1] == "member.invited"
    assert client.get(f"/api/teams/{team_id}/audit", headers=bearer(bob.access_token)).status_code == 401


def test_an_api_keys_export_is_logged_under_the_keys_name_and_an_admin_key_reads_the_log(
        client: httpx.Client) -> None:
    ada = register(client, "Ada")
    team_id = personal_team(client, ada)
    made = client.post(f"/api/teams/{team_id}/api-keys", headers=ada.auth,
                       json={"name": "Nightly export", "scope": "read", "projectIds": [ada.project_id]})
    assert made.status_code == 201, made.text
    key_id, secret = made.json()["apiKey"]["id"], made.json()["secret"]
    exported = client.get(f"/api/projects/{ada.project_id}/events/export", params={"format": "csv"},
                          headers={**bearer(secret), "User-Agent": AGENT})
    assert exported.status_code == 200, exported.text
    assert client.get(f"/api/teams/{team_id}/audit", headers=bearer(secret)).status_code == 403  # a read key

    admin = client.post(f"/api/teams/{team_id}/api-keys", headers=ada.auth, json={"name": "Ops", "scope": "admin"})
    assert admin.status_code == 201, admin.text
    entry = audit(client, bearer(admin.json()["secret"]), team_id, action="data.exported")["entries"][0]
    assert entry["actor"] == {"userId": ada.user["id"], "apiKeyId": key_id, "name": "Nightly export"}
    assert entry["details"] == {"what": "events", "format": "csv", "filtered": False}
    assert entry["client"] == AGENT and entry["projectId"] == ada.project_id
