export interface User {
  id: number;
  name: string;
  email: string;
  createdAt: string;
}

export interface Project {
  id: number;
  name: string;
  domain: string | null;
  writeKey: string;
  createdAt: string;
}

export interface AuthResponse {
  user: User;
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  project?: Project;
}

export type FilterOp = "eq" | "neq" | "contains" | "set" | "notset";

export interface Filter {
  field: string;
  op: FilterOp;
  value?: string;
}

export interface MetricValue {
  value: number | null;
  previous: number | null;
}

export const METRICS = [
  "visitors",
  "pageviews",
  "sessions",
  "events",
  "bounceRate",
  "avgSessionDuration",
  "viewsPerSession",
] as const;
export type Metric = (typeof METRICS)[number];

/** The summary's cards, and beside them (not a card, not chartable) the bot actions left out of
 * them: 0 when a filter mentions `bot` (absent from an older API). */
export type Summary = Record<Metric, MetricValue> & {
  botEvents?: MetricValue;
  from: string;
  to: string;
  tz: string;
  previousFrom?: string;
  previousTo?: string;
};

export interface TimePoint {
  bucket: string; // local ISO time with offset
  value: number;
}

/** Metrics the timeseries endpoint can chart. */
export const SERIES_METRICS = ["visitors", "pageviews", "sessions", "events"] as const;

export interface Timeseries {
  from: string;
  to: string;
  tz: string;
  metric: string;
  interval: string;
  points: TimePoint[];
}

export interface BreakdownRow {
  value: string | null;
  visitors: number;
  events: number;
  [extra: string]: unknown;
}

export interface Breakdown {
  by: string;
  rows: BreakdownRow[];
  nextCursor?: string | null;
}

export interface FunnelStepDef {
  event: string;
  filters?: Filter[];
}

export interface FunnelStep {
  event: string;
  users: number;
  conversionFromFirst?: number | null;
  conversionFromPrevious?: number | null;
  medianSecondsToConvert?: number | null;
  dropOff?: number | null;
  /** false when no event of this name (bots and filters aside) happened in the range */
  seen?: boolean;
  [extra: string]: unknown;
}

export interface FunnelResult {
  steps: FunnelStep[];
}

export interface Cohort {
  cohort: string;
  size: number;
  returning: number[];
}

export interface Retention {
  cohorts: Cohort[];
  period?: string;
  periods?: number;
}

export interface TrackedEvent {
  messageId: string;
  timestamp: string;
  receivedAt?: string;
  type: string;
  event: string;
  visitorId?: string | null;
  userId?: string | null;
  anonymousId?: string | null;
  sessionId?: string | null;
  url?: string | null;
  path?: string | null;
  referrer?: string | null;
  referrerHost?: string | null;
  source?: string | null;
  utmSource?: string | null;
  utmMedium?: string | null;
  utmCampaign?: string | null;
  browser?: string | null;
  browserVersion?: string | null;
  os?: string | null;
  osVersion?: string | null;
  device?: string | null;
  /** The sending library (context.library.name); "http" when the event named none. */
  library?: string | null;
  appVersion?: string | null;
  locale?: string | null;
  /** Screen size class: mobile | tablet | laptop | desktop. */
  screen?: string | null;
  isBot?: boolean;
  properties?: Record<string, unknown> | null;
  context?: Record<string, unknown> | null;
  traits?: Record<string, unknown> | null;
  [extra: string]: unknown;
}

export interface EventPage {
  events: TrackedEvent[];
  nextCursor?: string | null;
}

export interface Person {
  visitorId: string;
  ids: string[];
  traits: Record<string, unknown>;
  firstSeen: string | null;
  lastSeen: string | null;
  events: TrackedEvent[];
  nextCursor?: string | null;
}

export interface Realtime {
  visitors: number;
  windowSeconds: number;
  events: TrackedEvent[];
}
