"""POST funnels: ordered steps within a window; order matters, anonymous visitors who identify
later are one person."""

from __future__ import annotations

import datetime as dt
import random

from conftest import Database

from .conftest import Project, assert_error
from .funnel_reference import reference_funnel

PRICING = {"event": "PAGE_VIEW", "filters": [{"field": "page", "op": "eq", "value": "/pricing"}]}
FUNNEL = {"steps": [PRICING, {"event": "Signup"}, {"event": "Purchase"}], "windowSeconds": 3600,
          "from": "2026-01-05", "to": "2026-01-05"}


def _seed(project: Project, db: Database) -> None:
    ev = project.events

    def day(hhmm: str) -> str:
        return f"2026-01-05 {hhmm}"

    ev.insert([
        # u1 converts fully: 600 s to sign up, 1200 s more to buy
        ev.row(day("10:00"), path="/pricing", visitor="u1"),
        ev.row(day("10:10"), "Signup", visitor="u1"),
        ev.row(day("10:30"), "Purchase", visitor="u1"),
        # u2 signed up before seeing pricing, never after: step 1 only
        ev.row(day("09:00"), "Signup", visitor="u2"),
        ev.row(day("09:30"), path="/pricing", visitor="u2"),
        # u3 signed up before, and again after pricing (1200 s): step 2
        ev.row(day("09:00"), "Signup", visitor="u3"),
        ev.row(day("09:30"), path="/pricing", visitor="u3"),
        ev.row(day("09:50"), "Signup", visitor="u3"),
        # u4: first attempt too slow for the 1 h window, second attempt converts fully (1200 s, 1200 s)
        ev.row(day("08:00"), path="/pricing", visitor="u4"),
        ev.row(day("09:30"), "Signup", visitor="u4"),
        ev.row(day("10:00"), path="/pricing", visitor="u4"),
        ev.row(day("10:20"), "Signup", visitor="u4"),
        ev.row(day("10:40"), "Purchase", visitor="u4"),
        # u5 bought before signing up: purchase does not count (600 s to step 2)
        ev.row(day("10:00"), path="/pricing", visitor="u5"),
        ev.row(day("10:05"), "Purchase", visitor="u5"),
        ev.row(day("10:10"), "Signup", visitor="u5"),
        # u6 never saw pricing
        ev.row(day("10:00"), "Purchase", visitor="u6"),
        # anon-7 saw pricing anonymously, then signed up as u7 (900 s)
        ev.row(day("10:00"), path="/pricing", visitor="anon-7"),
        ev.row(day("10:15"), "Signup", visitor="anon-7", user="u7"),
        # a bot doing it all is not a user
        ev.row(day("10:00"), path="/pricing", visitor="bot", is_bot=True),
        ev.row(day("10:01"), "Signup", visitor="bot", is_bot=True),
    ])
    db.execute("INSERT INTO person_aliases (project_id, alias_id, visitor_id) VALUES ($1, 'anon-7', 'u7')",
               project.id)


def test_step_order_window_and_identity_matter(project: Project, db: Database) -> None:
    _seed(project, db)
    response = project.post("funnels", FUNNEL)
    assert response.status_code == 200, response.text
    steps = response.json()["steps"]
    assert [s["event"] for s in steps] == ["PAGE_VIEW", "Signup", "Purchase"]
    assert [s["users"] for s in steps] == [6, 5, 2]
    assert [s["conversionFromFirst"] for s in steps] == [1.0, 0.8333, 0.3333]
    assert [s["conversionFromPrevious"] for s in steps] == [1.0, 0.8333, 0.4]
    assert [s["dropOff"] for s in steps] == [0, 1, 3]
    assert [s["medianSecondsToConvert"] for s in steps] == [None, 900.0, 1200.0]


def test_reversed_steps_give_a_different_funnel(project: Project, db: Database) -> None:
    _seed(project, db)
    body = {**FUNNEL, "steps": [{"event": "Signup"}, PRICING]}
    steps = project.post("funnels", body).json()["steps"]
    # signed up: u1 u2 u3 u4 u5 u7(as anon-7/u7); then saw pricing within 1 h: u2 (09:00->09:30),
    # u3 (09:00->09:30), u4 (09:30->10:00)
    assert [s["users"] for s in steps] == [6, 3]
    assert steps[1]["medianSecondsToConvert"] == 1800.0


def test_steps_at_the_same_instant_count_in_the_funnels_order(project: Project) -> None:
    """A server SDK stamping two steps with the same second converts, whatever their message ids;
    one event never counts as two steps."""
    ev = project.events
    at = "2026-01-05 10:00"
    ev.insert([
        ev.row(at, "Signup", visitor="s1", message_id="m-2"), ev.row(at, "Purchase", visitor="s1", message_id="m-1"),
        ev.row(at, "Purchase", visitor="s2", message_id="m-3"), ev.row(at, "Signup", visitor="s2", message_id="m-4"),
        ev.row(at, "Signup", visitor="s3", message_id="m-5"),
    ])
    body = {"windowSeconds": 60, "from": "2026-01-05", "to": "2026-01-05"}
    forward = project.post("funnels", {**body, "steps": [{"event": "Signup"}, {"event": "Purchase"}]}).json()
    assert [s["users"] for s in forward["steps"]] == [3, 2]
    assert forward["steps"][1]["medianSecondsToConvert"] == 0.0
    backward = project.post("funnels", {**body, "steps": [{"event": "Purchase"}, {"event": "Signup"}]}).json()
    assert [s["users"] for s in backward["steps"]] == [2, 2]
    twice = project.post("funnels", {**body, "steps": [{"event": "Signup"}, {"event": "Signup"}]}).json()
    assert [s["users"] for s in twice["steps"]] == [3, 0]


def test_a_short_window_and_global_filters(project: Project, db: Database) -> None:
    _seed(project, db)
    quick = project.post("funnels", {**FUNNEL, "windowSeconds": 1000}).json()["steps"]
    # within 1000 s of pricing: u1 signs up (600 s), u5 (600 s), u7 (900 s); nobody also buys in time
    assert [s["users"] for s in quick] == [6, 3, 0]
    assert quick[2]["medianSecondsToConvert"] is None
    nobody = project.post("funnels", {**FUNNEL, "filters": [{"field": "browser", "op": "eq", "value": "Chrome"}]})
    assert [s["users"] for s in nobody.json()["steps"]] == [0, 0, 0]
    assert [s["conversionFromFirst"] for s in nobody.json()["steps"]] == [0.0, 0.0, 0.0]


def test_invalid_funnels_name_the_field(project: Project) -> None:
    assert_error(project.post("funnels", {"steps": [{"event": "A"}]}), 400, "steps")
    assert_error(project.post("funnels", {"steps": [{"event": "A"}] * 11}), 400, "steps")
    assert_error(project.post("funnels", {"steps": [{"event": "A"}, {"name": "B"}]}), 400, "steps[1].event")
    assert_error(project.post("funnels", {"steps": [{"event": "A"}, {"event": "B", "filters": [{"field": "x"}]}]}),
                 400, "steps[1].filters")
    assert_error(project.post("funnels", {**FUNNEL, "windowSeconds": 0}), 400, "windowSeconds")
    assert_error(project.post("funnels", {**FUNNEL, "windowSeconds": "1h"}), 400, "windowSeconds")
    assert_error(project.post("funnels", {**FUNNEL, "from": "yesterday"}), 400, "from")
    assert_error(project.post("funnels", {**FUNNEL, "tz": "Mars/Olympus"}), 400, "tz")
    bad_json = project.http.post(project.url("funnels"), content=b"{", headers={**project.auth,
                                                                                "content-type": "application/json"})
    assert_error(bad_json, 400)


def test_random_funnels_follow_the_documented_rules(project: Project) -> None:
    """Random visitors doing A, B and C in any order, with repeats and events at the same second,
    against the rules in plain Python; one funnel repeats a step."""
    rnd = random.Random(5)
    start = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    events = []
    for n in range(300):
        visitor = f"r{rnd.randrange(40)}"
        seconds = float(rnd.choice([0, 60, 60, 600, 1800, 3000]) * rnd.randrange(1, 40))
        events.append((visitor, seconds, f"m{n:04d}", rnd.choice("AABC")))
    ev = project.events
    ev.insert([ev.row(start + dt.timedelta(seconds=t), name, visitor=v, message_id=mid) for v, t, mid, name in events])
    for steps in (["A", "B", "C"], ["A", "A", "B"], ["B", "A"]):
        body = {"steps": [{"event": s} for s in steps], "windowSeconds": 3600, "from": "2026-01-05",
                "to": "2026-01-06"}
        answer = project.post("funnels", body).json()["steps"]
        users, medians = reference_funnel(events, steps, 3600)
        assert [s["users"] for s in answer] == users, steps
        assert [s["medianSecondsToConvert"] for s in answer] == medians, steps
