import { useEffect, useRef, useState } from "react";

import { ApiError, streamEvents } from "../api/client";
import { realtime } from "../api/endpoints";
import type { Project, TrackedEvent } from "../api/types";
import { FilterChips } from "../components/Controls";
import { EventTable } from "../components/EventTable";
import { Card, EmptyState, ErrorBox, PageTitle, Spinner } from "../components/ui";
import { formatNumber } from "../format";
import { useView } from "../state/view";

const MAX_FEED = 200;

export function RealtimePage({ project }: { project: Project }) {
  const { view, removeFilter, setFilters } = useView();
  const filters = view.filters.length ? JSON.stringify(view.filters) : undefined;
  const [visitors, setVisitors] = useState<number | null>(null);
  const [windowSeconds, setWindowSeconds] = useState(300);
  const [feed, setFeed] = useState<TrackedEvent[] | null>(null);
  const [status, setStatus] = useState<"connecting" | "open" | "retrying">("connecting");
  const [error, setError] = useState<ApiError | null>(null);
  const seen = useRef(new Set<string>());

  // visitor count (and the latest events, once) by polling; new events by the SSE stream
  useEffect(() => {
    const ctrl = new AbortController();
    let timer = 0;
    let firstLoad = true;
    seen.current = new Set();
    setFeed(null);
    async function poll() {
      try {
        const r = await realtime.get(project.id, ctrl.signal, filters);
        setVisitors(r.visitors);
        setWindowSeconds(r.windowSeconds);
        if (firstLoad) {
          firstLoad = false;
          r.events.forEach((e) => seen.current.add(e.messageId));
          setFeed((f) => [...(f || []), ...r.events.filter((e) => !(f || []).some((x) => x.messageId === e.messageId))].slice(0, MAX_FEED));
        }
        setError(null);
      } catch (e) {
        if (!ctrl.signal.aborted) setError(e as ApiError);
      }
      if (!ctrl.signal.aborted) timer = window.setTimeout(poll, 10_000);
    }
    void poll();
    const path = realtime.streamPath(project.id) + (filters ? `?filters=${encodeURIComponent(filters)}` : "");
    void streamEvents(
      path,
      (msg) => {
        if (msg.event !== "event") return;
        try {
          const ev = JSON.parse(msg.data) as TrackedEvent;
          if (seen.current.has(ev.messageId)) return;
          seen.current.add(ev.messageId);
          setFeed((f) => [ev, ...(f || [])].slice(0, MAX_FEED));
        } catch {
          /* ignore a malformed message */
        }
      },
      ctrl.signal,
      (s, err) => {
        setStatus(s);
        if (err) setError(err);
      },
    );
    return () => {
      ctrl.abort();
      window.clearTimeout(timer);
    };
  }, [project.id, filters]);

  return (
    <>
      <PageTitle>Realtime</PageTitle>
      <FilterChips filters={view.filters} onRemove={removeFilter} onClear={() => setFilters([])} />
      <div className="cards">
        <div className="stat">
          <span className="stat-label">Visitors in the last {Math.round(windowSeconds / 60)} minutes</span>
          <span className="stat-value" data-testid="realtime-visitors">
            {visitors === null ? "–" : formatNumber(visitors)}
          </span>
        </div>
        <div className="stat">
          <span className="stat-label">Live feed</span>
          <span className={`live-status live-${status}`} role="status">
            <span className="pulse" aria-hidden="true" /> {status === "open" ? "connected" : status === "connecting" ? "connecting…" : "reconnecting…"}
          </span>
        </div>
      </div>
      {error && <ErrorBox error={error} />}
      <Card title="Incoming events">
        {feed === null && <Spinner />}
        {feed && feed.length === 0 && <EmptyState title="Quiet right now">Events appear here the moment they are stored. Open your site in another tab to see one.</EmptyState>}
        {feed && feed.length > 0 && <EventTable events={feed} projectId={project.id} testId="live-feed" />}
      </Card>
    </>
  );
}
