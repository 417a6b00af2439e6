import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { backoffMs, createTracker, MAX_ATTEMPTS, retryAfterMs, SESSION_TIMEOUT_MS, uuid } from "../src/core.js";
import { fakeWindow } from "./fakes.js";

const KEY = "wk_test";
const HOST = "https://tme.example";

function start(opts = {}, winOpts = {}) {
  const f = fakeWindow(winOpts);
  const tme = createTracker({ writeKey: KEY, host: HOST, random: () => 0.5, ...opts }, f.w);
  return { f, tme };
}

const pages = (events) => events.filter((e) => e.type === "page").map((e) => e.properties.path);
const ids = (events) => events.map((e) => e.messageId);

describe("payload", () => {
  it("sends a Segment batch to the origin it was given, with page context and library", async () => {
    const { f, tme } = start({}, { url: "https://shop.example/pricing?plan=pro" });
    tme.track("Signup", { plan: "pro" });
    await f.advance(1000);
    assert.equal(f.requests.length, 1);
    const req = f.requests[0];
    assert.equal(req.url, "https://tme.example/v1/batch");
    assert.equal(req.init.method, "POST");
    assert.equal(req.init.headers["Content-Type"], "text/plain");
    assert.equal(req.body.writeKey, KEY);
    assert.equal(req.body.sentAt, new Date(f.now()).toISOString());
    const [page, signup] = req.body.batch;
    assert.equal(page.type, "page");
    assert.deepEqual(
      { path: page.properties.path, url: page.properties.url, referrer: page.properties.referrer, title: page.properties.title },
      { path: "/pricing", url: "https://shop.example/pricing?plan=pro", referrer: "https://www.google.com/", title: "Shop" },
    );
    assert.equal(signup.type, "track");
    assert.equal(signup.event, "Signup");
    assert.deepEqual(signup.properties, { plan: "pro" });
    for (const ev of [page, signup]) {
      assert.match(ev.messageId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.equal(ev.context.library.name, "tme.js");
      assert.equal(ev.context.page.path, "/pricing");
      assert.equal(ev.context.locale, "en-GB");
      assert.match(ev.context.userAgent, /FakeBrowser/);
      assert.ok(ev.anonymousId);
      assert.equal(ev.timestamp, "2026-01-05T12:00:00.000Z");
    }
    assert.notEqual(page.messageId, signup.messageId);
  });

  it("identify links the anonymous id to the user id, and later events carry both", async () => {
    const { f, tme } = start();
    const anon = tme.getAnonymousId();
    tme.identify("user-42", { email: "a@example.com" });
    tme.track("Bought");
    await f.advance(1000);
    const [, identify, bought] = f.sent();
    assert.deepEqual([identify.type, identify.userId, identify.anonymousId], ["identify", "user-42", anon]);
    assert.deepEqual(identify.traits, { email: "a@example.com" });
    assert.deepEqual([bought.userId, bought.anonymousId], ["user-42", anon]);
  });

  it("the user id survives a reload (same storage), and reset() forgets user, anonymous id and session", async () => {
    const { f, tme } = start();
    tme.identify("u1");
    const anon = tme.getAnonymousId();
    const session = tme.getSessionId();
    const again = createTracker({ writeKey: KEY, host: HOST, autoPage: false }, f.w);
    assert.equal(again.getUserId(), "u1");
    assert.equal(again.getAnonymousId(), anon);
    again.reset();
    again.track("After");
    await f.advance(1000);
    const after = f.sent().find((e) => e.event === "After");
    assert.equal(after.userId, undefined);
    assert.notEqual(after.anonymousId, anon);
    assert.notEqual(after.sessionId, session);
  });

  it("keeps working without localStorage (ids live in memory for the page)", async () => {
    const { f, tme } = start({}, { storageThrows: true });
    tme.track("x");
    await f.advance(1000);
    const [a, b] = f.sent();
    assert.equal(a.anonymousId, b.anonymousId);
    assert.equal(a.sessionId, b.sessionId);
  });

  it("uuid falls back to getRandomValues and then Math.random", () => {
    const re = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    assert.match(uuid({ crypto: { getRandomValues: (b) => globalThis.crypto.getRandomValues(b) } }), re);
    assert.match(uuid({}), re);
    assert.notEqual(uuid({}), uuid({}));
  });

  it("requires a write key and a host", () => {
    const f = fakeWindow();
    assert.throws(() => createTracker({ host: HOST }, f.w), /writeKey/);
    assert.throws(() => createTracker({ writeKey: KEY }, f.w), /host/);
  });
});

describe("sessions", () => {
  it("keeps one session while events come less than 30 minutes apart", async () => {
    const { f, tme } = start();
    const first = tme.getSessionId();
    for (let i = 0; i < 3; i++) {
      f.jump(SESSION_TIMEOUT_MS - 60_000);
      tme.track("tick");
    }
    await f.advance(1000);
    const sessions = new Set(f.sent().map((e) => e.sessionId));
    assert.deepEqual([...sessions], [first]);
    assert.equal(f.sent().length, 4);
  });

  it("starts a new session after 30 minutes of inactivity, and stores it with the activity time", async () => {
    const { f, tme } = start();
    const first = tme.getSessionId();
    f.jump(SESSION_TIMEOUT_MS + 1);
    tme.track("back");
    const second = tme.getSessionId();
    assert.notEqual(second, first);
    const stored = JSON.parse(f.data["tme.sid"]);
    assert.deepEqual(stored, { id: second, t: f.now() });
    await f.advance(1000);
    assert.deepEqual(f.sent().map((e) => e.sessionId), [first, second]);
    assert.equal(f.sent()[1].context.sessionId, second);
  });

  it("shares the session between tabs (localStorage) and renews it in any tab after the timeout", () => {
    const { f, tme } = start();
    const first = tme.getSessionId();
    const other = createTracker({ writeKey: KEY, host: HOST }, f.w); // a second tab: same storage
    assert.equal(other.getSessionId(), first);
    f.jump(SESSION_TIMEOUT_MS);
    other.track("late");
    assert.notEqual(other.getSessionId(), first);
    assert.equal(tme.getSessionId(), other.getSessionId());
  });
});

describe("batching", () => {
  it("waits about a second and sends all queued events in one request", async () => {
    const { f, tme } = start();
    tme.track("a");
    tme.track("b");
    await f.advance(999);
    assert.equal(f.requests.length, 0);
    await f.advance(1);
    assert.equal(f.requests.length, 1);
    assert.deepEqual(f.requests[0].body.batch.map((e) => e.event || e.type), ["page", "a", "b"]);
  });

  it("sends at once when 20 events are queued, in batches of at most 20", async () => {
    const { f, tme } = start({ autoPage: false });
    for (let i = 0; i < 45; i++) tme.track("e" + i);
    await f.settle();
    assert.equal(f.requests.length, 1);
    assert.equal(f.requests[0].body.batch.length, 20);
    await f.advance(0);
    assert.equal(f.requests.length, 2);
    assert.equal(f.requests[1].body.batch.length, 20);
    await f.advance(1000);
    assert.equal(f.requests.length, 3);
    assert.equal(f.requests[2].body.batch.length, 5);
    assert.deepEqual(f.sent().map((e) => e.event), Array.from({ length: 45 }, (_, i) => "e" + i));
  });

  it("hands the queue to sendBeacon as text when the page is hidden or unloaded", async () => {
    const { f, tme } = start();
    tme.track("leaving");
    f.hide();
    assert.equal(f.beacons.length, 1);
    assert.equal(f.beacons[0].url, "https://tme.example/v1/batch");
    assert.equal(f.beacons[0].body.writeKey, KEY);
    assert.deepEqual(f.beacons[0].body.batch.map((e) => e.event || e.type), ["page", "leaving"]);
    await f.advance(5000);
    assert.equal(f.requests.length, 0, "nothing is sent twice");
    tme.track("last");
    f.pagehide();
    assert.equal(f.beacons.length, 2);
    assert.equal(f.beacons[1].body.batch[0].event, "last");
  });

  it("falls back to fetch keepalive when sendBeacon refuses", () => {
    const { f, tme } = start();
    f.w.navigator.sendBeacon = () => false;
    tme.track("x");
    f.pagehide();
    assert.equal(f.requests.length, 1);
    assert.equal(f.requests[0].init.keepalive, true);
  });
});

describe("retry", () => {
  it("retries a network error with exponential backoff, resending the same messageIds", async () => {
    const { f, tme } = start();
    tme.track("x");
    f.answers.push({ networkError: true }, { networkError: true }, { networkError: true }, { status: 200 });
    await f.advance(1000);
    assert.equal(f.requests.length, 1);
    const times = [];
    await f.advance(60_000);
    for (const r of f.requests) times.push(r.at);
    const gaps = times.slice(1).map((t, i) => t - times[i]);
    assert.deepEqual(gaps, [1000, 2000, 4000], "1 s, 2 s, 4 s (jitter pinned at its middle)");
    assert.equal(f.requests.length, 4);
    for (const r of f.requests) assert.deepEqual(ids(r.body.batch), ids(f.requests[0].body.batch));
    await f.advance(60_000);
    assert.equal(f.requests.length, 4, "nothing more once accepted");
  });

  it("retries 503 after the server's Retry-After, and 500/429 too", async () => {
    const { f, tme } = start();
    f.answers.push({ status: 503, headers: { "Retry-After": "7" } }, { status: 500 }, { status: 429 }, { status: 200 });
    await f.advance(1000);
    await f.advance(7000);
    assert.equal(f.requests.length, 2);
    assert.equal(f.requests[1].at - f.requests[0].at, 7000);
    await f.advance(60_000);
    assert.equal(f.requests.length, 4);
    assert.deepEqual(new Set(f.requests.map((r) => r.body.batch[0].messageId)).size, 1);
  });

  it("does not retry a 4xx such as an unknown write key or invalid event", async () => {
    const { f, tme } = start();
    f.answers.push({ status: 401 });
    tme.track("x");
    await f.advance(120_000);
    assert.equal(f.requests.length, 1);
  });

  it("events queued during a backoff go out with the retried batch", async () => {
    const { f, tme } = start();
    f.answers.push({ networkError: true });
    await f.advance(1000);
    tme.track("later");
    await f.advance(1000);
    assert.equal(f.requests.length, 2);
    assert.deepEqual(f.requests[1].body.batch.map((e) => e.event || e.type), ["page", "later"]);
  });

  it("gives a batch up after the last attempt but keeps delivering new events", async () => {
    const { f, tme } = start();
    for (let i = 0; i < MAX_ATTEMPTS; i++) f.answers.push({ networkError: true });
    await f.advance(30 * 60_000);
    assert.equal(f.requests.length, MAX_ATTEMPTS);
    tme.track("fresh");
    await f.advance(1000);
    assert.equal(f.requests.length, MAX_ATTEMPTS + 1);
    assert.deepEqual(f.requests.at(-1).body.batch.map((e) => e.event), ["fresh"]);
  });

  it("a page hidden during a backoff beacons the pending batch", async () => {
    const { f, tme } = start();
    f.answers.push({ networkError: true });
    await f.advance(1000);
    f.pagehide();
    assert.equal(f.beacons.length, 1);
    assert.equal(f.beacons[0].body.batch[0].messageId, f.requests[0].body.batch[0].messageId);
    await f.advance(120_000);
    assert.equal(f.requests.length, 1);
  });

  it("backoff doubles up to a minute, with jitter of ±25 %", () => {
    assert.deepEqual([1, 2, 3, 4].map((n) => backoffMs(n, () => 0.5)), [1000, 2000, 4000, 8000]);
    assert.equal(backoffMs(20, () => 0.5), 60_000);
    assert.equal(backoffMs(1, () => 0), 750);
    assert.equal(backoffMs(1, () => 1), 1250);
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    const now = Date.UTC(2026, 0, 1);
    assert.equal(retryAfterMs("30", now), 30_000);
    assert.equal(retryAfterMs(new Date(now + 5000).toUTCString(), now), 5000);
    assert.equal(retryAfterMs("soon", now), null);
    assert.equal(retryAfterMs(null, now), null);
  });
});

describe("page views", () => {
  it("tracks the first page, pushState navigations and back/forward", async () => {
    const { f } = start({}, { url: "https://shop.example/" });
    f.w.history.pushState({}, "", "/pricing");
    f.w.history.pushState({}, "", "/docs?x=1");
    f.popstate("/pricing");
    await f.advance(1000);
    assert.deepEqual(pages(f.sent()), ["/", "/pricing", "/docs", "/pricing"]);
    assert.equal(f.sent()[2].properties.search, "?x=1");
  });

  it("does not count a replaceState to the same URL, a hash change or a state-only update", async () => {
    const { f } = start({}, { url: "https://shop.example/cart" });
    f.w.history.replaceState({ step: 2 }, "");
    f.w.history.replaceState({ step: 3 }, "", "/cart");
    f.w.history.replaceState({}, "", "/cart#totals");
    f.w.history.pushState({}, "", "/cart");
    await f.advance(1000);
    assert.deepEqual(pages(f.sent()), ["/cart"]);
  });

  it("counts a replaceState that changes the path or query", async () => {
    const { f } = start({}, { url: "https://shop.example/search" });
    f.w.history.replaceState({}, "", "/search?q=shoes");
    await f.advance(1000);
    assert.deepEqual(pages(f.sent()), ["/search", "/search"]);
    assert.equal(f.sent()[1].properties.url, "https://shop.example/search?q=shoes");
  });

  it("page() tracks on demand, and autoPage:false leaves page views to the caller", async () => {
    const { f, tme } = start({ autoPage: false });
    f.w.history.pushState({}, "", "/a");
    tme.page({ section: "docs" });
    await f.advance(1000);
    assert.deepEqual(pages(f.sent()), ["/a"]);
    assert.equal(f.sent()[0].properties.section, "docs");
  });
});

describe("opt-out and Do-Not-Track", () => {
  it("optOut() stops all sending and drops the queue, optIn() resumes", async () => {
    const { f, tme } = start();
    tme.track("before");
    tme.optOut();
    assert.equal(tme.isOptedOut(), true);
    tme.track("hidden");
    f.w.history.pushState({}, "", "/secret");
    f.pagehide();
    await f.advance(5000);
    assert.deepEqual(f.sent(), []);
    const reloaded = createTracker({ writeKey: KEY, host: HOST }, f.w);
    assert.equal(reloaded.isOptedOut(), true, "the choice is remembered");
    reloaded.optIn();
    reloaded.track("back");
    await f.advance(1000);
    assert.deepEqual(f.sent().map((e) => e.event), ["back"]);
  });

  it("with respectDnt and Do-Not-Track on, sends nothing and stores no id", async () => {
    const { f, tme } = start({ respectDnt: true }, { dnt: "1" });
    tme.track("x");
    tme.identify("u1");
    await f.advance(5000);
    f.pagehide();
    assert.deepEqual(f.sent(), []);
    assert.deepEqual(Object.keys(f.data), []);
    assert.equal(tme.getAnonymousId(), null);
  });

  it("Do-Not-Track is ignored unless the site asks to respect it", async () => {
    const { f, tme } = start({}, { dnt: "1" });
    tme.track("x");
    await f.advance(1000);
    assert.equal(f.sent().length, 2);
  });
});
