"""The seeded demo traffic generator: exactly `events` Segment-shaped events (what the browser SDK
sends to `/v1/batch`) between `end - days` and `end`, in chunks of about an hour, each in time order.

The same plan (events, days, seed, end) always yields the same events, ids included: that is what
lets the ingest path and the bulk path be compared row for row. Ids are UUID-shaped and derived
from the seed and a counter, so nothing per visitor is kept but two small arrays.

Traffic: sessions start on a diurnal and weekly curve with a gentle growth and one launch-day
spike; each session belongs to a new visitor or, for about a third, a returning one (recent
visitors and signed-up users return more), arrives from a source (search, social, Hacker News,
GitHub, campaigns with UTM tags, direct), walks the site, fires the product's events, and some
sessions go down the funnel Viewed Pricing -> Started Signup -> Signed Up (identify) -> Created
Project. About 2% of sessions are crawlers."""

from __future__ import annotations

import datetime as dt
import random
from array import array
from bisect import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from services.demo import catalog as c

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
Event = dict[str, Any]

BOT_SHARE = 0.02
RETURNING_SHARE = 0.35
BOUNCE_SHARE = 0.36
MEAN_EXTRA_PAGES = 3.0
SPIKE_FACTOR = 2.2  # the launch day (Hacker News front page)
_MIX = 0x9E3779B97F4B  # odd: multiplying by it permutes 48-bit counters, so ids look random


@dataclass(frozen=True)
class Plan:
    events: int
    days: float
    seed: int
    end_ms: int

    @property
    def start_ms(self) -> int:
        return self.end_ms - int(self.days * DAY_MS)


class _Picker:
    """Weighted choice with precomputed cumulative weights (random.choices recomputes them)."""

    def __init__(self, items: Any, weights: Any) -> None:
        self.items = tuple(items)
        self.cum = list(accumulate(weights))
        self.total = self.cum[-1]

    def __call__(self, rng: random.Random) -> Any:
        return self.items[bisect(self.cum, rng.random() * self.total)]


def _pick_weighted(pairs: c.Weighted) -> _Picker:
    return _Picker((p for p, _ in pairs), (w for _, w in pairs))


_SOURCES = _Picker(c.SOURCES, c.SOURCE_WEIGHTS)
_DEVICES = _Picker(range(len(c.DEVICES)), c.DEVICE_WEIGHTS)
_LANDINGS = {s.name: _pick_weighted(s.landings) for s in c.SOURCES}
_NEXT: dict[str, _Picker] = {}
_PLANS = _pick_weighted(c.PLANS)
_SNIPPETS = _pick_weighted(c.SNIPPET_LANGUAGES)
_CTAS = _pick_weighted(c.CTA_LABELS)


def _next_picker(path: str) -> _Picker:
    picker = _NEXT.get(path)
    if picker is None:
        picker = _NEXT[path] = _pick_weighted(c.next_pages(path))
    return picker


def hour_weights(plan: Plan) -> list[float]:
    """Relative traffic of each hour of the plan's range (the last one pro rata)."""
    start, end = plan.start_ms, plan.end_ms
    hours = max(1, -(-(end - start) // HOUR_MS))
    spike_day = int(plan.days * 0.62)
    weights = []
    for i in range(hours):
        at = dt.datetime.fromtimestamp((start + i * HOUR_MS) / 1000, dt.UTC)
        w = c.HOUR_WEIGHTS[at.hour] * c.WEEKDAY_WEIGHTS[at.weekday()] * (1 + 0.6 * i / hours)
        if plan.days >= 7 and i // 24 == spike_day:
            w *= SPIKE_FACTOR
        length = min(HOUR_MS, end - (start + i * HOUR_MS))
        weights.append(w * length / HOUR_MS)
    return weights


class Generator:
    def __init__(self, plan: Plan) -> None:
        if plan.events < 0 or plan.days <= 0:
            raise ValueError("events must be >= 0 and days > 0")
        self.plan = plan
        self.rng = random.Random(plan.seed)
        r = self.rng
        self._id_prefix = {kind: f"{r.getrandbits(32):08x}-{r.getrandbits(16):04x}-4{r.getrandbits(12):03x}-"
                                 f"{0x8000 | r.getrandbits(14):04x}-" for kind in ("v", "s", "m")}
        self._user_prefix = f"usr_{r.getrandbits(24):06x}"
        self.device = array("B")  # per visitor: index into catalog.DEVICES
        self.state = array("B")  # per visitor: 0 anonymous, 1 signed up, 2 created a project
        self.locale = array("B")
        self.sessions = 0
        self.messages = 0
        self.bots = 0
        self.emitted = 0
        self._spike_start = plan.start_ms + int(plan.days * 0.62) * DAY_MS if plan.days >= 7 else -1

    # -- ids ------------------------------------------------------------------------------
    def _uuid(self, kind: str, n: int) -> str:
        return f"{self._id_prefix[kind]}{(n * _MIX) & 0xFFFFFFFFFFFF:012x}"

    def anonymous_id(self, visitor: int) -> str:
        return self._uuid("v", visitor)

    def user_id(self, visitor: int) -> str:
        return f"{self._user_prefix}{visitor:07d}"

    # -- the whole range ------------------------------------------------------------------
    def chunks(self) -> Iterator[list[Event]]:
        """Lists of events, about one hour of traffic each, sorted by time; `plan.events` in all."""
        plan = self.plan
        weights = hour_weights(plan)
        total = sum(weights)
        cumulative = 0.0
        for i, w in enumerate(weights):
            cumulative += w
            target = plan.events if i == len(weights) - 1 else round(plan.events * cumulative / total)
            hour_start = plan.start_ms + i * HOUR_MS
            span = min(HOUR_MS, plan.end_ms - hour_start)
            returning_pool = len(self.device)  # only visitors first seen before this hour come back
            chunk: list[Event] = []
            while self.emitted < target:
                t0 = hour_start + int(self.rng.random() * span)
                session = self._session(t0, returning_pool)[: plan.events - self.emitted]
                self.emitted += len(session)
                chunk.extend(session)
            if chunk:
                chunk.sort(key=_time)
                yield chunk

    # -- one session ----------------------------------------------------------------------
    def _session(self, t0: int, pool: int) -> list[Event]:
        r = self.rng
        if r.random() < BOT_SHARE:
            return self._bot_session(t0)
        self.sessions += 1
        if pool and r.random() < RETURNING_SHARE:
            visitor = self._returning(pool)
        else:
            visitor = len(self.device)
            self.device.append(_DEVICES(r))
            self.state.append(0)
            self.locale.append(r.randrange(len(c.DEVICES[self.device[visitor]].locale_tz)))
        return _Session(self, visitor, t0).run(returning=visitor < pool)

    def _returning(self, pool: int) -> int:
        """A visitor first seen earlier; the recent ones and signed-up users are likelier to return."""
        r = self.rng
        scale = max(1.0, pool / 4)
        for _ in range(3):
            visitor = pool - 1 - min(pool - 1, int(r.expovariate(1 / scale)))
            if self.state[visitor] or r.random() < 0.5:
                return visitor
        return visitor

    def _bot_session(self, t0: int) -> list[Event]:
        r = self.rng
        self.bots += 1
        agent = r.choice(c.BOT_AGENTS)
        anonymous = self._uuid("v", 10**12 + self.bots)  # never a returning visitor
        paths = list(c.PAGES)
        events = []
        t = t0
        for _ in range(1 + int(r.expovariate(1 / 3))):
            path = r.choice(paths)
            url = c.SITE + path
            events.append(self._event("page", "", t, anonymous, None, None,
                                      {"path": path, "url": url, "title": c.PAGES[path]},
                                      {"userAgent": agent, "library": c.LIBRARY}))
            t += 500 + int(r.random() * 4000)
            if t >= self.plan.end_ms:
                break
        return events

    def _event(self, type_: str, name: str, t: int, anonymous: str, user: str | None, session: str | None,
               properties: dict[str, Any], context: dict[str, Any]) -> Event:
        event: Event = {"type": type_, "messageId": self._uuid("m", self.messages), "anonymousId": anonymous,
                        "timestamp": t, "properties": properties, "context": context}
        self.messages += 1
        if name:
            event["event"] = name
        if user is not None:
            event["userId"] = user
        if session is not None:
            event["sessionId"] = session
        return event


def _time(event: Event) -> int:
    timestamp: int = event["timestamp"]
    return timestamp


class _Session:
    """One visit: pages and the events they fire, in time order."""

    def __init__(self, gen: Generator, visitor: int, t0: int) -> None:
        self.gen = gen
        self.r = gen.rng
        self.visitor = visitor
        self.t = t0
        self.events: list[Event] = []
        self.anonymous = gen.anonymous_id(visitor)
        self.session_id = gen._uuid("s", gen.sessions)
        device = c.DEVICES[gen.device[visitor]]
        locale, tz = device.locale_tz[gen.locale[visitor]]
        self.base_context = {"userAgent": device.user_agent, "locale": locale, "timezone": tz,
                             "screen": {"width": device.screen[0], "height": device.screen[1]},
                             "library": c.LIBRARY}
        self.url = ""
        self.path = ""
        self.done = False

    @property
    def user(self) -> str | None:
        return self.gen.user_id(self.visitor) if self.gen.state[self.visitor] else None

    def _tick(self, low_s: float, mean_s: float) -> None:
        self.t += int((low_s + self.r.expovariate(1 / mean_s)) * 1000)
        if self.t >= self.gen.plan.end_ms:
            self.done = True

    def _emit(self, type_: str, name: str, properties: dict[str, Any], context: dict[str, Any]) -> None:
        if not self.done:
            self.events.append(self.gen._event(type_, name, self.t, self.anonymous, self.user, self.session_id,
                                               properties, context))

    def track(self, name: str, properties: dict[str, Any] | None = None) -> None:
        self._tick(1, 8)
        self._emit("track", name, properties or {},
                   {**self.base_context, "page": {"path": self.path, "url": self.url}})

    def page(self, path: str, referrer: str, utm: tuple[str, str, str, str | None] | None) -> None:
        url = c.SITE + path
        if utm is not None:
            source, medium, campaign, term = utm
            url += f"?utm_source={source}&utm_medium={medium}&utm_campaign={campaign}"
            if term:
                url += "&utm_term=" + term.replace(" ", "+")
        props: dict[str, Any] = {"path": path, "url": url, "title": c.PAGES[path]}
        if referrer:
            props["referrer"] = referrer
        self.path, self.url = path, url
        self._emit("page", "", props, self.base_context)

    def identify(self, traits: dict[str, Any]) -> None:
        self._tick(0.2, 1)
        if not self.done:
            self._emit("identify", "", {}, self.base_context)
            self.events[-1]["traits"] = traits

    def run(self, *, returning: bool) -> list[Event]:
        gen, r = self.gen, self.r
        if gen.state[self.visitor] and r.random() < 0.7:
            source, landing = c.DIRECT, "/app/dashboard"
        else:
            source = c.DIRECT if returning and r.random() < 0.6 else _SOURCES(r)
            if gen._spike_start <= self.t < gen._spike_start + DAY_MS and r.random() < 0.5:
                source = c.SOURCES[5]  # launch day: Hacker News
            landing = _LANDINGS[source.name](r)
        referrer = r.choice(source.referrers)
        utm = r.choice(source.utm) if source.utm else None
        pages = 1 if r.random() < BOUNCE_SHARE else 2 + min(18, int(r.expovariate(1 / MEAN_EXTRA_PAGES)))
        path = landing
        for i in range(pages):
            if i:
                referrer = self.url
                self._tick(4, 40)
            self.page(path, referrer, utm if i == 0 else None)
            path = self._actions(path) or _next_picker(path)(r)
            if self.done or path == "":
                break
        return self.events

    def _actions(self, path: str) -> str | None:
        """The events a page fires; the next page when the page decides it (the funnel), "" to leave."""
        r, gen, v = self.r, self.gen, self.visitor
        state = gen.state[v]
        if path == "/pricing":
            self.track("Viewed Pricing", {"billing": "yearly" if r.random() < 0.4 else "monthly"})
            if state == 0 and r.random() < c.PRICING_TO_SIGNUP:
                return "/signup"
        elif path == "/signup" and state == 0:
            plan = _PLANS(r)
            self.track("Started Signup", {"plan": plan})
            if r.random() >= c.SIGNUP_COMPLETED:
                return "" if r.random() < 0.5 else None
            first, last = r.choice(c.FIRST_NAMES), r.choice(c.LAST_NAMES)
            company = r.choice(c.COMPANIES)
            traits: dict[str, Any] = {"email": f"{first.lower()}.{last.lower()}{v}@example.com",
                                      "name": f"{first} {last}", "plan": plan,
                                      "createdAt": dt.datetime.fromtimestamp(self.t / 1000, dt.UTC).isoformat()}
            if company:
                traits["company"] = company
            gen.state[v] = 1
            self.identify(traits)
            self.track("Signed Up", {"plan": plan, "method": "google" if r.random() < 0.3 else "email"})
            if r.random() < c.PROJECT_CREATED:
                return "/app/projects/new"
            return "/app/dashboard"
        elif path == "/app/projects/new" and state == 1:
            self.track("Created Project", {"template": r.choice(("website", "saas", "mobile app", "blank"))})
            gen.state[v] = 2
            return "/app/dashboard"
        elif path == "/app/dashboard":
            if state == 1 and r.random() < 0.2:
                return "/app/projects/new"
            if state and r.random() < 0.08:
                self.track("Invited Teammate", {"role": r.choice(("admin", "member", "viewer"))})
        elif path == "/app/reports" and r.random() < 0.3:
            self.track("Created Report", {"kind": r.choice(("funnel", "retention", "trend", "breakdown"))})
        elif path.startswith("/docs"):
            if r.random() < 0.22:
                self.track("Copied Snippet", {"language": _SNIPPETS(r)})
            if r.random() < 0.1:
                self.track("Searched Docs", {"query": r.choice(c.DOC_SEARCHES)})
        elif path in ("/", "/features") and r.random() < 0.2:
            label = _CTAS(r)
            self.track("Clicked CTA", {"label": label, "location": "hero" if path == "/" else "features"})
            if label == "Get started free" and state == 0 and r.random() < 0.5:
                return "/signup"
        elif path.startswith("/blog/") and r.random() < 0.05:
            self.track("Subscribed to Newsletter", {"post": path})
        elif path == "/login" and state:
            return "/app/dashboard"
        return None
