"""Who may call which route, on the real stack: every route of the gateway's OpenAPI document, for
every kind of caller, answers what its role allows.

One team has a project and an account in each role (owner, admin, member, viewer), a guest of the
project (a viewer of it only), a read API key of the project and an admin API key of the team.
Around it: a stranger (the owner of another team, with a project of its own), that team's admin
API key, and no credentials at all. Each route is called by each of them and must answer:
- 2xx when the caller's role allows it;
- 403 when the caller sees the project or team but its role is too low (or it is an API key and
  the route is for accounts only);
- 404 when it cannot see the project or team at all (another team's, a guest on a team route, a
  read key outside its projects), so no route tells another team's data from a missing one;
- 401 without credentials.
TABLE says, for each route, what it is about (a project, a team, or the caller itself) and the
least role it needs; a route of the document missing from TABLE (or from PUBLIC, the routes
without a login) fails the first test, so a new route cannot be left out.

Members and guests are added to the team with rows in team_members / project_guests (what an
accepted invitation writes); everything else is made through the API. Routes that destroy what they
are given (a project's or team's deletion, a key rotation or revocation, a share link's
revocation, logging out, a password change, an account's deletion) get a throwaway made for the
call, so the shared team stays whole."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import pytest
from conftest import Database, unique_email
from schema_check import schema_hooks

from services.users.access import Role

from .conftest import PASSWORD, Account, bearer, register

ROLES_IN_TEAM = (Role.OWNER, Role.ADMIN, Role.MEMBER, Role.VIEWER)
MEMBERS = ("owner", "admin", "member", "viewer")
CALLERS = (*MEMBERS, "guest", "stranger", "read_key", "admin_key", "stranger_key", "nobody")
KEYS = ("read_key", "admin_key", "stranger_key")
VISITOR = "role-table-visitor"
RANGE: dict[str, str] = {}  # the default range (the last days) is enough: the answers are not read

Scope = Literal["project", "team", "self"]


@dataclass
class TeamWorld:
    """A team with a project, its members (by user id) in each role, a guest and two keys."""

    team_id: int
    project_id: int
    read_key: str
    admin_key: str


@dataclass
class World:
    client: httpx.Client
    db: Database
    accounts: dict[str, Account]  # owner, admin, member, viewer, guest, stranger
    team: TeamWorld
    stranger_key: str
    job_id: int

    def token(self, caller: str, team: TeamWorld | None = None) -> dict[str, str]:
        """The caller's credentials, for `team` (its keys) or the shared team."""
        team = team or self.team
        if caller == "nobody":
            return {}
        if caller == "read_key":
            return bearer(team.read_key)
        if caller == "admin_key":
            return bearer(team.admin_key)
        if caller == "stranger_key":
            return bearer(self.stranger_key)
        return self.accounts[caller].auth


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    json: Any = None
    params: dict[str, Any] | None = None
    headers: dict[str, str] | None = None


@dataclass(frozen=True)
class Route:
    """A route's rule: what it is about, the least role it needs, whether API keys may call it,
    what a role too low gets (403, or 404 where the route hides what the caller may not see), and
    how to call it (`call` gets the world and the caller, and may make a throwaway first)."""

    scope: Scope
    needed: Role
    call: Callable[[World, str], Call]
    accounts_only: bool = False
    too_low: int = 403
    streams: bool = False


def fixed(method: str, path: str, **kwargs: Any) -> Callable[[World, str], Call]:
    """A call on the shared team: `{p}` is its project, `{t}` the team, `{j}` a data job of it."""
    def make(world: World, _caller: str) -> Call:
        filled = path.format(p=world.team.project_id, t=world.team.team_id, j=world.job_id, v=VISITOR)
        return Call(method, filled, **kwargs)
    return make


def on_new_project(method: str, suffix: str = "") -> Callable[[World, str], Call]:
    """A call on a project made for it in the shared team (it may delete or re-key it), with the
    guest its guest and a read key of its own."""
    def make(world: World, caller: str) -> Call:
        owner = world.accounts["owner"]
        made = world.client.post("/api/projects", json={"name": "Throwaway", "teamId": world.team.team_id},
                                 headers=owner.auth)
        assert made.status_code == 201, made.text
        project_id = int(made.json()["id"])
        world.db.execute("INSERT INTO project_guests (project_id, user_id) VALUES ($1, $2)", project_id,
                         world.accounts["guest"].user["id"])
        headers = None
        if caller == "read_key":
            headers = bearer(new_key(world.client, owner, world.team.team_id, "read", [project_id])[1])
        return Call(method, f"/api/projects/{project_id}{suffix}", headers=headers)
    return make


def on_new_team(method: str) -> Callable[[World, str], Call]:
    """A call on a whole team made for it, with the same members, guest and keys as the shared one."""
    def make(world: World, caller: str) -> Call:
        team = build_team(world.client, world.db, world.accounts, "Throwaway team")
        return Call(method, f"/api/teams/{team.team_id}", headers=world.token(caller, team))
    return make


def on_new_key(method: str, suffix: str = "") -> Callable[[World, str], Call]:
    def make(world: World, _caller: str) -> Call:
        key_id = new_key(world.client, world.accounts["owner"], world.team.team_id, "admin", None)[0]
        return Call(method, f"/api/teams/{world.team.team_id}/api-keys/{key_id}{suffix}")
    return make


def on_new_share_link(world: World, _caller: str) -> Call:
    made = world.client.post(f"/api/projects/{world.team.project_id}/share-links", json={"name": "Throwaway"},
                             headers=world.accounts["owner"].auth)
    assert made.status_code == 201, made.text
    return Call("DELETE", f"/api/projects/{world.team.project_id}/share-links/{made.json()['shareLink']['id']}")


def as_new_account(method: str, path: str, body: dict[str, Any] | None = None) -> Callable[[World, str], Call]:
    """A call that ends the caller's login or account: an account caller is a new account made for
    it (the route is about the caller itself, whatever its roles); an API key is itself."""
    def make(world: World, caller: str) -> Call:
        if caller in MEMBERS or caller in ("guest", "stranger"):
            fresh = register(world.client, "Fresh")
            return Call(method, path, json=body, headers=fresh.auth)
        return Call(method, path, json=body)
    return make


def on_new_member(method: str, where: Literal["team", "guest"]) -> Callable[[World, str], Call]:
    """A call on a new account made a `member` of the shared team (or a guest of its project) for it."""
    def make(world: World, _caller: str) -> Call:
        fresh = register(world.client, "Joiner")
        if where == "team":
            world.db.execute("INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, 'member')",
                             world.team.team_id, fresh.user["id"])
            return Call(method, f"/api/teams/{world.team.team_id}/members/{fresh.user['id']}")
        world.db.execute("INSERT INTO project_guests (project_id, user_id) VALUES ($1, $2)", world.team.project_id,
                         fresh.user["id"])
        return Call(method, f"/api/projects/{world.team.project_id}/guests/{fresh.user['id']}")
    return make


def invite(world: World, email: str) -> dict[str, Any]:
    made = world.client.post(f"/api/teams/{world.team.team_id}/invitations", json={"email": email, "role": "viewer"},
                             headers=world.accounts["owner"].auth)
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


def on_new_invitation(world: World, _caller: str) -> Call:
    made = invite(world, unique_email("invited"))
    return Call("DELETE", f"/api/teams/{world.team.team_id}/invitations/{made['invitation']['id']}")


def accepting_new_invitation(world: World, caller: str) -> Call:
    """An account accepts the invitation sent to it (a new account, invited for the call); an API
    key or no one tries the same with a new invitation's token."""
    fresh = register(world.client, "Invited")
    token = invite(world, fresh.email)["link"].rsplit("/", 1)[-1]
    headers = fresh.auth if caller in MEMBERS or caller in ("guest", "stranger") else None
    return Call("POST", f"/api/invitations/{token}/accept", headers=headers)


def on_new_team_transfer(world: World, caller: str) -> Call:
    """A transfer of a team made for the call to its admin."""
    team = build_team(world.client, world.db, world.accounts, "Handed over")
    return Call("POST", f"/api/teams/{team.team_id}/transfer", json={"userId": world.accounts["admin"].user["id"]},
                headers=world.token(caller, team))


def project(needed: Role, method: str, suffix: str, **kwargs: Any) -> Route:
    return Route("project", needed, fixed(method, "/api/projects/{p}" + suffix, **kwargs))


def analytics(suffix: str, *, streams: bool = False, **params: Any) -> Route:
    return Route("project", Role.VIEWER, fixed("GET", "/api/projects/{p}" + suffix, params={**RANGE, **params}),
                 streams=streams)


TABLE: dict[tuple[str, str], Route] = {
    ("POST", "/api/auth/logout"): Route("self", Role.VIEWER, as_new_account("POST", "/api/auth/logout"),
                                        accounts_only=True),
    ("GET", "/api/me"): Route("self", Role.VIEWER, fixed("GET", "/api/me"), accounts_only=True),
    ("PATCH", "/api/me"): Route("self", Role.VIEWER, fixed("PATCH", "/api/me", json={"name": "Renamed"}),
                                accounts_only=True),
    ("DELETE", "/api/me"): Route("self", Role.VIEWER, as_new_account("DELETE", "/api/me", {"password": PASSWORD}),
                                 accounts_only=True),
    ("POST", "/api/me/password"): Route("self", Role.VIEWER, as_new_account(
        "POST", "/api/me/password", {"currentPassword": PASSWORD, "newPassword": PASSWORD + " 2"}),
        accounts_only=True),
    ("GET", "/api/teams"): Route("self", Role.VIEWER, fixed("GET", "/api/teams")),
    ("POST", "/api/teams"): Route("self", Role.VIEWER, fixed("POST", "/api/teams", json={"name": "Mine"}),
                                  accounts_only=True),
    ("GET", "/api/teams/{teamId}"): Route("team", Role.VIEWER, fixed("GET", "/api/teams/{t}")),
    ("PATCH", "/api/teams/{teamId}"): Route("team", Role.ADMIN, fixed("PATCH", "/api/teams/{t}",
                                                                      json={"name": "Role table"})),
    ("DELETE", "/api/teams/{teamId}"): Route("team", Role.OWNER, on_new_team("DELETE"), accounts_only=True),
    ("GET", "/api/teams/{teamId}/audit"): Route("team", Role.ADMIN, fixed("GET", "/api/teams/{t}/audit")),
    ("GET", "/api/teams/{teamId}/api-keys"): Route("team", Role.ADMIN, fixed("GET", "/api/teams/{t}/api-keys"),
                                                   accounts_only=True),
    ("POST", "/api/teams/{teamId}/api-keys"): Route("team", Role.ADMIN, fixed(
        "POST", "/api/teams/{t}/api-keys", json={"name": "Script", "scope": "admin"}), accounts_only=True),
    ("POST", "/api/teams/{teamId}/api-keys/{keyId}/rotate"): Route("team", Role.ADMIN, on_new_key("POST", "/rotate"),
                                                                   accounts_only=True),
    ("DELETE", "/api/teams/{teamId}/api-keys/{keyId}"): Route("team", Role.ADMIN, on_new_key("DELETE"),
                                                              accounts_only=True),
    ("GET", "/api/teams/{teamId}/members"): Route("team", Role.VIEWER, fixed("GET", "/api/teams/{t}/members"),
                                                  accounts_only=True),
    # setting the member's role it already has: allowed callers change nothing
    ("PATCH", "/api/teams/{teamId}/members/{userId}"): Route("team", Role.ADMIN, lambda world, _caller: Call(
        "PATCH", f"/api/teams/{world.team.team_id}/members/{world.accounts['member'].user['id']}",
        json={"role": "member"}), accounts_only=True),
    ("DELETE", "/api/teams/{teamId}/members/{userId}"): Route("team", Role.ADMIN, on_new_member("DELETE", "team"),
                                                             accounts_only=True),
    ("POST", "/api/teams/{teamId}/transfer"): Route("team", Role.OWNER, on_new_team_transfer, accounts_only=True),
    ("GET", "/api/projects/{projectId}/guests"): Route("project", Role.ADMIN, fixed("GET", "/api/projects/{p}/guests"),
                                                      accounts_only=True),
    ("DELETE", "/api/projects/{projectId}/guests/{userId}"): Route("project", Role.ADMIN,
                                                                  on_new_member("DELETE", "guest"),
                                                                  accounts_only=True),
    ("POST", "/api/teams/{teamId}/invitations"): Route("team", Role.ADMIN, lambda world, _caller: Call(
        "POST", f"/api/teams/{world.team.team_id}/invitations", json={"email": unique_email("invited"),
                                                                      "role": "member"}), accounts_only=True),
    ("GET", "/api/teams/{teamId}/invitations"): Route("team", Role.ADMIN, fixed("GET", "/api/teams/{t}/invitations"),
                                                      accounts_only=True),
    ("DELETE", "/api/teams/{teamId}/invitations/{invitationId}"): Route("team", Role.ADMIN, on_new_invitation,
                                                                        accounts_only=True),
    # an invitation is accepted by the account it was sent to, whoever else it is
    ("POST", "/api/invitations/{token}/accept"): Route("self", Role.VIEWER, accepting_new_invitation,
                                                       accounts_only=True),
    ("GET", "/api/projects"): Route("self", Role.VIEWER, fixed("GET", "/api/projects")),
    # creating a project is about the team it goes in
    ("POST", "/api/projects"): Route("team", Role.MEMBER, lambda world, _caller: Call(
        "POST", "/api/projects", json={"name": "New", "teamId": world.team.team_id})),
    ("GET", "/api/projects/{projectId}"): project(Role.VIEWER, "GET", ""),
    ("PATCH", "/api/projects/{projectId}"): project(Role.ADMIN, "PATCH", "", json={"name": "Role table site"}),
    ("DELETE", "/api/projects/{projectId}"): Route("project", Role.ADMIN, on_new_project("DELETE")),
    ("POST", "/api/projects/{projectId}/rotate-key"): Route("project", Role.ADMIN,
                                                            on_new_project("POST", "/rotate-key")),
    ("GET", "/api/data-jobs"): Route("self", Role.VIEWER, fixed("GET", "/api/data-jobs")),
    # a job is shown to who asked for it and to its team's admins; to anyone else it does not exist
    ("GET", "/api/data-jobs/{jobId}"): Route("team", Role.ADMIN, fixed("GET", "/api/data-jobs/{j}"), too_low=404),
    ("POST", "/api/projects/{projectId}/regulations"): project(
        Role.ADMIN, "POST", "/regulations",
        json={"regulationType": "DELETE_ONLY", "subjectType": "USER_ID", "subjectIds": ["nobody-here"]}),
    ("GET", "/api/projects/{projectId}/regulations"): project(Role.ADMIN, "GET", "/regulations"),
    ("GET", "/api/projects/{projectId}/share-links"): project(Role.ADMIN, "GET", "/share-links"),
    ("POST", "/api/projects/{projectId}/share-links"): project(Role.ADMIN, "POST", "/share-links",
                                                               json={"name": "Board"}),
    ("DELETE", "/api/projects/{projectId}/share-links/{linkId}"): Route("project", Role.ADMIN, on_new_share_link),
    ("GET", "/api/projects/{projectId}/stats/summary"): analytics("/stats/summary"),
    ("GET", "/api/projects/{projectId}/stats/timeseries"): analytics("/stats/timeseries"),
    ("GET", "/api/projects/{projectId}/stats/breakdown"): analytics("/stats/breakdown", by="page"),
    ("POST", "/api/projects/{projectId}/funnels"): project(
        Role.VIEWER, "POST", "/funnels", json={"steps": [{"event": "Signed Up"}, {"event": "Paid"}]}),
    ("GET", "/api/projects/{projectId}/retention"): analytics("/retention"),
    ("GET", "/api/projects/{projectId}/sessions"): analytics("/sessions"),
    ("GET", "/api/projects/{projectId}/realtime"): analytics("/realtime"),
    ("GET", "/api/projects/{projectId}/realtime/stream"): analytics("/realtime/stream", streams=True),
    ("GET", "/api/projects/{projectId}/events"): analytics("/events"),
    ("GET", "/api/projects/{projectId}/events/export"): analytics("/events/export", streams=True),
    ("GET", "/api/projects/{projectId}/persons/{visitorId}/export"): Route(
        "project", Role.VIEWER, fixed("GET", "/api/projects/{p}/persons/{v}/export"), streams=True),
    ("GET", "/api/projects/{projectId}/persons/{visitorId}"): Route(
        "project", Role.VIEWER, fixed("GET", "/api/projects/{p}/persons/{v}")),
    ("GET", "/api/projects/{projectId}/export"): Route("project", Role.VIEWER, fixed("GET", "/api/projects/{p}/export"),
                                                       streams=True),
    ("GET", "/api/projects/{projectId}/export/count"): Route("project", Role.VIEWER,
                                                             fixed("GET", "/api/projects/{p}/export/count")),
}

# routes without a login: registration and login, an invitation's page, shared dashboards (a share link's token is their
# credential: tests/gateway/test_share_links.py) and ingest (a project's write key)
PUBLIC = {("POST", "/api/auth/register"), ("POST", "/api/auth/login"), ("POST", "/api/auth/refresh"),
          ("GET", "/api/invitations/{token}")}  # what an invitation is for: its token is the credential
PUBLIC_PREFIXES = ("/api/share/", "/v1/", "/api/track", "/api/tracking-service/")


def is_public(method: str, path: str) -> bool:
    return (method, path) in PUBLIC or path.startswith(PUBLIC_PREFIXES)


def role_of(caller: str, scope: Scope) -> Role | None:
    """The caller's role in the shared team's project (scope `project`) or in the team itself;
    None when it cannot see it."""
    if caller in MEMBERS:
        return Role(caller)
    if caller == "admin_key":
        return Role.ADMIN
    if caller == "read_key":  # a viewer of its projects, and of its team (not of the team's other projects)
        return Role.VIEWER
    if scope == "project" and caller == "guest":
        return Role.VIEWER
    return None


def expected(route: Route, caller: str) -> int:
    """The status class (2 for 2xx) or status the caller must get."""
    if caller == "nobody":
        return 401
    if caller in KEYS and route.accounts_only:
        return 403
    if route.scope == "self":
        return 2
    role = role_of(caller, route.scope)
    if role is None:
        return 404
    return 2 if role.allows(route.needed) else route.too_low


def new_key(client: httpx.Client, owner: Account, team_id: int, scope: str,
            project_ids: list[int] | None) -> tuple[int, str]:
    made = client.post(f"/api/teams/{team_id}/api-keys", headers=owner.auth,
                       json={"name": f"{scope} key", "scope": scope, "projectIds": project_ids})
    assert made.status_code == 201, made.text
    return int(made.json()["apiKey"]["id"]), str(made.json()["secret"])


def build_team(client: httpx.Client, db: Database, accounts: dict[str, Account], name: str) -> TeamWorld:
    """A team owned by accounts['owner'] with the other members in their roles, a project with its
    guest, a read key of the project and an admin key of the team."""
    owner = accounts["owner"]
    made = client.post("/api/teams", json={"name": name}, headers=owner.auth)
    assert made.status_code == 201, made.text
    team_id = int(made.json()["id"])
    for role in ("admin", "member", "viewer"):
        db.execute("INSERT INTO team_members (team_id, user_id, role) VALUES ($1, $2, $3)",
                   team_id, accounts[role].user["id"], role)
    site = client.post("/api/projects", json={"name": "Site", "teamId": team_id}, headers=owner.auth)
    assert site.status_code == 201, site.text
    project_id = int(site.json()["id"])
    db.execute("INSERT INTO project_guests (project_id, user_id) VALUES ($1, $2)", project_id,
               accounts["guest"].user["id"])
    return TeamWorld(team_id, project_id, new_key(client, owner, team_id, "read", [project_id])[1],
                     new_key(client, owner, team_id, "admin", None)[1])


def seed_visitor(client: httpx.Client, world: World) -> None:
    """One event of VISITOR in the shared project, stored before the table runs."""
    write_key = world.client.get(f"/api/projects/{world.team.project_id}", headers=world.accounts["owner"].auth)
    sent = client.post("/v1/track", auth=(write_key.json()["writeKey"], ""),
                       json={"userId": VISITOR, "event": "Signed Up"})
    assert sent.status_code == 200, sent.text
    deadline = time.monotonic() + 30
    while client.get(f"/api/projects/{world.team.project_id}/persons/{VISITOR}",
                     headers=world.accounts["owner"].auth).status_code != 200:
        assert time.monotonic() < deadline, "the visitor's event was not stored"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def world(gateway_url: str, db: Database) -> Iterator[World]:
    with httpx.Client(base_url=gateway_url, timeout=30, event_hooks=schema_hooks()) as client:
        accounts = {who: register(client, who.title()) for who in (*MEMBERS, "guest", "stranger")}
        team = build_team(client, db, accounts, "Role table")
        stranger_team = int(client.get("/api/teams", headers=accounts["stranger"].auth).json()["teams"][0]["id"])
        stranger_key = new_key(client, accounts["stranger"], stranger_team, "admin", None)[1]
        gone = client.post("/api/projects", json={"name": "Gone", "teamId": team.team_id},
                           headers=accounts["owner"].auth)
        deleted = client.delete(f"/api/projects/{gone.json()['id']}", headers=accounts["owner"].auth)
        assert deleted.status_code == 202, deleted.text
        made = World(client, db, accounts, team, stranger_key, int(deleted.json()["id"]))
        seed_visitor(client, made)
        yield made


@pytest.fixture(scope="module")
def document(gateway_url: str) -> dict[str, Any]:
    answer = httpx.get(f"{gateway_url}/api/openapi.json", timeout=30)
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


def document_routes(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(method.upper(), path) for path, item in document["paths"].items() for method in item
            if method in ("get", "post", "put", "patch", "delete")]


def send(world: World, gateway_url: str, route: Route, caller: str) -> int:
    """The status the caller gets. Its body is not checked against the document here (the table
    checks that the status is documented, and lists every one that is not)."""
    call = route.call(world, caller)
    headers = call.headers if call.headers is not None else world.token(caller)
    with httpx.Client(base_url=gateway_url, timeout=30) as raw:
        if not route.streams:
            return raw.request(call.method, call.path, json=call.json, params=call.params,
                               headers=headers).status_code
        # a download or an event stream: its status is enough (its body is not read)
        with raw.stream(call.method, call.path, params=call.params, headers=headers) as answer:
            return answer.status_code


def test_every_route_of_the_document_is_in_the_table(document: dict[str, Any]) -> None:
    routes = document_routes(document)
    missing = [f"{m} {p}" for m, p in routes if (m, p) not in TABLE and not is_public(m, p)]
    assert not missing, "routes without a rule in TABLE (add each with the role it needs):\n" + "\n".join(missing)
    stale = [f"{m} {p}" for m, p in TABLE if (m, p) not in routes]
    assert not stale, "TABLE has routes the document no longer lists:\n" + "\n".join(stale)


def test_every_route_answers_each_caller_as_its_role_allows(world: World, gateway_url: str,
                                                            document: dict[str, Any]) -> None:
    """The whole table, route by caller; and each status answered is one the document lists for
    the route (a client reading the reference knows every answer it can get)."""
    wrong, undocumented = [], set()
    for (method, path), route in TABLE.items():
        documented = document["paths"][path][method.lower()]["responses"]
        for caller in CALLERS:
            want = expected(route, caller)
            got = send(world, gateway_url, route, caller)
            if (got // 100 if want == 2 else got) != want:
                wrong.append(f"{method} {path} as {caller}: {got}, expected {'2xx' if want == 2 else want}")
            if str(got) not in documented:
                undocumented.add(f"{method} {path}: {got}")
    assert not wrong, f"{len(wrong)} answers are not what the roles allow:\n" + "\n".join(wrong)
    assert not undocumented, "statuses the document does not list:\n" + "\n".join(sorted(undocumented))


def test_no_route_answers_another_teams_project_or_team(world: World, gateway_url: str) -> None:
    """The stranger (another team's owner) and its team's admin key get 404 on every route about the
    team or its project, with the team's own ids: exactly what a missing project or team answers."""
    scoped = {key: route for key, route in TABLE.items() if route.scope != "self"}
    assert len(scoped) > 30
    answers = {(m, p, caller): send(world, gateway_url, route, caller)
               for (m, p), route in scoped.items() for caller in ("stranger", "stranger_key")}
    leaked = [f"{m} {p} as {caller}: {status}" for (m, p, caller), status in answers.items()
              if status != 404 and not (caller == "stranger_key" and TABLE[(m, p)].accounts_only and status == 403)]
    assert not leaked, "\n".join(leaked)
