import { retention, stats } from "../api/endpoints";
import type { Project } from "../api/types";
import { FilterChips } from "../components/Controls";
import { Card, CommitInput, EmptyState, ErrorBox, PageTitle, Spinner, useShown } from "../components/ui";
import { formatNumber, formatPercent } from "../format";
import { resolveRange } from "../state/range";
import { useAsync } from "../state/useAsync";
import { useView } from "../state/view";

const PERIODS = ["day", "week", "month"] as const;

function rangeQuery(tz: string) {
  const r = resolveRange("90d", null, null, tz);
  return { from: r.from, to: r.to, tz };
}

export function RetentionPage({ project }: { project: Project }) {
  const { view, update, removeFilter, setFilters } = useView();
  const p = view.params;
  const period = (PERIODS as readonly string[]).includes(p.get("period_unit") || "") ? p.get("period_unit")! : "week";
  const periods = Math.min(52, Math.max(2, Number(p.get("periods")) || 8));
  const [shownPeriod, setShownPeriod] = useShown(period);
  const event = p.get("event") || "";
  const startEvent = p.get("startEvent") || "";
  const tz = view.range.tz;
  const filters = view.filters.length ? JSON.stringify(view.filters) : undefined;
  const names = useAsync((signal) => stats.breakdown(project.id, { ...rangeQuery(tz), by: "event", limit: 100 }, signal), [project.id, tz]);
  const data = useAsync(
    (signal) => retention.get(project.id, { period, periods, tz, event, startEvent, filters }, signal),
    [project.id, period, periods, tz, event, startEvent, filters],
  );
  const cohorts = data.data?.cohorts || [];
  const span = Math.max(0, ...cohorts.map((c) => c.returning.length));

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
            <CommitInput type="number" min={2} max={52} value={String(periods)} onCommit={(v) => update({ periods: v })} className="narrow" />
          </label>
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
      {data.data && cohorts.length === 0 && <EmptyState title="No cohorts yet">Retention appears once people have visited in more than one {period}.</EmptyState>}
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
                    <th scope="row">{c.cohort}</th>
                    <td className="num">{formatNumber(c.size)}</td>
                    {Array.from({ length: span }, (_, i) => {
                      const n = c.returning[i];
                      if (n === undefined) return <td key={i} />;
                      if (!c.size)
                        return (
                          <td key={i} className="num muted">
                            –
                          </td>
                        );
                      const ratio = c.size ? n / c.size : 0;
                      return (
                        <td key={i} className="num heat" style={{ background: `rgba(79, 70, 229, ${0.08 + ratio * 0.8})`, color: ratio > 0.5 ? "#fff" : undefined }} title={`${n} of ${c.size}`}>
                          {formatPercent(ratio)}
                        </td>
                      );
                    })}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Card>
      )}
    </>
  );
}
