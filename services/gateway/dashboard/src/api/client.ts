// The dashboard's HTTP client: same-origin JSON API, the access token in memory, the refresh
// token in localStorage. A 401 triggers one silent refresh (one at a time across tabs, through
// the Web Locks API, because a refresh token is single-use) and one retry of the request.
import type { ApiErrorBody, Session } from "./types";

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: Record<string, string>;
  readonly retryAfter: number | null;

  constructor(status: number, body: Partial<ApiErrorBody>, retryAfter: number | null = null) {
    super(body.message || `Request failed (${status})`);
    this.status = status;
    this.code = body.code || "error";
    this.fields = body.fields || {};
    this.retryAfter = retryAfter;
  }
}

export type TokenPair = Pick<Session, "accessToken" | "refreshToken" | "expiresIn">;

const REFRESH_KEY = "tme.refreshToken";

let accessToken: string | null = null;
let refreshing: Promise<boolean> | null = null;
const listeners = new Set<() => void>();

/** Called when the session ends (refresh refused, logout here or in another tab). */
export function onSessionEnded(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function endSession() {
  accessToken = null;
  try {
    localStorage.removeItem(REFRESH_KEY);
  } catch {
    /* storage unavailable */
  }
  listeners.forEach((fn) => fn());
}

export function setTokens(pair: TokenPair) {
  accessToken = pair.accessToken;
  try {
    localStorage.setItem(REFRESH_KEY, pair.refreshToken);
  } catch {
    /* storage unavailable: this tab's session lasts until reload */
  }
}

export function hasRefreshToken(): boolean {
  try {
    return !!localStorage.getItem(REFRESH_KEY);
  } catch {
    return false;
  }
}

export function clearTokens() {
  endSession();
}

export function currentAccessToken(): string | null {
  return accessToken;
}

// Another tab logged out (removed the refresh token): end this tab's session as well.
if (typeof window !== "undefined") {
  window.addEventListener("storage", (e) => {
    if (e.key === REFRESH_KEY && e.newValue === null && accessToken) {
      accessToken = null;
      listeners.forEach((fn) => fn());
    }
  });
}

async function doRefresh(): Promise<boolean> {
  let token: string | null = null;
  try {
    token = localStorage.getItem(REFRESH_KEY);
  } catch {
    token = null;
  }
  if (!token) return false;
  let res: Response;
  try {
    res = await fetch("/api/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refreshToken: token }),
    });
  } catch {
    throw new ApiError(0, { code: "network", message: "Cannot reach the server. Check your connection." });
  }
  if (res.status === 401 || res.status === 400) {
    endSession();
    return false;
  }
  if (!res.ok) throw await toError(res);
  setTokens((await res.json()) as TokenPair);
  return true;
}

/** Get a fresh access token with the stored refresh token. False when the session is over. */
export function refresh(): Promise<boolean> {
  if (!refreshing) {
    const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
    const run = locks ? locks.request("tme-auth-refresh", doRefresh) : doRefresh();
    refreshing = Promise.resolve(run).finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

async function toError(res: Response): Promise<ApiError> {
  let body: Partial<ApiErrorBody> = {};
  try {
    const data = await res.json();
    if (data && typeof data === "object" && data.error) body = data.error;
  } catch {
    /* not JSON */
  }
  if (!body.message) {
    body.message =
      res.status >= 500 ? "The server had a problem answering; please try again." : `Request failed (${res.status}).`;
  }
  const ra = res.headers.get("Retry-After");
  return new ApiError(res.status, body, ra && /^\d+$/.test(ra) ? parseInt(ra, 10) : null);
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  query?: Record<string, string | number | boolean | null | undefined>;
  signal?: AbortSignal;
  /** no Authorization header, no refresh (login, register) */
  anonymous?: boolean;
  headers?: Record<string, string>;
}

export function withQuery(path: string, query?: RequestOptions["query"]): string {
  if (!query) return path;
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== "") qs.set(k, String(v));
  }
  const s = qs.toString();
  return s ? `${path}${path.includes("?") ? "&" : "?"}${s}` : path;
}

/** fetch with the access token, refreshing it silently once on a 401. Returns the raw Response. */
export async function authFetch(path: string, opts: RequestOptions = {}): Promise<Response> {
  const url = withQuery(path, opts.query);
  const send = () => {
    const headers: Record<string, string> = { ...(opts.headers || {}) };
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    if (!opts.anonymous && accessToken) headers["Authorization"] = `Bearer ${accessToken}`;
    return fetch(url, {
      method: opts.method || "GET",
      headers,
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
      signal: opts.signal,
    });
  };
  let res: Response;
  try {
    if (!opts.anonymous && !accessToken && hasRefreshToken()) await refresh();
    res = await send();
    if (res.status === 401 && !opts.anonymous) {
      if (await refresh()) res = await send();
      else throw new ApiError(401, { code: "unauthorized", message: "Your session has ended; please log in again." });
    }
  } catch (e) {
    if (e instanceof ApiError || (e instanceof DOMException && e.name === "AbortError")) throw e;
    throw new ApiError(0, { code: "network", message: "Cannot reach the server. Check your connection." });
  }
  if (!res.ok) throw await toError(res);
  return res;
}

export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await authFetch(path, opts);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** Download a response as a file (CSV export): fetched with auth, saved through a blob URL. */
export async function download(path: string, filename: string, opts: RequestOptions = {}): Promise<void> {
  const res = await authFetch(path, opts);
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export interface ServerEvent {
  event: string;
  data: string;
  id: string | null;
}

/**
 * Server-Sent Events over fetch, so the request carries the Authorization header (EventSource
 * cannot). Reconnects with backoff until `signal` aborts, resuming with Last-Event-ID.
 */
export async function streamEvents(
  path: string,
  onEvent: (e: ServerEvent) => void,
  signal: AbortSignal,
  onStatus?: (status: "connecting" | "open" | "retrying", error?: ApiError) => void,
): Promise<void> {
  let lastId: string | null = null;
  let delay = 1000;
  while (!signal.aborted) {
    onStatus?.("connecting");
    try {
      const headers: Record<string, string> = { Accept: "text/event-stream" };
      if (lastId) headers["Last-Event-ID"] = lastId;
      const res = await authFetch(path, { signal, headers });
      onStatus?.("open");
      delay = 1000;
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, "\n");
        let cut: number;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const ev: ServerEvent = { event: "message", data: "", id: null };
          const data: string[] = [];
          for (const line of block.split("\n")) {
            if (!line || line.startsWith(":")) continue;
            const i = line.indexOf(":");
            const field = i < 0 ? line : line.slice(0, i);
            const val = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
            if (field === "data") data.push(val);
            else if (field === "event") ev.event = val;
            else if (field === "id") ev.id = val;
          }
          if (ev.id) lastId = ev.id;
          if (data.length) {
            ev.data = data.join("\n");
            onEvent(ev);
          }
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof ApiError && (e.status === 401 || e.status === 404 || e.status === 400)) {
        onStatus?.("retrying", e);
        return;
      }
      onStatus?.("retrying", e instanceof ApiError ? e : undefined);
    }
    if (signal.aborted) return;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 30_000);
  }
}
