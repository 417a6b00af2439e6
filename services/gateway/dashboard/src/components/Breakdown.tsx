// A breakdown table (top pages, sources, browsers, ...): rows sorted by visitors with a bar and
// each value's label (dimensionValues.ts), tabs for related dimensions, "load more" through the
// API's cursor. Clicking a row filters the whole view by that (raw) value.
import { useEffect, useState } from "react";

import { stats, type StatsSource } from "../api/endpoints";
import type { BreakdownRow, Filter } from "../api/types";
import { labelAndValue, valueLabel } from "../dimensionValues";
import { formatNumber } from "../format";
import { useAsync } from "../state/useAsync";
import { dimensionLabel } from "./Controls";
import { Card, EmptyState, ErrorBox, Spinner } from "./ui";

const PAGE = 10;

/** The filter a click on a row adds. Entry/exit pages filter on the page itself. */
export function rowFilter(by: string, value: string | null): Filter {
  const field = by === "entryPage" || by === "exitPage" ? "page" : by;
  return value === null ? { field, op: "notset" } : { field, op: "eq", value };
}

export function noneLabel(by: string): string {
  if (by === "referrer" || by === "source") return "Direct / none";
  return "(not set)";
}

function rowTitle(by: string, value: string | null): string {
  return `Filter by ${dimensionLabel(by)}: ${value === null ? noneLabel(by) : labelAndValue(by, value)}`;
}

interface Props {
  title: string;
  tabs: { by: string; label: string }[];
  active: string;
  onTab: (by: string) => void;
  source: StatsSource;
  query: Record<string, string>;
  onFilter: (f: Filter) => void;
  extra?: React.ReactNode;
  emptyHint?: React.ReactNode;
}

export function BreakdownPanel({ title, tabs, active, onTab, source, query, onFilter, extra, emptyHint }: Props) {
  const by = tabs.some((t) => t.by === active) || active.startsWith("prop:") ? active : tabs[0].by;
  const key = JSON.stringify(query) + by;
  const first = useAsync((signal) => stats.breakdown(source, { ...query, by, limit: PAGE }, signal), [source.key, key]);
  const [more, setMore] = useState<{ rows: BreakdownRow[]; cursor: string | null | undefined }>({ rows: [], cursor: undefined });
  const [loadingMore, setLoadingMore] = useState(false);
  useEffect(() => setMore({ rows: [], cursor: undefined }), [key]);

  const rows = [...(first.data?.rows || []), ...more.rows];
  const cursor = more.cursor === undefined ? first.data?.nextCursor : more.cursor;
  const max = Math.max(1, ...rows.map((r) => r.visitors));

  async function loadMore() {
    if (!cursor) return;
    setLoadingMore(true);
    try {
      const page = await stats.breakdown(source, { ...query, by, limit: 50, cursor });
      setMore((m) => ({ rows: [...m.rows, ...(page.rows || [])], cursor: page.nextCursor ?? null }));
    } finally {
      setLoadingMore(false);
    }
  }

  return (
    <Card
      title={title}
      className="breakdown"
      actions={
        tabs.length > 1 ? (
          <div className="tabs" role="tablist" aria-label={`${title} by`}>
            {tabs.map((t) => (
              <button key={t.by} type="button" role="tab" aria-selected={t.by === by} className={t.by === by ? "tab active" : "tab"} onClick={() => onTab(t.by)}>
                {t.label}
              </button>
            ))}
          </div>
        ) : undefined
      }
    >
      {extra}
      {first.loading && !first.data && <Spinner />}
      {first.error && <ErrorBox error={first.error} onRetry={first.reload} />}
      {first.data && rows.length === 0 && <EmptyState title="No data for this range">{emptyHint}</EmptyState>}
      {rows.length > 0 && (
        <table className="table breakdown-table" data-testid={`breakdown-${by}`}>
          <thead>
            <tr>
              <th scope="col">{dimensionLabel(by)}</th>
              <th scope="col" className="num">
                Visitors
              </th>
              <th scope="col" className="num">
                Events
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => (
              <tr key={`${r.value}-${i}`}>
                <td className="bar-cell">
                  <span className="bar" style={{ width: `${(r.visitors / max) * 100}%` }} aria-hidden="true" />
                  <button type="button" className="row-button" title={rowTitle(by, r.value)} onClick={() => onFilter(rowFilter(by, r.value))}>
                    {r.value === null ? <em>{noneLabel(by)}</em> : valueLabel(by, r.value)}
                  </button>
                </td>
                <td className="num">{formatNumber(r.visitors, true)}</td>
                <td className="num">{formatNumber(r.events, true)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cursor && (
        <button type="button" className="btn btn-ghost btn-small" disabled={loadingMore} onClick={loadMore}>
          {loadingMore ? "Loading…" : "Show more"}
        </button>
      )}
    </Card>
  );
}
