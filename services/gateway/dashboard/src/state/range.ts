// Date ranges in a time zone, as the API takes them: `from`/`to` ISO dates, `to` inclusive.

export const PRESETS = [
  { id: "today", label: "Today", days: 1 },
  { id: "7d", label: "Last 7 days", days: 7 },
  { id: "30d", label: "Last 30 days", days: 30 },
  { id: "90d", label: "Last 90 days", days: 90 },
] as const;

export type PresetId = (typeof PRESETS)[number]["id"] | "custom";

export interface DateRange {
  period: PresetId;
  from: string; // YYYY-MM-DD, inclusive
  to: string; // YYYY-MM-DD, inclusive
  tz: string;
}

export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export function timeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (k: string) => string[] };
  const zones = intl.supportedValuesOf ? intl.supportedValuesOf("timeZone") : [];
  return zones.includes("UTC") ? zones : ["UTC", ...zones];
}

/** Today's date (YYYY-MM-DD) in a time zone. */
export function todayIn(tz: string, now: Date = new Date()): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" }).format(
    now,
  );
}

const DAY = 86_400_000;

export function addDays(date: string, days: number): string {
  const t = Date.parse(date + "T00:00:00Z") + days * DAY;
  return new Date(t).toISOString().slice(0, 10);
}

export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(to + "T00:00:00Z") - Date.parse(from + "T00:00:00Z")) / DAY) + 1;
}

export const isDate = (s: string | null | undefined): s is string =>
  !!s && /^\d{4}-\d{2}-\d{2}$/.test(s) && !isNaN(Date.parse(s + "T00:00:00Z"));

/** The range a URL describes: a preset (relative to today in tz) or custom from/to. */
export function resolveRange(period: string | null, from: string | null, to: string | null, tz: string): DateRange {
  const preset = PRESETS.find((p) => p.id === period);
  if (period === "custom" && isDate(from) && isDate(to)) {
    return from <= to ? { period: "custom", from, to, tz } : { period: "custom", from: to, to: from, tz };
  }
  const p = preset || PRESETS[1];
  const today = todayIn(tz);
  return { period: p.id, from: addDays(today, -(p.days - 1)), to: today, tz };
}

/** The period of the same length just before. */
export function previousRange(r: DateRange): { from: string; to: string } {
  const n = daysBetween(r.from, r.to);
  return { from: addDays(r.from, -n), to: addDays(r.from, -1) };
}

export function formatDay(date: string, opts: Intl.DateTimeFormatOptions = { month: "short", day: "numeric" }): string {
  return new Date(date + "T12:00:00Z").toLocaleDateString(undefined, { ...opts, timeZone: "UTC" });
}

export function describeRange(r: DateRange): string {
  const preset = PRESETS.find((p) => p.id === r.period);
  if (preset) return preset.label;
  return r.from === r.to ? formatDay(r.from, { year: "numeric", month: "short", day: "numeric" }) : `${formatDay(r.from)} – ${formatDay(r.to, { year: "numeric", month: "short", day: "numeric" })}`;
}

/** Default bucket size for a range: hours for a day or two, days up to ~3 months, weeks beyond. */
export function defaultInterval(r: DateRange): "hour" | "day" | "week" {
  const n = daysBetween(r.from, r.to);
  if (n <= 2) return "hour";
  if (n <= 120) return "day";
  return "week";
}
