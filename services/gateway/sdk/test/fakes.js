// A fake browser window for the SDK's unit tests: a clock and timers we advance by hand,
// localStorage, location/history (pushState/replaceState/popstate), document visibility,
// navigator.sendBeacon, and a fetch whose answers each test scripts.

export function fakeWindow({ url = "https://shop.example/", start = Date.UTC(2026, 0, 5, 12, 0, 0), dnt, storageThrows } = {}) {
  let clock = start;
  let nextId = 1;
  const timers = new Map();
  const listeners = {};
  const docListeners = {};
  const data = {};
  const requests = [];
  const beacons = [];
  const answers = []; // scripted responses for fetch, consumed in order; default 200
  let loc = new URL(url);

  class FakeDate extends Date {
    constructor(...args) {
      if (args.length === 0) super(clock);
      else super(...args);
    }
    static now() {
      return clock;
    }
  }

  const w = {
    Date: FakeDate,
    Intl,
    crypto: globalThis.crypto,
    screen: { width: 1280, height: 800 },
    navigator: {
      userAgent: "Mozilla/5.0 (X11; Linux x86_64) FakeBrowser/1.0",
      language: "en-GB",
      doNotTrack: dnt,
      sendBeacon(u, body) {
        beacons.push({ url: u, body: JSON.parse(body) });
        return true;
      },
    },
    document: {
      title: "Shop",
      referrer: "https://www.google.com/",
      visibilityState: "visible",
      addEventListener(type, fn) {
        (docListeners[type] ||= []).push(fn);
      },
    },
    get location() {
      return {
        href: loc.href,
        pathname: loc.pathname,
        search: loc.search,
        hash: loc.hash,
        origin: loc.origin,
      };
    },
    history: {
      pushState(_state, _title, u) {
        loc = new URL(u, loc.href);
      },
      replaceState(_state, _title, u) {
        if (u != null) loc = new URL(u, loc.href);
      },
    },
    addEventListener(type, fn) {
      (listeners[type] ||= []).push(fn);
    },
    setTimeout(fn, ms) {
      const id = nextId++;
      timers.set(id, { at: clock + (ms || 0), fn });
      return id;
    },
    clearTimeout(id) {
      timers.delete(id);
    },
    fetch(u, init) {
      requests.push({ url: u, init, body: JSON.parse(init.body), at: clock });
      const answer = answers.length ? answers.shift() : { status: 200 };
      if (answer.networkError) return Promise.reject(new TypeError("Failed to fetch"));
      const headers = new Map(Object.entries(answer.headers || {}).map(([k, v]) => [k.toLowerCase(), v]));
      return Promise.resolve({ status: answer.status, ok: answer.status < 300, headers: { get: (k) => headers.get(k.toLowerCase()) ?? null } });
    },
  };
  if (storageThrows) {
    Object.defineProperty(w, "localStorage", {
      get() {
        throw new Error("SecurityError");
      },
    });
  } else {
    w.localStorage = {
      getItem: (k) => (k in data ? data[k] : null),
      setItem: (k, v) => {
        data[k] = String(v);
      },
      removeItem: (k) => {
        delete data[k];
      },
    };
  }

  /** Let pending promise callbacks run. */
  async function settle() {
    for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
  }

  return {
    w,
    data,
    requests,
    beacons,
    answers,
    timers,
    settle,
    /** Advance the clock by ms, running due timers (and the promises they start) in order. */
    async advance(ms) {
      const until = clock + ms;
      for (;;) {
        await settle();
        let due = null;
        for (const [id, t] of timers) if (t.at <= until && (!due || t.at < due[1].at)) due = [id, t];
        if (!due) break;
        timers.delete(due[0]);
        clock = Math.max(clock, due[1].at);
        due[1].fn();
      }
      clock = until;
      await settle();
    },
    /** Move the clock without running timers (time passing while the page sleeps). */
    jump(ms) {
      clock += ms;
    },
    now: () => clock,
    /** Browser back/forward to url. */
    popstate(u) {
      loc = new URL(u, loc.href);
      for (const fn of listeners.popstate || []) fn({});
    },
    hide() {
      w.document.visibilityState = "hidden";
      for (const fn of docListeners.visibilitychange || []) fn({});
    },
    pagehide() {
      for (const fn of listeners.pagehide || []) fn({});
    },
    /** Every event sent so far, by fetch and by beacon, in order. */
    sent() {
      return [...requests.flatMap((r) => r.body.batch), ...beacons.flatMap((b) => b.body.batch)];
    },
  };
}
