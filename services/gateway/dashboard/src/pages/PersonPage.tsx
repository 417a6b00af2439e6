import { useState } from "react";
import { Link, useParams } from "react-router";

import { events } from "../api/endpoints";
import type { Project, TrackedEvent } from "../api/types";
import { EventTable } from "../components/EventTable";
import { Card, EmptyState, ErrorBox, PageTitle, Spinner } from "../components/ui";
import { formatDateTime, formatValue } from "../format";
import { useAsync } from "../state/useAsync";

export function PersonPage({ project }: { project: Project }) {
  const { personId = "" } = useParams();
  const person = useAsync((signal) => events.person(project.id, personId, { limit: 50 }, signal), [project.id, personId]);
  const [older, setOlder] = useState<{ events: TrackedEvent[]; cursor: string | null | undefined }>({ events: [], cursor: undefined });
  const cursor = older.cursor === undefined ? person.data?.nextCursor : older.cursor;
  const list = [...(person.data?.events || []), ...older.events];

  async function loadMore() {
    if (!cursor) return;
    const page = await events.person(project.id, personId, { limit: 100, cursor });
    setOlder((o) => ({ events: [...o.events, ...(page.events || [])], cursor: page.nextCursor ?? null }));
  }

  const p = person.data;
  const ids = p?.ids || [];
  const traits = p?.traits || {};
  return (
    <>
      <PageTitle>Person</PageTitle>
      <p>
        <Link to={`/projects/${project.id}/events`}>← All events</Link>
      </p>
      {person.loading && !p && <Spinner />}
      {person.error && (person.error.status === 404 ? <EmptyState title="No such person in this project" /> : <ErrorBox error={person.error} onRetry={person.reload} />)}
      {p && (
        <>
          <div className="grid-2">
            <Card title="Identity">
              <dl className="kv" data-testid="person-ids">
                <dt>Person</dt>
                <dd>
                  <code>{p.visitorId}</code>
                </dd>
                {ids.length > 1 && (
                  <>
                    <dt>Also known as</dt>
                    <dd>
                      {ids.slice(1).map((id) => (
                        <code key={id} className="block">
                          {id}
                        </code>
                      ))}
                    </dd>
                  </>
                )}
                <dt>First seen</dt>
                <dd>{formatDateTime(p.firstSeen)}</dd>
                <dt>Last seen</dt>
                <dd>{formatDateTime(p.lastSeen)}</dd>
              </dl>
            </Card>
            <Card title="Traits">
              {Object.keys(traits).length ? (
                <dl className="kv">
                  {Object.entries(traits).map(([k, v]) => (
                    <div key={k} className="kv-row">
                      <dt>{k}</dt>
                      <dd title={typeof v === "string" ? v : undefined}>{formatValue(v)}</dd>
                    </div>
                  ))}
                </dl>
              ) : (
                <p className="muted">
                  No traits. Send them with <code>tme.identify(userId, {"{"} email, plan {"}"})</code>.
                </p>
              )}
            </Card>
          </div>
          <Card title="Activity">
            <EventTable events={list} projectId={project.id} showPerson={false} testId="person-events" />
            {cursor && (
              <button type="button" className="btn" onClick={loadMore}>
                Load older events
              </button>
            )}
          </Card>
        </>
      )}
    </>
  );
}
