// How the dashboard names and places an event from the explorer API.
import type { TrackedEvent } from "./api/types";

export function eventName(e: TrackedEvent): string {
  return e.event || e.type || "event";
}

export function eventLabel(e: TrackedEvent): string {
  const n = eventName(e);
  return n === "PAGE_VIEW" ? "a page view" : `“${n}”`;
}

export function eventTime(e: TrackedEvent): string | undefined {
  return e.timestamp || e.receivedAt;
}

export function eventPath(e: TrackedEvent): string | null {
  if (e.path) return e.path;
  if (!e.url) return null;
  try {
    return new URL(e.url, "http://x").pathname;
  } catch {
    return e.url;
  }
}

export function personId(e: TrackedEvent): string | null {
  return e.visitorId || e.userId || e.anonymousId || null;
}
