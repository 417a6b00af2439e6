import { projectStats, retention, stats } from "../api/endpoints";
import type { Project } from "../api/types";
import { FilterChips } from "../components/Controls";
import { Card, CommitInput, EmptyState, ErrorBox, PageTitle, Spinner, useShown } from "../components/ui";
import { formatNumber, formatPercent } from "../format";
import { addDays, resolveRange, todayIn } from "../state/range";
import { useAsync } from "../state/useAsync";
import { useView } from "../state/view";

const PERIODS = ["day", "week", "month"] as const;
type Period = (typeof PERIODS)[number];
const MAX_PERIODS = 52;
const DEFAULT_PERIODS = 8;

/** The first day (YYYY-MM-DD) of the period holding `day`: ISO weeks start on Monday. */
function periodStart(day: string, period: Period): string {
  if (period === "month") return day.slice(0, 8) + "01";
  if (period === "week") return addDays(day, -((new Date(day + "T00:00:00Z").getUTCDay() + 6) % 7));
  return day;
}

/** The first day of the n-th period after the one starting on `start`. */
function addPeriods(start: string, period: Period, n: number): string {
  if (period === "day") return addDays(start, n);
  if (period === "week") return addDays(start, 7 * n);
  const [y, m] = start.split("-").map(Number);
  const months = y * 12 + (m - 1) + n;
  return `${Math.floor(months / 12)}-${String((months % 12) + 1).padStart(2, "0")}-01`;
}

function rangeQuery(tz: string) {
  const r = resolveRange("90d", null, null, tz);
  return { from: r.from, to: r.to, tz };
}

export function RetentionPage({ project }: { project: Project }) {
  const { view, update, removeFilter, setFilters } = useView();
  const p = view.params;
  const period: Period = (PERIODS as readonly string[]).includes(p.get("period_unit") || "") ? (p.get("period_unit") as Period) : "week";
  const asked = Number(p.get("periods")) || DEFAULT_PERIODS;
  const periods = Math.min(MAX_PERIODS, Math.max(2, Math.round(asked)));
  const [shownPeriod, setShownPeriod] = useShown<string>(period);
  const event = p.get("event") || "";
  const startEvent = p.get("startEvent") || "";
  const tz = view.range.tz;
  const filters = view.filters.length ? JSON.stringify(view.filters) : undefined;
  const names = useAsync((signal) => stats.breakdown(projectStats(project.id), { ...rangeQuery(tz), by: "event", limit: 100 }, signal), [project.id, tz]);
  const data = useAsync(
    (signal) => retention.get(project.id, { period, periods, tz, event, startEvent, filters }, signal),
    [project.id, period, periods, tz, event, startEvent, filters],
  );
  // cohorts before the first one with people are noise (the project did not exist yet)
  const all = data.data?.cohorts || [];
  const firstPeopled = all.findIndex((c) => c.size > 0);
  const cohorts = firstPeopled < 0 ? [] : all.slice(firstPeopled);
  const span = Math.max(0, ...cohorts.map((c) => c.returning.length));
  // the period still running (today's): its figures are still growing
  const current = periodStart(todayIn(tz), period);

  return (
    <>
      <PageTitle>Retention</PageTitle>
      <FilterChips filters={view.filters} onRemove={removeFilter} onClear={() => setFilters([])} />
      <Card>
        <div className="row-actions">
          <label className="inline-label">
            Cohorts by
            <select
              aria-label="Cohorts by"
              value={shownPeriod}
              onChange={(e) => {
                setShownPeriod(e.target.value);
                update({ period_unit: e.target.value });
              }}
            >
              {PERIODS.map((x) => (
                <option key={x} value={x}>
                  first {x}
                </option>
              ))}
            </select>
          </label>
          <label className="inline-label">
            Periods
            <CommitInput type="number" min={2} max={MAX_PERIODS} value={String(periods)} onCommit={(v) => update({ periods: v })} className="narrow" />
          </label>
          {periods !== asked && (
            <p className="warning" role="status" data-testid="periods-note">
              Showing {periods} periods: the table shows from 2 to {MAX_PERIODS} (you asked for {p.get("periods")}).
            </p>
          )}
          <label className="inline-label">
            First event
            <CommitInput list="ret-events" placeholder="any event" value={startEvent} onCommit={(v) => update({ startEvent: v })} />
          </label>
          <label className="inline-label">
            Returning on
            <CommitInput list="ret-events" placeholder="any event" value={event} onCommit={(v) => update({ event: v })} />
          </label>
          <datalist id="ret-events">
            {(names.data?.rows || []).map((r) => r.value && <option key={r.value} value={r.value} />)}
          </datalist>
        </div>
      </Card>
      {data.loading && !data.data && <Spinner label="Computing retention…" />}
      {data.error && <ErrorBox error={data.error} onRetry={data.reload} />}
      {data.data && cohorts.length === 0 && (
        <EmptyState title="No one to follow yet">
          Nobody {startEvent ? `did “${startEvent}”` : "visited"} in the last {periods} {period}s. Retention appears once people arrive, and
          fills in as they come back in the {period}s after.
        </EmptyState>
      )}
      {cohorts.length > 0 && (
        <Card title={`Returning ${event ? `on “${event}”` : "visitors"} by ${period}`}>
          <div className="table-scroll">
            <table className="table retention" data-testid="retention">
              <thead>
                <tr>
                  <th scope="col">Cohort</th>
                  <th scope="col" className="num">
                    People
                  </th>
                  {Array.from({ length: span }, (_, i) => (
                    <th scope="col" key={i} className="num">
                      {period[0].toUpperCase()}
                      {i}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {cohorts.map((c) => (
                  <tr key={c.cohort}>
                    <th scope="row">
                      {c.cohort}
                      {c.cohort === current && <span className="muted"> (so far)</span>}
                    </th>
                    <td className="num">{formatNumber(c.size)}</td>
                    {Array.from({ length: span }, (_, i) => {
                      const n = c.returning[i];
                      if (n === undefined) return <td key={i} />;
                      const partial = addPeriods(c.cohort, period, i) === current;
                      if (!c.size)
                        return (
                          <td key={i} className={`num muted${partial ? " partial" : ""}`} data-partial={partial || undefined}
                            title={partial ? `this ${period} is not over` : undefined}>
                            –
                          </td>
                        );
                      const ratio = c.size ? n / c.size : 0;
                      return (
                        <td
                          key={i}
                          className={`num heat${partial ? " partial" : ""}`}
                          data-partial={partial || undefined}
                          style={{ background: `rgba(79, 70, 229, ${0.08 + ratio * 0.8})`, color: ratio > 0.5 ? "#fff" : undefined }}
                          title={`${n} of ${c.size}${partial ? ` so far: this ${period} is not over` : ""}`}
                        >
                          {formatPercent(ratio)}
                          {partial && <span className="sr-only"> so far (this {period} is not over)</span>}
                        </td>
                      );
                    })}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p className="muted legend" data-testid="retention-legend">
            <span className="partial-swatch" aria-hidden="true" /> This {period} is not over: its column is still filling in.
          </p>
        </Card>
      )}
    </>
  );
}
