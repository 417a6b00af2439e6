"""Export on the real stack: one person's data as JSON (a subject access request) and a whole
project as Segment NDJSON or CSV, streamed through the gateway, resumable after any event; `tme
export` finishes a download that was cut off mid-way with every event exactly once, and an NDJSON
export brought into another project with `tme import --file` stores the same events."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from conftest import Database
from gateway.conftest import PASSWORD, Account, register
from ingest.helpers import wait_drained, wait_rows
from tracking.conftest import assert_error, event_row, insert_statement

from services.tracking.queries.export import csv_value

UTC = dt.UTC
NOW = dt.datetime.now(UTC).replace(microsecond=0)
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/17.1 Mobile/15E148 Safari/604.1")
# what the export adds to a context from columns stored apart from it (segment_messages.py)
ADDED_CONTEXT = frozenset({"userAgent", "locale", "page"})
# the columns an event stored from an export's line must have as the original had them
COMPARED = ("event_time", "type", "event_name", "user_id", "anonymous_id", "session_id", "group_id", "previous_id",
            "page", "path", "referrer", "referrer_host", "referrer_source", "utm_source", "utm_medium",
            "utm_campaign", "utm_term", "utm_content", "properties", "traits", "user_agent", "browser",
            "browser_version", "os", "os_version", "device_type", "is_bot", "library", "app_version", "locale",
            "screen_class")


def iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def send(client: httpx.Client, owner: Account, calls: list[dict[str, Any]]) -> None:
    response = client.post("/v1/batch", auth=(owner.write_key, ""), json={"batch": calls})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(calls), response.text


def download(client: httpx.Client, owner: Account, path: str, **params: str) -> httpx.Response:
    response = client.get(f"/api/projects/{owner.project_id}/{path}", params=params, headers=owner.auth)
    assert response.status_code == 200, response.text
    return response


def stored_order(db: Database, project_id: int) -> list[str]:
    """The project's message ids in the export's order."""
    rows = db.fetch("SELECT message_id FROM events WHERE project_id = $1 ORDER BY event_time, message_id", project_id)
    return [r["message_id"] for r in rows]


def ndjson_ids(text: str) -> list[str]:
    return [json.loads(line)["messageId"] for line in text.splitlines()]


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def tme_export(gateway_url: str, owner: Account, out: Path, *args: str,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli", "export", "--project", str(owner.project_id),
                           "--out", str(out), "--gateway", gateway_url, *args],
                          env={**os.environ, "TME_TOKEN": owner.access_token, **(env or {})},
                          capture_output=True, text=True, timeout=120)


# ---- one person's data (subject access request) ----------------------------------------------


def person_calls(tag: str, start: dt.datetime) -> tuple[list[dict[str, Any]], set[str], set[str]]:
    """Calls of two people and of an anonymous id both used, and which messageIds are the first
    person's (u-1: anonymous a-1 identified as u-1, old-1 aliased to u-1, a-2 seen only beside
    u-1) and which are anyone else's (u-2 with a-3; a-shared, seen beside u-1 and u-2 alike)."""
    calls: list[dict[str, Any]] = []
    mine: set[str] = set()
    others: set[str] = set()

    def call(owner_is_me: bool, kind: str, minute: int, **fields: Any) -> dict[str, Any]:
        message_id = f"{tag}-{len(calls)}"
        body = {"type": kind, "messageId": message_id, "timestamp": iso(start + dt.timedelta(minutes=minute)),
                **fields}
        calls.append(body)
        (mine if owner_is_me else others).add(message_id)
        return body

    call(True, "track", 0, event="Logged In", userId="old-1")
    call(True, "page", 1, anonymousId="a-1", name="Home", properties={"url": "https://shop.example/"})
    call(True, "page", 2, anonymousId="a-1", name="Pricing", properties={"url": "https://shop.example/pricing"})
    call(True, "identify", 3, userId="u-1", anonymousId="a-1", traits={"email": "ada@example.com", "plan": "pro"})
    call(True, "track", 4, event="Signed Up", userId="u-1", properties={"plan": "pro"},
         context={"library": {"name": "analytics-python", "version": "2.3.0"}})
    call(True, "alias", 5, previousId="old-1", userId="u-1")
    call(True, "track", 6, event="Opened App", userId="u-1", anonymousId="a-2")
    call(True, "screen", 7, anonymousId="a-2", name="Settings")
    call(True, "track", 8, event="Shared Device", userId="u-1", anonymousId="a-shared")
    call(False, "track", 9, event="Shared Device", userId="u-2", anonymousId="a-shared")
    call(False, "page", 10, anonymousId="a-shared", properties={"url": "https://shop.example/"})
    call(False, "identify", 11, userId="u-2", anonymousId="a-3", traits={"email": "bob@example.com"})
    call(False, "page", 12, anonymousId="a-3", properties={"url": "https://shop.example/"})
    call(False, "track", 13, event="Signed Up", userId="u-2")
    return calls, mine, others


def person_export(client: httpx.Client, owner: Account, person_id: str) -> httpx.Response:
    return client.get(f"/api/projects/{owner.project_id}/persons/{person_id}/export", headers=owner.auth)


def test_a_persons_export_holds_every_event_of_their_linked_ids_and_nothing_of_anyone_else(
        client: httpx.Client, db: Database, redis_url: str) -> None:
    owner, neighbour = register(client), register(client)
    tag = uuid.uuid4().hex[:8]
    start = NOW - dt.timedelta(days=3)
    calls, mine, others = person_calls(tag, start)
    send(client, owner, calls)
    # the same ids in another project are another project's people
    send(client, neighbour, [{**c, "messageId": "n-" + c["messageId"]} for c in calls])
    wait_rows(db, owner.project_id, len(calls))
    wait_rows(db, neighbour.project_id, len(calls))
    with redis.Redis.from_url(redis_url) as rds:
        wait_drained(rds)  # identify and alias links written

    response = person_export(client, owner, "a-1")
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"] == f'attachment; filename="person-{owner.project_id}-u-1.json"'
    body = response.json()
    assert body["visitorId"] == "u-1"
    assert body["ids"] == ["u-1", "a-1", "a-2", "old-1"]
    assert body["traits"] == {"email": "ada@example.com", "plan": "pro"}
    assert body["firstSeen"] == iso(start)
    assert body["lastSeen"] == iso(start + dt.timedelta(minutes=8))
    exported = [event["messageId"] for event in body["events"]]
    assert set(exported) == mine and len(exported) == len(mine)
    assert not set(exported) & others
    assert [e["timestamp"] for e in body["events"]] == sorted(e["timestamp"] for e in body["events"])

    # Segment spec messages, as they were sent
    signed_up = dict(next(e for e in body["events"] if e.get("event") == "Signed Up"))
    assert signed_up.pop("receivedAt")
    assert signed_up == {"type": "track", "event": "Signed Up", "messageId": f"{tag}-4",
                         "timestamp": iso(start + dt.timedelta(minutes=4)), "userId": "u-1",
                         "properties": {"plan": "pro"},
                         "context": {"library": {"name": "analytics-python", "version": "2.3.0"}}}
    identify = next(e for e in body["events"] if e["type"] == "identify")
    assert (identify["userId"], identify["anonymousId"], identify["traits"]) == ("u-1", "a-1", body["traits"])
    alias = next(e for e in body["events"] if e["type"] == "alias")
    assert (alias["userId"], alias["previousId"]) == ("u-1", "old-1")
    screen = next(e for e in body["events"] if e["type"] == "screen")
    assert (screen["name"], screen["anonymousId"]) == ("Settings", "a-2")

    # any of the person's ids gives the same export
    for other_id in ("u-1", "a-2", "old-1"):
        assert person_export(client, owner, other_id).json() == body
    # an anonymous id two users shared is a person of its own, without either user's events
    shared = person_export(client, owner, "a-shared").json()
    assert shared["ids"] == ["a-shared"]
    assert {e["messageId"] for e in shared["events"]} == {f"{tag}-10"}
    # the neighbour's u-1 is theirs alone
    theirs = person_export(client, neighbour, "u-1").json()
    assert {e["messageId"] for e in theirs["events"]} == {"n-" + m for m in mine}


def test_a_persons_export_is_404_for_nobody_and_for_another_users_project(client: httpx.Client, db: Database) -> None:
    owner, stranger = register(client), register(client)
    send(client, owner, [{"type": "track", "event": "Seen", "userId": "ada", "messageId": uuid.uuid4().hex}])
    wait_rows(db, owner.project_id, 1)
    assert person_export(client, owner, "ada").status_code == 200
    assert_error(person_export(client, owner, "nobody"), 404)
    assert_error(client.get(f"/api/projects/{owner.project_id}/persons/ada/export", headers=stranger.auth), 404)
    assert_error(client.get(f"/api/projects/{owner.project_id}/persons/ada/export"), 401)
    assert_error(person_export(client, owner, "%00"), 400, "visitorId")


# ---- a whole project -------------------------------------------------------------------------


TRICKY_IDS = ("-starts-with-minus", "=SUM(A1)", "'=quoted-already", "+plus", "@at")


@pytest.fixture(scope="module")
def big(gateway_url: str, db: Database) -> Account:
    """A project of 3,000 events over two months, some at the same instant, some with CSV's
    awkward characters (quotes, a line break in a cell, formula-like ids)."""
    with httpx.Client(base_url=gateway_url, timeout=30) as http:
        owner, neighbour = register(http), register(http)
    base = (NOW - dt.timedelta(days=40)).replace(hour=0, minute=0, second=0)
    rows = []
    for i in range(3000):
        when = base + dt.timedelta(minutes=17 * (i // 3))  # three events at each instant
        rows.append(event_row(owner.project_id, when, "Clicked" if i % 2 else "PAGE_VIEW", visitor=f"v-{i % 40}",
                              message_id=f"m-{i:05d}", properties={"i": i, "quote": 'say "hi"'}))
    for n, message_id in enumerate(TRICKY_IDS):
        when = base + dt.timedelta(minutes=17 * (100 + n))  # beside three other events at that instant
        rows.append(event_row(owner.project_id, when, "Line\r\nBreak", visitor="v-x", message_id=message_id,
                              properties={"csv": "a,b\n\"c\""}))
    for start in range(0, len(rows), 500):
        db.execute(*insert_statement(rows[start:start + 500]))
    # another project's event, in the middle of the range
    db.execute(*insert_statement([event_row(neighbour.project_id, base + dt.timedelta(days=3), "Elsewhere",
                                            message_id=uuid.uuid4().hex)]))
    return owner


def test_the_project_export_has_every_event_once_in_a_stable_order(client: httpx.Client, db: Database,
                                                                   big: Account) -> None:
    order = stored_order(db, big.project_id)
    assert len(order) == 3000 + len(TRICKY_IDS)

    ndjson = download(client, big, "export")
    assert ndjson.headers["content-type"].startswith("application/x-ndjson")
    assert ndjson.headers["content-disposition"] == f'attachment; filename="project-{big.project_id}-events.ndjson"'
    assert ndjson_ids(ndjson.text) == order
    first = json.loads(ndjson.text.splitlines()[0])
    assert first["type"] == "page" and "event" not in first and first["anonymousId"]

    exported = download(client, big, "export", format="csv")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = csv_rows(exported.text)
    assert [row["messageId"] for row in rows] == [csv_value("messageId", m) for m in order]
    tricky = next(row for row in rows if row["messageId"] == "'=SUM(A1)")
    assert (tricky["event"], json.loads(tricky["properties"])) == ("Line\r\nBreak", {"csv": "a,b\n\"c\""})

    assert download(client, big, "export/count").json() == {"events": len(order)}
    # from/to bound it: the first day holds 3 events every 17 minutes from midnight
    first_day = first["timestamp"][:10]
    one_day = download(client, big, "export", **{"from": first_day, "to": first_day})
    assert ndjson_ids(one_day.text) == order[:3 * 85]
    assert download(client, big, "export/count", **{"from": first_day, "to": first_day}).json() == {"events": 255}


def test_after_continues_right_after_the_last_line_written(client: httpx.Client, db: Database, big: Account) -> None:
    order = stored_order(db, big.project_id)
    lines = download(client, big, "export").text.splitlines()
    for k in (0, 1, 1234, len(order) - 1):  # the first, one sharing its instant, anywhere, the last
        last = json.loads(lines[k])
        after = json.dumps([last["timestamp"], last["messageId"]])
        assert ndjson_ids(download(client, big, "export", after=after).text) == order[k + 1:]
        assert download(client, big, "export/count", after=after).json() == {"events": len(order) - k - 1}

    # in CSV, with the cells as written: a continuation has no header row
    text = download(client, big, "export", format="csv").text
    header, records = text.split("\r\n", 1)[0], csv_rows(text)
    for message_id in TRICKY_IDS:
        k = order.index(message_id)
        row = records[k]
        assert row["messageId"] == csv_value("messageId", message_id)
        after = json.dumps([row["timestamp"], row["messageId"]])
        rest = download(client, big, "export", format="csv", after=after).text
        assert not rest.startswith(header)
        assert [r["messageId"] for r in csv_rows(header + "\r\n" + rest)] == \
            [csv_value("messageId", m) for m in order[k + 1:]]


def test_bad_parameters_are_400_and_another_users_project_404(client: httpx.Client, big: Account) -> None:
    def ask(path: str, **params: str) -> httpx.Response:
        return client.get(f"/api/projects/{big.project_id}/{path}", params=params, headers=big.auth)

    assert_error(ask("export", format="xlsx"), 400, "format")
    for after in ("nope", "[]", '["2026-01-05T10:00:00Z"]', '["2026-01-05T10:00:00", "m-1"]',
                  '["not a time", "m-1"]', '["2026-01-05T10:00:00Z", ""]', '["2026-01-05T10:00:00Z", 7]',
                  '["9999-12-31T23:59:59-12:00", "m"]', '["2026-01-05T10:00:00Z", "m\\u0000"]'):
        assert_error(ask("export", after=after), 400, "after")
        assert_error(ask("export/count", after=after), 400, "after")
    assert_error(ask("export", **{"from": "2026-02-01", "to": "2026-01-01"}), 400, "to")
    assert_error(ask("export", **{"from": "yesterday"}), 400, "from")
    assert_error(ask("export", tz="Mars/Olympus"), 400, "tz")

    stranger = register(client)
    for path in ("export", "export/count", "persons/v-1/export"):
        assert_error(client.get(f"/api/projects/{big.project_id}/{path}", headers=stranger.auth), 404)
    assert_error(client.get(f"/api/projects/{big.project_id}/export"), 401)


# ---- tme export ------------------------------------------------------------------------------


def test_tme_export_resumes_an_ndjson_download_cut_off_mid_way(client: httpx.Client, db: Database, big: Account,
                                                               gateway_url: str, tmp_path: Path) -> None:
    order = stored_order(db, big.project_id)
    out = tmp_path / "project.ndjson"
    # the client goes away after 200 kB, in the middle of a line
    with client.stream("GET", f"/api/projects/{big.project_id}/export", headers=big.auth) as response, \
            open(out, "wb") as fh:
        for chunk in response.iter_raw():
            fh.write(chunk[:200_000 - fh.tell()])
            if fh.tell() >= 200_000:
                break
    partial = out.read_bytes()
    assert not partial.endswith(b"\n")
    kept = partial.count(b"\n")

    done = tme_export(gateway_url, big, out)
    assert done.returncode == 0, done.stderr
    assert "cut" in done.stderr and f"resuming {out} after {kept:,} events" in done.stderr
    assert done.stdout.strip() == f"{len(order) - kept:,} events written to {out} after the {kept:,} it had"
    assert ndjson_ids(out.read_text()) == order

    # a finished export run again gets nothing more
    again = tme_export(gateway_url, big, out, "--quiet")
    assert again.returncode == 0 and again.stdout.startswith(f"0 events written to {out}"), again.stderr
    assert ndjson_ids(out.read_text()) == order


def test_tme_export_resumes_a_csv_file_cut_inside_a_quoted_line_break(db: Database, big: Account, gateway_url: str,
                                                                      tmp_path: Path) -> None:
    order = stored_order(db, big.project_id)
    out = tmp_path / "project.csv"
    whole = tme_export(gateway_url, big, out, "--format", "csv", "--email", big.email,
                       env={"TME_TOKEN": "", "TME_PASSWORD": PASSWORD})  # a login this time
    assert whole.returncode == 0, whole.stderr
    assert whole.stdout.strip() == f"{len(order):,} events written to {out}"
    complete = out.read_bytes()
    expected = [csv_value("messageId", m) for m in order]
    assert [r["messageId"] for r in csv_rows(complete.decode())] == expected

    # cut just after the line break inside a quoted cell: that line looks complete, and is not
    cut = complete.index(b'"Line\r\nBreak') + len(b'"Line\r\n')
    for size in (cut, len(complete) // 2, 10):
        out.write_bytes(complete[:size])
        done = tme_export(gateway_url, big, out, "--format", "csv")
        assert done.returncode == 0, done.stderr
        assert out.read_bytes() == complete


def test_tme_export_refuses_what_it_cannot_resume_or_reach(client: httpx.Client, big: Account, gateway_url: str,
                                                           tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my shopping list\nmilk\n")
    refused = tme_export(gateway_url, big, notes)
    assert refused.returncode == 2 and "is not a ndjson export" in refused.stderr
    assert notes.read_text() == "my shopping list\nmilk\n"

    stranger = register(client)
    out = tmp_path / "theirs.ndjson"
    theirs = tme_export(gateway_url, big, out, env={"TME_TOKEN": stranger.access_token})
    assert theirs.returncode == 1 and f"project {big.project_id} not found" in theirs.stderr
    nobody = tme_export(gateway_url, big, out, env={"TME_TOKEN": ""})
    assert nobody.returncode == 1 and "TME_TOKEN" in nobody.stderr
    wrong = tme_export(gateway_url, big, out, "--email", big.email, env={"TME_TOKEN": "", "TME_PASSWORD": "wrong"})
    assert wrong.returncode == 1 and "login failed (401)" in wrong.stderr


# ---- round trip ------------------------------------------------------------------------------


def test_an_ndjson_export_imported_into_another_project_stores_the_same_events(
        client: httpx.Client, db: Database, gateway_url: str, database_url: str, redis_url: str,
        tmp_path: Path) -> None:
    source, target = register(client), register(client)
    start = NOW - dt.timedelta(days=2)

    def at(minute: int) -> str:
        return iso(start + dt.timedelta(minutes=minute))

    context = {"library": {"name": "analytics.js", "version": "4.1.0"}, "userAgent": IPHONE, "locale": "de_CH",
               "page": {"url": "https://shop.example/shoes?utm_source=news", "referrer": "https://www.google.com/"},
               "campaign": {"source": "news", "medium": "email", "name": "spring"}, "screen": {"width": 390},
               "app": {"version": "1.2.3"}, "sessionId": "s-1"}
    send(client, source, [
        {"type": "track", "event": "Added To Cart", "anonymousId": "a-1", "timestamp": at(0),
         "properties": {"sku": "red-1", "price": 49.5}, "context": context},
        {"type": "page", "anonymousId": "a-1", "name": "Shoes", "category": "Shop", "timestamp": at(1),
         "properties": {"url": "https://shop.example/shoes", "referrer": "https://duckduckgo.com/"}},
        {"type": "screen", "userId": "u-1", "name": "Cart", "timestamp": at(2),
         "context": {"os": {"name": "Android", "version": "14.1"}, "device": {"type": "android"}}},
        {"type": "identify", "userId": "u-1", "anonymousId": "a-1", "traits": {"plan": "pro"}, "timestamp": at(3)},
        {"type": "group", "userId": "u-1", "groupId": "g-1", "traits": {"name": "Acme"}, "timestamp": at(4)},
        {"type": "alias", "previousId": "old-1", "userId": "u-1", "timestamp": at(5)},
    ])
    # the native endpoint: the person's agent and language come from the request's headers
    native = client.post("/api/track", json={"apiKey": source.write_key, "eventName": "PAGE_VIEW", "userId": "u-1",
                                             "sessionId": "s-2", "eventTime": int((start.timestamp() + 360) * 1000),
                                             "page": "https://shop.example/thanks?utm_campaign=spring",
                                             "referrer": "https://shop.example/cart"},
                         headers={"User-Agent": IPHONE, "Accept-Language": "fr-CH,fr;q=0.9"})
    assert native.status_code == 200, native.text
    originals = {r["message_id"]: r for r in wait_rows(db, source.project_id, 7)}

    out = tmp_path / "source.ndjson"
    done = tme_export(gateway_url, source, out, "--quiet")
    assert done.returncode == 0, done.stderr
    imported = subprocess.run([sys.executable, "-m", "services.cli", "import", "--file", str(out), "--project",
                               str(target.project_id)],
                              env={**os.environ, "TME_DATABASE_URL": database_url, "TME_REDIS_URL": redis_url},
                              capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0, imported.stderr
    copies = {r["message_id"]: r for r in wait_rows(db, target.project_id, 7)}

    assert set(copies) == set(originals)
    for message_id, original in originals.items():
        copy = copies[message_id]
        assert {c: copy[c] for c in COMPARED} == {c: original[c] for c in COMPARED}, message_id
        sent, again = json.loads(original["context"]), json.loads(copy["context"])
        assert set(again) - set(sent) <= ADDED_CONTEXT
        assert {k: again[k] for k in sent if k not in ADDED_CONTEXT} == \
            {k: v for k, v in sent.items() if k not in ADDED_CONTEXT}
