import { useEffect, useRef, useState } from "react";

import { ApiError, streamEvents } from "../api/client";
import { realtime } from "../api/endpoints";
import type { Project, TrackedEvent } from "../api/types";
import { FilterChips } from "../components/Controls";
import { EventTable } from "../components/EventTable";
import { Card, EmptyState, ErrorBox, PageTitle, Spinner } from "../components/ui";
import { eventTime } from "../eventFields";
import { formatNumber } from "../format";
import { useView } from "../state/view";

const MAX_FEED = 200;
/** The event types the visitor count looks at (as every analytics figure does): actions. */
const ACTIONS = new Set<TrackedEvent["type"]>(["track", "page", "screen"]);

function timeOf(e: TrackedEvent): number {
  const t = Date.parse(eventTime(e) || "");
  return isNaN(t) ? 0 : t;
}

/** The feed in time order, newest first, whatever order the poll and the stream brought it in. */
function newestFirst(events: TrackedEvent[]): TrackedEvent[] {
  return [...events].sort((a, b) => timeOf(b) - timeOf(a) || ((b.messageId ?? "") < (a.messageId ?? "") ? -1 : 1)).slice(0, MAX_FEED);
}

export function RealtimePage({ project }: { project: Project }) {
  const { view, removeFilter, setFilters } = useView();
  const filters = view.filters.length ? JSON.stringify(view.filters) : undefined;
  const [visitors, setVisitors] = useState<number | null>(null);
  const [windowSeconds, setWindowSeconds] = useState(300);
  const [feed, setFeed] = useState<TrackedEvent[] | null>(null);
  const [status, setStatus] = useState<"connecting" | "open" | "retrying">("connecting");
  const [error, setError] = useState<ApiError | null>(null);
  const seen = useRef(new Set<string | undefined>());
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const clock = window.setInterval(() => setNow(Date.now()), 5000);
    return () => window.clearInterval(clock);
  }, []);
  // the rows the visitor count is made of: people's actions (no bot) within its window
  const counted = (e: TrackedEvent) => !e.isBot && ACTIONS.has(e.type) && timeOf(e) >= now - windowSeconds * 1000;
  const minutes = Math.round(windowSeconds / 60);

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
        setVisitors(r.visitors ?? null);
        setWindowSeconds((w) => r.windowSeconds ?? w);
        if (firstLoad) {
          firstLoad = false;
          const latest = r.events || [];
          latest.forEach((e) => seen.current.add(e.messageId));
          setFeed((f) => newestFirst([...(f || []), ...latest.filter((e) => !(f || []).some((x) => x.messageId === e.messageId))]));
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
          setFeed((f) => newestFirst([ev, ...(f || [])]));
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
          <span className="stat-label">Visitors in the last {minutes} minutes</span>
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
        {feed && feed.length > 0 && (
          <>
            <p className="muted feed-note">
              Newest first. Greyed rows are not in the visitor count: bots, identify calls and events older than {minutes} minutes.
            </p>
            <EventTable events={feed} projectId={project.id} testId="live-feed" rowClass={(e) => (counted(e) ? undefined : "outside-count")} />
          </>
        )}
      </Card>
    </>
  );
}
