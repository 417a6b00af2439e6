import { useState } from "react";
import { Link, useParams } from "react-router";

import type { ApiError } from "../api/client";
import { events, persons } from "../api/endpoints";
import type { ErasureRequest, Person, Project, TrackedEvent } from "../api/types";
import { JobProgress } from "../components/DataJobs";
import { EventTable } from "../components/EventTable";
import { Card, EmptyState, ErrorBox, PageTitle, Spinner } from "../components/ui";
import { formatDateTime, formatValue } from "../format";
import { useAsync } from "../state/useAsync";

/** Who to erase: the person's id, as a user id when their events carry it as one (identify), else
 * as an anonymous id. The erasure follows every id linked to it by alias or identify. */
function erasureOf(person: Person, events: TrackedEvent[]): ErasureRequest {
  const known = events.some((e) => e.userId === person.visitorId);
  return { regulationType: "DELETE_ONLY", subjectType: known ? "USER_ID" : "ANONYMOUS_ID", subjectIds: [person.visitorId] };
}

/** A subject access request (download) and an erasure (asked in the page, then followed as a job). */
function PrivacyCard({ project, person, events: seen, onErased }: { project: Project; person: Person; events: TrackedEvent[]; onErased: () => void }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState<"export" | "erase" | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [jobId, setJobId] = useState<string | null>(null);

  async function run(kind: "export" | "erase", action: () => Promise<void>) {
    setBusy(kind);
    setError(null);
    try {
      await action();
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(null);
    }
  }

  const exportData = () =>
    run("export", () => persons.exportData(project.id, person.visitorId, `person-${person.visitorId.replace(/[^\w.-]+/g, "_")}.json`));
  const erase = () =>
    run("erase", async () => {
      setAsking(false);
      const accepted = await persons.erase(project.id, erasureOf(person, seen));
      setJobId(accepted.data.regulateId);
    });

  const others = person.ids.length - 1;
  return (
    <Card title="This person's data">
      <div className="stack">
        <div className="row-actions">
          <button className="btn" type="button" disabled={!!busy} onClick={() => void exportData()}>
            {busy === "export" ? "Preparing…" : "Download this person's data"}
          </button>
          <button className="btn btn-danger" type="button" disabled={!!busy || !!jobId} aria-expanded={asking} onClick={() => setAsking(true)}>
            Erase this person…
          </button>
        </div>
        {asking && (
          <div className="confirm" role="alertdialog" aria-label="Confirm erasure">
            <p>
              Erase <code>{person.visitorId}</code>
              {others > 0 && ` and the ${others === 1 ? "id" : `${others} ids`} linked to it`} from “{project.name}”: every
              event, the profile and their part of the reports. Everyone else's numbers stay as they are. This cannot be
              undone.
            </p>
            <div className="row-actions">
              <button className="btn btn-small btn-danger" type="button" autoFocus disabled={!!busy} onClick={() => void erase()}>
                Yes, erase this person
              </button>
              <button className="btn btn-small" type="button" onClick={() => setAsking(false)}>
                Cancel
              </button>
            </div>
          </div>
        )}
        {jobId && <JobProgress jobId={jobId} title="Erasure:" onFinished={(job) => job.status === "done" && onErased()} />}
        {error && <ErrorBox error={error} />}
      </div>
    </Card>
  );
}

export function PersonPage({ project }: { project: Project }) {
  const { personId = "" } = useParams();
  const person = useAsync((signal) => events.person(project.id, personId, { limit: 50 }, signal), [project.id, personId]);
  const [older, setOlder] = useState<{ events: TrackedEvent[]; cursor: string | null | undefined }>({ events: [], cursor: undefined });
  const cursor = older.cursor === undefined ? person.data?.nextCursor : older.cursor;
  const list = [...(person.data?.events || []), ...older.events];
  const [erased, setErased] = useState(false);

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
      {p && erased && (
        <EmptyState title="This person is erased" action={<Link to={`/projects/${project.id}/events`}>All events</Link>}>
          Nothing of them is left in this project.
        </EmptyState>
      )}
      {p && !erased && (
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
      )}
      {p && <PrivacyCard project={project} person={p} events={list} onErased={() => setErased(true)} />}
      {p && !erased && (
        <Card title="Activity">
          <EventTable events={list} projectId={project.id} showPerson={false} testId="person-events" />
          {cursor && (
            <button type="button" className="btn" onClick={loadMore}>
              Load older events
            </button>
          )}
        </Card>
      )}
    </>
  );
}
