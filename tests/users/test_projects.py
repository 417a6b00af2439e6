"""Projects: CRUD, write-key rotation, tenant isolation, and the internal look-ups."""

from __future__ import annotations

import pytest

from .helpers import assert_error, bearer


@pytest.fixture
def owner(register):
    return register(name="Owner")


def test_project_crud(api, owner):
    headers = bearer(owner["accessToken"])
    created = api.post("/api/projects", json={"name": " Shop ", "domain": "https://Shop.Example.com/"},
                       headers=headers)
    assert created.status_code == 201, created.text
    project = created.json()
    assert set(project) == {"id", "teamId", "name", "domain", "retentionDays", "writeKey", "createdAt", "role", "guest"}
    assert project["role"] == "owner" and project["guest"] is False
    assert project["name"] == "Shop"
    assert project["domain"] == "shop.example.com"
    assert project["writeKey"].startswith("wk_")
    assert project["writeKey"] != owner["project"]["writeKey"]

    listed = api.get("/api/projects", headers=headers).json()["projects"]
    assert [p["id"] for p in listed] == [owner["project"]["id"], project["id"]]

    assert api.get(f"/api/projects/{project['id']}", headers=headers).json() == project

    patched = api.patch(f"/api/projects/{project['id']}", json={"name": "Store"}, headers=headers)
    assert patched.status_code == 200, patched.text
    assert patched.json() == {**project, "name": "Store"}  # domain untouched when not given
    cleared = api.patch(f"/api/projects/{project['id']}", json={"domain": None}, headers=headers).json()
    assert cleared == {**project, "name": "Store", "domain": None}
    assert api.get(f"/api/projects/{project['id']}", headers=headers).json() == cleared

    deleted = api.delete(f"/api/projects/{project['id']}", headers=headers)
    assert deleted.status_code == 202, deleted.text
    assert deleted.json()["projectId"] == project["id"] and deleted.json()["kind"] == "delete_project"
    assert deleted.headers["location"] == f"/api/data-jobs/{deleted.json()['id']}"
    assert_error(api.get(f"/api/projects/{project['id']}", headers=headers), 404)
    assert [p["id"] for p in api.get("/api/projects", headers=headers).json()["projects"]] == [owner["project"]["id"]]
    assert_error(api.get(f"/internal/write-keys/{project['writeKey']}"), 404)


def test_create_project_without_domain(api, owner):
    resp = api.post("/api/projects", json={"name": "App", "domain": ""}, headers=bearer(owner["accessToken"]))
    assert resp.status_code == 201
    assert resp.json()["domain"] is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": ["x"]}, "name"),
        ({"name": "ok", "domain": "not a host"}, "domain"),
        ({"name": "ok", "domain": "exa_mple.com"}, "domain"),
        ({"name": "ok", "domain": 5}, "domain"),
    ],
)
def test_create_project_rejects_bad_input(api, owner, payload, field):
    assert_error(api.post("/api/projects", json=payload, headers=bearer(owner["accessToken"])), 422, field)


@pytest.mark.parametrize(("payload", "field"), [({"name": ""}, "name"), ({"name": None}, "name"),
                                                ({"domain": "bad host!"}, "domain")])
def test_patch_project_rejects_bad_input(api, owner, payload, field):
    url = f"/api/projects/{owner['project']['id']}"
    assert_error(api.patch(url, json=payload, headers=bearer(owner["accessToken"])), 422, field)


def test_rotating_the_write_key(api, owner):
    headers = bearer(owner["accessToken"])
    project = owner["project"]
    old_key = project["writeKey"]
    assert api.get(f"/internal/write-keys/{old_key}").status_code == 200

    resp = api.post(f"/api/projects/{project['id']}/rotate-key", headers=headers)
    assert resp.status_code == 200, resp.text
    rotated = resp.json()
    assert rotated["id"] == project["id"]
    assert rotated["writeKey"].startswith("wk_") and rotated["writeKey"] != old_key

    assert_error(api.get(f"/internal/write-keys/{old_key}"), 404)
    assert api.get(f"/internal/write-keys/{rotated['writeKey']}").json() == {
        "projectId": project["id"], "teamId": project["teamId"]}
    assert api.get(f"/api/projects/{project['id']}", headers=headers).json()["writeKey"] == rotated["writeKey"]


def test_another_users_project_is_not_found(api, register, owner):
    intruder = bearer(register(name="Mallory")["accessToken"])
    project = owner["project"]
    url = f"/api/projects/{project['id']}"

    assert_error(api.get(url, headers=intruder), 404)
    assert_error(api.patch(url, json={"name": "pwned"}, headers=intruder), 404)
    assert_error(api.post(f"{url}/rotate-key", headers=intruder), 404)
    assert_error(api.delete(url, headers=intruder), 404)
    missing = api.get("/api/projects/999999999", headers=intruder)
    assert missing.json() == api.get(url, headers=intruder).json()  # same answer as a missing project

    assert project["id"] not in [p["id"] for p in api.get("/api/projects", headers=intruder).json()["projects"]]
    assert api.get(url, headers=bearer(owner["accessToken"])).json() == project  # untouched


@pytest.mark.parametrize("raw_id", ["abc", "0", "-1", "99999999999999999999999", "1.5"])
def test_a_malformed_project_id_is_not_found(api, owner, raw_id):
    assert_error(api.get(f"/api/projects/{raw_id}", headers=bearer(owner["accessToken"])), 404)
    assert_error(api.get(f"/internal/projects/{raw_id}"), 404)


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_project_routes_require_auth(api, owner, method):
    assert_error(api.request(method, "/api/projects", json={"name": "x"}), 401)
    url = f"/api/projects/{owner['project']['id']}"
    for method_, path in (("GET", url), ("PATCH", url), ("DELETE", url), ("POST", f"{url}/rotate-key")):
        assert_error(api.request(method_, path, json={"name": "x"}), 401)


def test_internal_project_lookup(api, owner):
    project = owner["project"]
    resp = api.get(f"/internal/projects/{project['id']}")
    assert resp.status_code == 200
    assert resp.json() == {"id": project["id"], "teamId": project["teamId"], "name": project["name"],
                           "writeKey": project["writeKey"]}
    assert_error(api.get("/internal/projects/987654321"), 404)
    assert_error(api.get("/internal/write-keys/wk_unknown"), 404)
    assert_error(api.get("/internal/write-keys/not-a-key"), 404)
