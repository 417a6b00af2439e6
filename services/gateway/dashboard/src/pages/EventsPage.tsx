import { useEffect, useState } from "react";

import { ApiError } from "../api/client";
import { events } from "../api/endpoints";
import type { Project, TrackedEvent } from "../api/types";
import { AddFilter, FilterChips, RangePicker } from "../components/Controls";
import { EventTable } from "../components/EventTable";
import { Card, EmptyState, ErrorBox, PageTitle, Spinner } from "../components/ui";
import { useAsync } from "../state/useAsync";
import { analyticsQuery, useView } from "../state/view";

export function EventsPage({ project }: { project: Project }) {
  const { view, update, addFilter, removeFilter, setFilters } = useView();
  const query = analyticsQuery(view);
  const key = JSON.stringify(query);
  const first = useAsync((signal) => events.list(project.id, { ...query, limit: 50 }, signal), [project.id, key]);
  const [older, setOlder] = useState<{ events: TrackedEvent[]; cursor: string | null | undefined }>({ events: [], cursor: undefined });
  const [loadingMore, setLoadingMore] = useState(false);
  const [exporting, setExporting] = useState(false);
  const [exportError, setExportError] = useState<ApiError | null>(null);
  useEffect(() => setOlder({ events: [], cursor: undefined }), [key]);

  const list = [...(first.data?.events || []), ...older.events];
  const cursor = older.cursor === undefined ? first.data?.nextCursor : older.cursor;

  async function loadMore() {
    if (!cursor) return;
    setLoadingMore(true);
    try {
      const page = await events.list(project.id, { ...query, limit: 100, cursor });
      setOlder((o) => ({ events: [...o.events, ...(page.events || [])], cursor: page.nextCursor ?? null }));
    } finally {
      setLoadingMore(false);
    }
  }

  async function exportCsv() {
    setExporting(true);
    setExportError(null);
    try {
      await events.exportCsv(project.id, query, `events-${project.id}-${view.range.from}-${view.range.to}.csv`);
    } catch (e) {
      setExportError(e as ApiError);
    } finally {
      setExporting(false);
    }
  }

  return (
    <>
      <PageTitle
        actions={
          <>
            <RangePicker range={view.range} onChange={update} />
            <button type="button" className="btn" onClick={exportCsv} disabled={exporting}>
              {exporting ? "Exporting…" : "Export CSV"}
            </button>
          </>
        }
      >
        Events
      </PageTitle>
      <div className="filters-row">
        <FilterChips filters={view.filters} onRemove={removeFilter} onClear={() => setFilters([])} />
        <AddFilter onAdd={addFilter} />
      </div>
      {exportError && <ErrorBox error={exportError} />}
      <Card>
        {first.loading && !first.data && <Spinner label="Loading events…" />}
        {first.error && <ErrorBox error={first.error} onRetry={first.reload} />}
        {first.data && list.length === 0 && <EmptyState title="No events match">Widen the date range, remove a filter, or check the SDK setup page.</EmptyState>}
        {list.length > 0 && <EventTable events={list} projectId={project.id} tz={view.range.tz} testId="events-table" />}
        <div className="row-actions">
          {cursor && (
            <button type="button" className="btn" onClick={loadMore} disabled={loadingMore}>
              {loadingMore ? "Loading…" : "Load older events"}
            </button>
          )}
          {first.data && (
            <button type="button" className="btn btn-ghost" onClick={first.reload}>
              Refresh
            </button>
          )}
        </div>
      </Card>
    </>
  );
}
