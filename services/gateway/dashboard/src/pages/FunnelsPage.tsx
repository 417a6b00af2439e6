import { useEffect, useMemo, useState, type FormEvent } from "react";

import { funnels, projectStats, stats } from "../api/endpoints";
import type { FunnelStepDef, Project } from "../api/types";
import { FilterChips, RangePicker } from "../components/Controls";
import { Card, EmptyState, ErrorBox, PageTitle, Spinner, useShown } from "../components/ui";
import { formatDuration, formatNumber, formatPercent } from "../format";
import { useAsync } from "../state/useAsync";
import { analyticsQuery, useView } from "../state/view";

const WINDOWS = [
  { s: 3600, label: "1 hour" },
  { s: 86400, label: "1 day" },
  { s: 7 * 86400, label: "7 days" },
  { s: 30 * 86400, label: "30 days" },
];

interface DraftStep {
  event: string;
  field: string; // optional step filter: page or prop:<key>
  value: string;
}

function parseSteps(raw: string | null): FunnelStepDef[] {
  if (!raw) return [];
  try {
    const data = JSON.parse(raw);
    return Array.isArray(data) ? data.filter((s) => s && typeof s.event === "string") : [];
  } catch {
    return [];
  }
}

function toDraft(steps: FunnelStepDef[]): DraftStep[] {
  const d = steps.map((s) => {
    const value = s.filters?.[0]?.value; // the dashboard writes text; a hand-edited link may not
    return { event: s.event, field: s.filters?.[0]?.field || "", value: typeof value === "string" ? value : "" };
  });
  while (d.length < 2) d.push({ event: "", field: "", value: "" });
  return d;
}

function fromDraft(d: DraftStep[]): FunnelStepDef[] {
  return d
    .filter((s) => s.event.trim())
    .map((s) => {
      const step: FunnelStepDef = { event: s.event.trim() };
      if (s.field && s.value.trim()) step.filters = [{ field: s.field, op: "eq", value: s.value.trim() }];
      return step;
    });
}

export function FunnelsPage({ project }: { project: Project }) {
  const { view, update, removeFilter, setFilters } = useView();
  // the steps in the URL: the draft below follows them only when they change (a submitted funnel,
  // a pasted link), not when the range or the window does, so typed steps survive those
  const rawSteps = view.params.get("steps");
  const steps = useMemo(() => parseSteps(rawSteps), [rawSteps]);
  const windowSeconds = Number(view.params.get("window")) || 86400;
  const [shownWindow, setShownWindow] = useShown(windowSeconds);
  const [draft, setDraft] = useState<DraftStep[]>(() => toDraft(steps));
  useEffect(() => setDraft(toDraft(steps)), [steps]);
  const query = analyticsQuery(view);

  const names = useAsync((signal) => stats.breakdown(projectStats(project.id), { ...query, by: "event", limit: 100 }, signal), [project.id, JSON.stringify(query)]);
  const ready = steps.length >= 2;
  const result = useAsync(
    (signal) =>
      ready
        ? funnels.run(project.id, { steps, windowSeconds, from: view.range.from, to: view.range.to, tz: view.range.tz, ...(view.filters.length ? { filters: view.filters } : {}) }, signal)
        : Promise.resolve(null),
    [project.id, JSON.stringify(steps), windowSeconds, JSON.stringify(query)],
  );

  function submit(e: FormEvent) {
    e.preventDefault();
    const s = fromDraft(draft);
    update({ steps: s.length ? JSON.stringify(s) : null });
  }
  const setStep = (i: number, patch: Partial<DraftStep>) => setDraft((d) => d.map((s, j) => (j === i ? { ...s, ...patch } : s)));
  const resultSteps = result.data?.steps || [];
  const first = resultSteps[0]?.users || 0;
  // steps whose event nobody sent in the range (a typo, or the wrong range): said, not a silent 0
  const unseen = resultSteps.filter((s) => s.seen === false).map((s) => s.event);

  return (
    <>
      <PageTitle actions={<RangePicker range={view.range} onChange={update} />}>Funnels</PageTitle>
      <FilterChips filters={view.filters} onRemove={removeFilter} onClear={() => setFilters([])} />
      <Card title="Steps">
        <form onSubmit={submit} className="funnel-form" aria-label="Funnel definition">
          <datalist id="event-names">
            {(names.data?.rows || []).map((r) => r.value && <option key={r.value} value={r.value} />)}
          </datalist>
          <ol className="funnel-steps">
            {draft.map((s, i) => (
              <li key={i} className="funnel-step-edit">
                <label className="inline-label">
                  Step {i + 1}
                  <input list="event-names" className="step-event" placeholder="event, e.g. PAGE_VIEW" value={s.event} onChange={(e) => setStep(i, { event: e.target.value })} aria-label={`Step ${i + 1} event`} />
                </label>
                <label className="inline-label">
                  <span className="sr-only">Step {i + 1} filter field</span>
                  <select aria-label={`Step ${i + 1} filter`} value={s.field} onChange={(e) => setStep(i, { field: e.target.value })}>
                    <option value="">any</option>
                    <option value="page">where page is</option>
                    <option value="url">where URL is</option>
                  </select>
                </label>
                {s.field && <input placeholder="/pricing" value={s.value} aria-label={`Step ${i + 1} filter value`} onChange={(e) => setStep(i, { value: e.target.value })} />}
                {draft.length > 2 && (
                  <button type="button" className="btn btn-ghost btn-small" aria-label={`Remove step ${i + 1}`} onClick={() => setDraft((d) => d.filter((_, j) => j !== i))}>
                    ×
                  </button>
                )}
              </li>
            ))}
          </ol>
          <div className="row-actions">
            {draft.length < 10 && (
              <button type="button" className="btn btn-small" onClick={() => setDraft((d) => [...d, { event: "", field: "", value: "" }])}>
                + Add step
              </button>
            )}
            <label className="inline-label">
              Conversion window
              <select
                aria-label="Conversion window"
                value={shownWindow}
                onChange={(e) => {
                  setShownWindow(Number(e.target.value));
                  update({ window: e.target.value });
                }}
              >
                {WINDOWS.map((w) => (
                  <option key={w.s} value={w.s}>
                    {w.label}
                  </option>
                ))}
              </select>
            </label>
            <button type="submit" className="btn btn-primary" disabled={fromDraft(draft).length < 2}>
              Show funnel
            </button>
          </div>
        </form>
      </Card>
      {!ready && <EmptyState title="Build a funnel">Choose at least two events in the order people do them (for example PAGE_VIEW then Signup) and press “Show funnel”.</EmptyState>}
      {ready && result.loading && !result.data && <Spinner label="Computing funnel…" />}
      {result.error && <ErrorBox error={result.error} onRetry={result.reload} />}
      {result.data && (
        <Card title="Conversion">
          {unseen.length > 0 && (
            <p className="warning" role="status" data-testid="funnel-unseen">
              {unseen.map((e) => `“${e}”`).join(", ")}: no such event in this range. Check the spelling (names are case-sensitive) or pick a longer range.
            </p>
          )}
          {first === 0 ? (
            <EmptyState title="Nobody did the first step in this range">Try a longer date range or check the event name.</EmptyState>
          ) : (
            <ol className="funnel-result" data-testid="funnel-result">
              {resultSteps.map((s, i) => (
                <li key={i} className="funnel-bar-row">
                  <div className="funnel-label">
                    <strong>
                      {i + 1}. {s.event}
                    </strong>
                    {s.seen === false && <span className="badge badge-warn">no such event in this range</span>}
                    <span>
                      {formatNumber(s.users)} {s.users === 1 ? "person" : "people"} · {formatPercent(s.conversionFromFirst, 1)} of step 1
                    </span>
                  </div>
                  <div className="funnel-bar" aria-hidden="true">
                    <span style={{ width: `${first ? ((s.users || 0) / first) * 100 : 0}%` }} />
                  </div>
                  {i > 0 && (
                    <div className="funnel-meta muted">
                      {formatPercent(s.conversionFromPrevious, 1)} from previous step · {formatNumber(s.dropOff ?? 0)} dropped off
                      {s.medianSecondsToConvert != null ? ` · median ${formatDuration(s.medianSecondsToConvert)} to convert` : ""}
                    </div>
                  )}
                </li>
              ))}
            </ol>
          )}
        </Card>
      )}
    </>
  );
}
