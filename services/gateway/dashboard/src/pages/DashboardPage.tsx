import { useMemo } from "react";
import { Link } from "react-router";

import { events, projectStats, stats, type StatsSource } from "../api/endpoints";
import { METRICS, SERIES_METRICS, type Filter, type Metric, type Project, type Summary } from "../api/types";
import { BreakdownPanel } from "../components/Breakdown";
import { AddFilter, FilterChips, RangePicker } from "../components/Controls";
import { TimeChart, type ChartSeries } from "../components/TimeChart";
import { Card, EmptyState, ErrorBox, PageTitle, Spinner, useShown } from "../components/ui";
import { LOWER_IS_BETTER, METRIC_LABELS, describeChange, formatMetric, formatNumber } from "../format";
import { describeRange, previousRange } from "../state/range";
import { useAsync } from "../state/useAsync";
import { analyticsQuery, useView } from "../state/view";

function SummaryCards({ summary, compare, metric, onMetric }: { summary: Summary; compare: boolean; metric: Metric; onMetric: (m: Metric) => void }) {
  return (
    <div className="cards" data-testid="summary">
      {METRICS.map((m) => {
        const v = summary[m];
        const { text, delta } = describeChange(v?.value, v?.previous);
        const good = delta === null || delta === 0 ? null : LOWER_IS_BETTER.has(m) ? delta < 0 : delta > 0;
        const chartable = (SERIES_METRICS as readonly string[]).includes(m);
        const body = (
          <>
            <span className="stat-label">{METRIC_LABELS[m]}</span>
            <span className="stat-value" data-testid={`stat-${m}`}>
              {formatMetric(m, v?.value)}
            </span>
            {compare && (
              <span
                className={`stat-change ${good === null ? "" : good ? "up" : "down"}`}
                title={delta === null ? "Nothing to compare with: the previous period has no data" : undefined}
              >
                {text}
                <span className="sr-only">
                  {delta === null ? " (the previous period has no data to compare with)" : ` compared with the previous period (${formatMetric(m, v?.previous)})`}
                </span>
              </span>
            )}
          </>
        );
        return chartable ? (
          <button key={m} type="button" className={`stat${m === metric ? " selected" : ""}`} aria-pressed={m === metric} onClick={() => onMetric(m)} title={`Chart ${METRIC_LABELS[m].toLowerCase()}`}>
            {body}
          </button>
        ) : (
          <div key={m} className="stat">
            {body}
          </div>
        );
      })}
    </div>
  );
}

/** How many bot actions the figures above leave out: a quiet line, absent when there are none. */
function BotNote({ count }: { count: number | null | undefined }) {
  if (!count) return null;
  const why =
    "Crawlers, headless browsers and uptime monitors are left out of these figures. Only the person's browser agent is judged: events sent by your servers and apps are never counted as bots.";
  return (
    <p className="bot-note muted" data-testid="bot-note" title={why}>
      {formatNumber(count)} bot {count === 1 ? "event" : "events"} left out
      <span className="sr-only">. {why}</span>
    </p>
  );
}

function epoch(bucket: string): number {
  return Math.floor(new Date(bucket).getTime() / 1000);
}

function useChart(source: StatsSource, query: Record<string, string>, prev: Record<string, string> | null, metric: string, interval: string) {
  return useAsync(
    async (signal) => {
      const [cur, before] = await Promise.all([
        stats.timeseries(source, { ...query, metric, interval }, signal),
        prev ? stats.timeseries(source, { ...prev, metric, interval }, signal) : Promise.resolve(null),
      ]);
      // buckets that start after now (the rest of today) have no data yet, not zero: not drawn
      const now = Date.now() / 1000;
      const points = cur.points || [];
      const times = points.map((p) => epoch(p.bucket));
      const series: ChartSeries = {
        times,
        values: points.map((p, i) => (times[i] > now ? null : p.value)),
      };
      if (before) series.previous = points.map((_, i) => before.points?.[i]?.value ?? null);
      return series;
    },
    [source.key, JSON.stringify(query), JSON.stringify(prev), metric, interval],
  );
}

const PAGE_TABS = [
  { by: "page", label: "Top pages" },
  { by: "entryPage", label: "Entry" },
  { by: "exitPage", label: "Exit" },
];
const SOURCE_TABS = [
  { by: "source", label: "Sources" },
  { by: "referrer", label: "Referrers" },
  { by: "utmSource", label: "UTM source" },
  { by: "utmMedium", label: "Medium" },
  { by: "utmCampaign", label: "Campaign" },
];
const TECH_TABS = [
  { by: "browser", label: "Browser" },
  { by: "os", label: "OS" },
  { by: "device", label: "Device" },
  { by: "screen", label: "Screen" },
  { by: "locale", label: "Language" },
  { by: "appVersion", label: "App version" },
];
const SENDER_TABS = [{ by: "library", label: "Sent by" }];

function PropertyKeyPicker({ projectId, query, value, onChange }: { projectId: number; query: Record<string, string>; value: string; onChange: (k: string) => void }) {
  const sample = useAsync((signal) => events.list(projectId, { ...query, limit: 100 }, signal), [projectId, JSON.stringify(query)]);
  const keys = useMemo(() => {
    const found = new Set<string>();
    for (const e of sample.data?.events || []) {
      if (e.type !== "track") continue;
      for (const k of Object.keys(e.properties || {})) found.add(k);
    }
    return [...found].sort();
  }, [sample.data]);
  return (
    <div className="prop-picker">
      <label className="inline-label">
        Property
        <input list="prop-keys" placeholder={keys[0] || "e.g. plan"} value={value} onChange={(e) => onChange(e.target.value)} />
      </label>
      <datalist id="prop-keys">
        {keys.map((k) => (
          <option key={k} value={k} />
        ))}
      </datalist>
      {!value && keys.length > 0 && (
        <span className="muted">
          Seen:{" "}
          {keys.slice(0, 6).map((k) => (
            <button key={k} type="button" className="link-button" onClick={() => onChange(k)}>
              {k}
            </button>
          ))}
        </span>
      )}
    </div>
  );
}

export function DashboardPage({ project }: { project: Project }) {
  const source = useMemo(() => projectStats(project.id), [project.id]);
  return <DashboardView source={source} project={project} />;
}

interface DashboardViewProps {
  source: StatsSource;
  /** The signed-in project's own page: its setup link when empty, and custom properties (found through the event explorer). */
  project?: Project;
  /** The page's title (default "Dashboard"). */
  title?: string;
  /** The dimensions a filter may be added on (a shared dashboard's); default: all. */
  filterFields?: readonly string[];
}

/** The dashboard: summary cards, the chart and the breakdowns of `source`, with its range and filter controls. */
export function DashboardView({ source, project, title = "Dashboard", filterFields }: DashboardViewProps) {
  const { view, update, addFilter, removeFilter, setFilters } = useView();
  const query = useMemo(() => analyticsQuery(view), [view]);
  const prevQuery = useMemo(() => (view.compare ? { ...query, ...previousRange(view.range) } : null), [query, view.compare, view.range]);
  const chartMetric = (SERIES_METRICS as readonly string[]).includes(view.metric) ? view.metric : "visitors";
  const summary = useAsync((signal) => stats.summary(source, query, signal), [source.key, JSON.stringify(query)]);
  const chart = useChart(source, query, prevQuery, chartMetric, view.interval);
  const fmt = useMemo(() => (v: number | null) => formatNumber(v, true), []);
  const p = view.params;
  const propKey = p.get("prop") || "";
  const [interval, setShownInterval] = useShown(view.interval);
  const empty = summary.data && !summary.data.events?.value && !summary.data.events?.previous && !view.filters.length;

  return (
    <>
      <PageTitle actions={<RangePicker range={view.range} compare={view.compare} onChange={update} />}>{title}</PageTitle>
      <div className="filters-row">
        <FilterChips filters={view.filters} onRemove={removeFilter} onClear={() => setFilters([])} />
        <AddFilter onAdd={addFilter} fields={filterFields} />
      </div>
      {summary.error && <ErrorBox error={summary.error} onRetry={summary.reload} />}
      {!summary.data && summary.loading && <Spinner label="Loading statistics…" />}
      {empty && (
        <EmptyState
          title={`No events in ${describeRange(view.range).toLowerCase()}`}
          action={
            project && (
              <Link className="btn btn-primary" to={`/projects/${project.id}/setup`}>
                Set up tracking
              </Link>
            )
          }
        >
          {project ? "Add the tracking script to your site (or send events with any Segment library) and they show up here within seconds. Or pick a longer date range." : "Pick a longer date range."}
        </EmptyState>
      )}
      {summary.data && <SummaryCards summary={summary.data} compare={view.compare} metric={chartMetric as Metric} onMetric={(m) => update({ metric: m })} />}
      {summary.data && <BotNote count={summary.data.botEvents?.value} />}
      <Card
        title={`${METRIC_LABELS[chartMetric as Metric]} · ${describeRange(view.range)}`}
        actions={
          <label className="inline-label">
            <span className="sr-only">Interval</span>
            <select
              aria-label="Interval"
              value={interval}
              onChange={(e) => {
                setShownInterval(e.target.value);
                update({ interval: e.target.value });
              }}
            >
              {["minute", "hour", "day", "week", "month"].map((i) => (
                <option key={i} value={i}>
                  by {i}
                </option>
              ))}
            </select>
          </label>
        }
      >
        {chart.error && <ErrorBox error={chart.error} onRetry={chart.reload} />}
        {chart.loading && !chart.data && <Spinner />}
        {chart.data && <TimeChart data={chart.data} label={METRIC_LABELS[chartMetric as Metric]} tz={view.range.tz} format={fmt} interval={view.interval} />}
      </Card>
      <div className="grid-2">
        <BreakdownPanel title="Pages" tabs={PAGE_TABS} active={p.get("pages") || "page"} onTab={(by) => update({ pages: by })} source={source} query={query} onFilter={addFilter} />
        <BreakdownPanel title="Sources" tabs={SOURCE_TABS} active={p.get("sources") || "source"} onTab={(by) => update({ sources: by })} source={source} query={query} onFilter={addFilter} emptyHint="Sources come from the referrer and utm_ parameters of the landing page." />
        <BreakdownPanel title="Events" tabs={[{ by: "event", label: "Events" }]} active="event" onTab={() => undefined} source={source} query={query} onFilter={addFilter} emptyHint={<>Send custom events with <code>tme.track("Signup")</code>.</>} />
        <BreakdownPanel title="Devices" tabs={TECH_TABS} active={p.get("tech") || "browser"} onTab={(by) => update({ tech: by })} source={source} query={query} onFilter={addFilter} />
        <BreakdownPanel
          title="Sent by"
          tabs={SENDER_TABS}
          active="library"
          onTab={() => undefined}
          source={source}
          query={query}
          onFilter={addFilter}
          emptyHint="Web, server and app events side by side: each names its library (context.library.name)."
        />
        {project && <CustomProperties source={source} projectId={project.id} query={query} propKey={propKey} onPick={(k) => update({ prop: k })} onFilter={addFilter} />}
      </div>
    </>
  );
}

/** A breakdown by one property of custom events, once a key is picked. */
function CustomProperties({ source, projectId, query, propKey, onPick, onFilter }: { source: StatsSource; projectId: number; query: Record<string, string>; propKey: string; onPick: (k: string) => void; onFilter: (f: Filter) => void }) {
  if (!propKey)
    return (
      <Card title="Custom properties">
        <PropertyKeyPicker projectId={projectId} query={query} value="" onChange={onPick} />
        <p className="muted">Pick a property of your custom events (<code>tme.track("Signup", {"{"} plan: "pro" {"}"})</code>) to break it down.</p>
      </Card>
    );
  return (
    <BreakdownPanel
      title="Custom properties"
      tabs={[{ by: `prop:${propKey}`, label: propKey }]}
      active={`prop:${propKey}`}
      onTab={() => undefined}
      source={source}
      query={query}
      onFilter={onFilter}
      extra={<PropertyKeyPicker projectId={projectId} query={query} value={propKey} onChange={onPick} />}
    />
  );
}
