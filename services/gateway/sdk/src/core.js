// tme.js core: identity (anonymous id, user id, session), event building, queue, batching,
// delivery with retry/backoff and sendBeacon on page hide, automatic and SPA page views.
// Every browser global is reached through `w` (the window), so tests can hand in a fake one.

export const VERSION = typeof __TME_VERSION__ === "string" ? __TME_VERSION__ : "0.0.0-dev";

export const SESSION_TIMEOUT_MS = 30 * 60 * 1000;
export const MAX_BATCH = 20;
export const FLUSH_INTERVAL_MS = 1000;
export const MAX_QUEUE = 1000;
export const MAX_ATTEMPTS = 10;
export const MAX_BACKOFF_MS = 60 * 1000;
const BEACON_MAX_BYTES = 60000;
const KEY = { anon: "tme.aid", user: "tme.uid", session: "tme.sid", optOut: "tme.optout" };

/** A random v4 UUID: crypto.randomUUID, else getRandomValues, else Math.random. */
export function uuid(w) {
  const c = w.crypto;
  if (c && c.randomUUID) return c.randomUUID();
  const b = new Uint8Array(16);
  if (c && c.getRandomValues) c.getRandomValues(b);
  else for (let i = 0; i < 16; i++) b[i] = (Math.random() * 256) | 0;
  b[6] = (b[6] & 15) | 64;
  b[8] = (b[8] & 63) | 128;
  const h = Array.from(b, (x) => (x + 256).toString(16).slice(1)).join("");
  return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
}

/** localStorage when usable (it throws in some privacy modes), else memory for this page. */
function storage(w) {
  const mem = {};
  let ls = null;
  try {
    ls = w.localStorage;
    ls.setItem("tme.t", "1");
    ls.removeItem("tme.t");
  } catch (e) {
    ls = null;
  }
  return {
    get: (k) => {
      try {
        return ls ? ls.getItem(k) : k in mem ? mem[k] : null;
      } catch (e) {
        return null;
      }
    },
    set: (k, v) => {
      try {
        if (ls) ls.setItem(k, v);
        else mem[k] = v;
      } catch (e) {
        mem[k] = v;
      }
    },
    del: (k) => {
      try {
        if (ls) ls.removeItem(k);
      } catch (e) {
        /* ignore */
      }
      delete mem[k];
    },
  };
}

/** Seconds from a Retry-After header (delta-seconds or an HTTP date), or null. */
export function retryAfterMs(value, now) {
  if (!value) return null;
  if (/^\s*\d+\s*$/.test(value)) return parseInt(value, 10) * 1000;
  const at = Date.parse(value);
  return isNaN(at) ? null : Math.max(0, at - now);
}

/** Delay before attempt `attempt` (1-based retry count): 1 s, 2 s, 4 s ... capped, with jitter. */
export function backoffMs(attempt, random) {
  const base = Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, attempt - 1));
  return Math.round(base * (0.75 + random() * 0.5));
}

/**
 * Create a tracker.
 * options: writeKey (required), host (origin events go to, required), respectDnt, autoPage (default
 * true), flushInterval, maxBatch, random (for tests).
 */
export function createTracker(options, w) {
  const writeKey = options.writeKey;
  if (!writeKey) throw new Error("tme: writeKey is required");
  if (!options.host) throw new Error("tme: host is required (the origin of your TME server)");
  const endpoint = String(options.host).replace(/\/+$/, "") + "/v1/batch";
  const flushInterval = options.flushInterval || FLUSH_INTERVAL_MS;
  const maxBatch = options.maxBatch || MAX_BATCH;
  const random = options.random || Math.random;
  const now = () => w.Date.now();
  const nav = w.navigator || {};
  const doc = w.document;
  const store = storage(w);

  const dnt =
    !!options.respectDnt &&
    (nav.doNotTrack === "1" || nav.doNotTrack === "yes" || w.doNotTrack === "1" || nav.globalPrivacyControl === true);

  let queue = [];
  let timer = null; // pending flush (interval or backoff)
  let attempts = 0; // failed tries of the batch at the head of the queue
  let sending = false;
  let retrying = false; // the pending timer is a backoff wait, not the batching interval
  let lastPageKey = null;

  const disabled = () => dnt || store.get(KEY.optOut) === "1";

  function anonymousId() {
    let id = store.get(KEY.anon);
    if (!id) {
      id = uuid(w);
      store.set(KEY.anon, id);
    }
    return id;
  }

  /** The current session id; a new one after 30 minutes without events. Touches activity. */
  function sessionId() {
    const t = now();
    let s = null;
    try {
      s = JSON.parse(store.get(KEY.session) || "null");
    } catch (e) {
      s = null;
    }
    if (!s || typeof s.id !== "string" || !(t - s.t < SESSION_TIMEOUT_MS) || s.t > t + 60000) {
      s = { id: uuid(w) };
    }
    s.t = t;
    store.set(KEY.session, JSON.stringify(s));
    return s.id;
  }

  function pageInfo() {
    const loc = w.location;
    return {
      path: loc.pathname,
      url: loc.href,
      search: loc.search,
      referrer: (doc && doc.referrer) || "",
      title: (doc && doc.title) || "",
    };
  }

  function context(page, sid) {
    const ctx = {
      page,
      userAgent: nav.userAgent,
      locale: nav.language,
      library: { name: "tme.js", version: VERSION },
      sessionId: sid,
    };
    try {
      ctx.timezone = w.Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (e) {
      /* ignore */
    }
    if (w.screen) ctx.screen = { width: w.screen.width, height: w.screen.height };
    return ctx;
  }

  function enqueue(fields) {
    if (disabled()) return;
    const sid = sessionId();
    const page = pageInfo();
    const ev = Object.assign(
      {
        messageId: uuid(w),
        anonymousId: anonymousId(),
        sessionId: sid,
        context: context(page, sid),
        timestamp: new w.Date(now()).toISOString(),
      },
      fields,
    );
    const userId = store.get(KEY.user);
    if (userId && ev.userId == null) ev.userId = userId;
    queue.push(ev);
    if (queue.length > MAX_QUEUE) queue.splice(0, queue.length - MAX_QUEUE);
    if (queue.length >= maxBatch && !sending && !retrying) flush();
    else schedule(flushInterval);
  }

  function schedule(ms) {
    if (timer || sending) return;
    timer = w.setTimeout(() => {
      timer = null;
      retrying = false;
      flush();
    }, ms);
  }

  function body(events) {
    return JSON.stringify({ writeKey, batch: events, sentAt: new w.Date(now()).toISOString() });
  }

  /** Send the head of the queue; on success go on while events remain; on failure back off. */
  function flush() {
    if (timer) {
      w.clearTimeout(timer);
      timer = null;
    }
    retrying = false;
    if (sending || !queue.length) return Promise.resolve();
    if (disabled()) {
      queue = [];
      return Promise.resolve();
    }
    sending = true;
    const batch = queue.splice(0, maxBatch);
    const text = body(batch);
    let delay = null;
    return w
      .fetch(endpoint, {
        method: "POST",
        // text/plain keeps this a "simple" CORS request: no preflight round trip
        headers: { "Content-Type": "text/plain" },
        body: text,
        keepalive: text.length < BEACON_MAX_BYTES,
        credentials: "omit",
      })
      .then(
        (res) => {
          const s = res.status;
          if (s === 429 || s >= 500) {
            const hinted = s === 503 || s === 429 ? retryAfterMs(res.headers && res.headers.get("Retry-After"), now()) : null;
            delay = retry(batch, hinted);
          } else {
            attempts = 0; // 2xx, or a 4xx that no retry would fix (bad key, invalid event): drop
          }
        },
        () => {
          delay = retry(batch, null);
        },
      )
      .then(() => {
        sending = false;
        if (delay != null) {
          schedule(delay);
          retrying = true;
        }
        else if (queue.length) schedule(queue.length >= maxBatch ? 0 : flushInterval);
      });
  }

  function retry(batch, hinted) {
    attempts++;
    if (attempts >= MAX_ATTEMPTS) {
      attempts = 0;
      return null; // give this batch up
    }
    queue = batch.concat(queue); // same messageIds: the server drops any duplicate
    return hinted != null ? Math.min(hinted, 10 * MAX_BACKOFF_MS) : backoffMs(attempts, random);
  }

  /** The page is going away (or hidden): hand everything queued to sendBeacon. */
  function beaconAll() {
    if (!queue.length || disabled()) return;
    if (timer) {
      w.clearTimeout(timer);
      timer = null;
    }
    while (queue.length) {
      const batch = queue.splice(0, maxBatch);
      const text = body(batch);
      let sent = false;
      try {
        sent = !!(nav.sendBeacon && text.length < BEACON_MAX_BYTES && nav.sendBeacon(endpoint, text));
      } catch (e) {
        sent = false;
      }
      if (!sent) {
        try {
          w.fetch(endpoint, { method: "POST", headers: { "Content-Type": "text/plain" }, body: text, keepalive: true, credentials: "omit" }).catch(() => {});
        } catch (e) {
          /* ignore */
        }
      }
    }
    attempts = 0;
    retrying = false;
  }

  function pageKey() {
    return w.location.pathname + w.location.search;
  }

  const api = {
    version: VERSION,
    page(properties) {
      lastPageKey = pageKey();
      const p = pageInfo();
      enqueue({ type: "page", properties: Object.assign(p, properties || {}) });
    },
    track(name, properties) {
      if (typeof name !== "string" || !name) throw new Error("tme.track: an event name is required");
      enqueue({ type: "track", event: name, properties: properties || {} });
    },
    identify(userId, traits) {
      if (userId != null && typeof userId === "object" && traits === undefined) {
        traits = userId;
        userId = null;
      }
      if (userId != null && userId !== "" && !disabled()) store.set(KEY.user, String(userId));
      const fields = { type: "identify", traits: traits || {} };
      if (userId != null && userId !== "") fields.userId = String(userId);
      enqueue(fields);
    },
    reset() {
      store.del(KEY.user);
      store.del(KEY.anon);
      store.del(KEY.session);
    },
    optOut() {
      store.set(KEY.optOut, "1");
      queue = [];
      retrying = false;
      if (timer) {
        w.clearTimeout(timer);
        timer = null;
      }
    },
    optIn() {
      store.del(KEY.optOut);
    },
    isOptedOut: disabled,
    flush,
    getAnonymousId: () => (disabled() ? null : anonymousId()),
    getUserId: () => store.get(KEY.user),
    getSessionId: () => {
      try {
        return JSON.parse(store.get(KEY.session) || "null").id;
      } catch (e) {
        return null;
      }
    },
    /** Events waiting to be sent (a copy), for debugging. */
    queued: () => queue.slice(),
  };

  // single-page apps: a page view per new path+query (not for a replaceState to the same URL,
  // nor for hash or history-state-only changes)
  function onNavigate() {
    if (pageKey() !== lastPageKey) api.page();
  }
  if (options.autoPage !== false) {
    const h = w.history;
    if (h) {
      ["pushState", "replaceState"].forEach((m) => {
        const orig = h[m];
        if (typeof orig !== "function") return;
        h[m] = function () {
          const r = orig.apply(this, arguments);
          onNavigate();
          return r;
        };
      });
    }
    w.addEventListener("popstate", onNavigate);
  }
  w.addEventListener("pagehide", beaconAll);
  if (doc && doc.addEventListener) {
    doc.addEventListener("visibilitychange", () => {
      if (doc.visibilityState === "hidden") beaconAll();
    });
  }
  if (options.autoPage !== false) api.page();
  return api;
}
