import type { Metric } from "./api/types";

const nf = new Intl.NumberFormat();
const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });

export function formatNumber(n: number | null | undefined, short = false): string {
  if (n === null || n === undefined || Number.isNaN(n)) return "–";
  return short && Math.abs(n) >= 10_000 ? compact.format(n) : nf.format(n);
}

export function formatPercent(ratio: number | null | undefined, digits = 0): string {
  if (ratio === null || ratio === undefined) return "–";
  return `${(ratio * 100).toFixed(digits)}%`;
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export const METRIC_LABELS: Record<Metric, string> = {
  visitors: "Unique visitors",
  pageviews: "Page views",
  sessions: "Sessions",
  events: "Events",
  bounceRate: "Bounce rate",
  avgSessionDuration: "Visit duration",
  viewsPerSession: "Views per visit",
};

/** Metrics where a fall is good news (for the colour of the change). */
export const LOWER_IS_BETTER: ReadonlySet<Metric> = new Set(["bounceRate"]);

export function formatMetric(metric: Metric, value: number | null | undefined): string {
  if (metric === "bounceRate") return formatPercent(value);
  if (metric === "avgSessionDuration") return formatDuration(value);
  if (metric === "viewsPerSession") return value === null || value === undefined ? "–" : value.toFixed(2);
  return formatNumber(value, true);
}

/** Relative change as a signed percentage, or null when there is nothing to compare. */
export function change(value: number | null | undefined, previous: number | null | undefined): number | null {
  if (value === null || value === undefined || previous === null || previous === undefined) return null;
  if (previous === 0) return value === 0 ? 0 : null;
  return (value - previous) / previous;
}

/** What a comparison card says: "new" when the previous period had nothing to compare with (a
 * percentage over an empty period means nothing), "no data" when this period has none either,
 * else the signed change ("▲ 12%"). */
export function describeChange(value: number | null | undefined, previous: number | null | undefined): {
  text: string;
  delta: number | null;
} {
  const delta = change(value, previous);
  if (delta !== null) return { text: `${delta > 0 ? "▲" : delta < 0 ? "▼" : ""} ${Math.abs(delta * 100).toFixed(0)}%`.trim(), delta };
  const hasValue = value !== null && value !== undefined && value !== 0;
  return { text: hasValue ? "new" : "no data", delta: null };
}

export function formatDateTime(iso: string | null | undefined, tz?: string): string {
  if (!iso) return "–";
  const d = new Date(iso);
  if (isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, {
    timeZone: tz,
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

export function timeAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "";
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (s < 5) return "just now";
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** An id as a person can tell it apart from others: ids that share a long prefix (uuids, the
 * demo's visitors) differ at the end, so a long id shows as "…" and its last 8 characters. */
export function shortId(id: string): string {
  return id.length > 14 ? `…${id.slice(-8)}` : id;
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** A trait or property value as text: ISO date-times in the viewer's words, objects as JSON. */
export function formatValue(v: unknown, tz?: string): string {
  if (typeof v === "string" && ISO_TIME.test(v)) return formatDateTime(v, tz);
  if (v !== null && typeof v === "object") return JSON.stringify(v);
  return String(v);
}
