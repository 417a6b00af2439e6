// How the dashboard names and places an event from the explorer API.
import type { TrackedEvent } from "./api/types";
import { labelAndValue, valueLabel } from "./dimensionValues";
import { shortId } from "./format";

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

function trait(e: TrackedEvent, key: string): string | null {
  for (const source of [e.traits, e.context?.traits as Record<string, unknown> | undefined]) {
    const v = source?.[key];
    if (typeof v === "string" && v.trim()) return v.trim();
  }
  return null;
}

/** Who did it, as a person can tell people apart: a name or email trait the event carries, else the
 * user id, else the distinguishing end of the visitor id (the demo's visitor ids share a prefix). */
export function personLabel(e: TrackedEvent): string | null {
  const named = trait(e, "name") || trait(e, "email");
  if (named) return named;
  if (e.userId) return e.userId;
  const id = personId(e);
  return id ? shortId(id) : null;
}

/** Who sent the event (its library), and the app, language and screen it describes. */
export function senderFields(e: TrackedEvent): [string, string | null | undefined][] {
  return [
    ["Sent by", e.library ? labelAndValue("library", e.library) : null],
    ["App version", e.appVersion],
    ["Locale", e.locale],
    ["Screen", e.screen ? valueLabel("screen", e.screen) : null],
  ];
}
