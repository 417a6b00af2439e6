// A team's audit log (for its admins): what happened, newest first, with who did it (an account or
// an API key), the project it was about and the client used; narrowed to one action, and read a
// page at a time with "Load more".
import { useEffect, useState } from "react";
import { useParams } from "react-router";

import type { ApiError } from "../api/client";
import { audit } from "../api/endpoints";
import type { AuditAction, AuditEntry } from "../api/types";
import { Card, EmptyState, ErrorBox, PageTitle, Spinner } from "../components/ui";
import { formatDateTime } from "../format";
import { useProjects } from "../state/projects";

const PAGE = 50;

/** What each action is called in the page (every action of the API must have a label: a new one is a type error). */
const ACTIONS: Record<AuditAction, string> = {
  sign_in: "Signed in",
  "team.created": "Team created",
  "team.renamed": "Team renamed",
  "team.deleted": "Team deleted",
  "team.ownership_transferred": "Ownership transferred",
  "member.invited": "Member invited",
  "invitation.revoked": "Invitation revoked",
  "member.joined": "Member joined",
  "member.role_changed": "Role changed",
  "member.removed": "Member removed",
  "member.left": "Member left",
  "api_key.created": "API key created",
  "api_key.rotated": "API key rotated",
  "api_key.revoked": "API key revoked",
  "share_link.created": "Share link created",
  "share_link.revoked": "Share link revoked",
  "project.created": "Project created",
  "project.updated": "Project updated",
  "project.deleted": "Project deleted",
  "project.write_key_rotated": "Write key rotated",
  "person.erasure_requested": "Erasure requested",
  "data.exported": "Data exported",
};

/** A few words on what changed, from the entry's details. */
function detail(entry: AuditEntry): string {
  const d = entry.details as Record<string, unknown>;
  if (entry.action === "project.updated" && Array.isArray(d.fields)) return `Changed ${d.fields.join(", ")}`;
  if (entry.action === "data.exported") return [d.what, d.format].filter(Boolean).join(", ");
  if (entry.action === "person.erasure_requested") return `${d.subjects} ${d.subjects === 1 ? "person" : "people"}`;
  if (typeof d.name === "string") return d.name;
  return entry.target || "";
}

function Who({ entry }: { entry: AuditEntry }) {
  const { actor } = entry;
  const name = actor.name || (actor.userId ? `Account #${actor.userId}` : "Unknown");
  return actor.apiKeyId ? (
    <>
      {name} <span className="muted">(API key)</span>
    </>
  ) : (
    <>{name}</>
  );
}

export function AuditPage() {
  const teamId = Number(useParams().teamId);
  const { projects } = useProjects();
  const [action, setAction] = useState<AuditAction | "">("");
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [nextBefore, setNextBefore] = useState<number | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [tick, setTick] = useState(0);
  const projectNames = new Map((projects || []).map((p) => [p.id, p.name]));

  // the first page, again whenever the filter changes
  useEffect(() => {
    const ctrl = new AbortController();
    setEntries(null);
    setError(null);
    audit
      .page(teamId, { limit: PAGE, action: action || null }, ctrl.signal)
      .then((page) => {
        setEntries(page.entries);
        setNextBefore(page.nextBefore);
      })
      .catch((e) => {
        if (!ctrl.signal.aborted) setError(e as ApiError);
      });
    return () => ctrl.abort();
  }, [teamId, action, tick]);

  async function loadMore() {
    if (nextBefore === null) return;
    setBusy(true);
    try {
      const page = await audit.page(teamId, { limit: PAGE, action: action || null, before: nextBefore });
      setEntries((shown) => [...(shown || []), ...page.entries]);
      setNextBefore(page.nextBefore);
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <PageTitle>Audit log</PageTitle>
      <p className="muted">
        What happened in this team, newest first: sign-ins, members and roles, API keys, share links, projects, erasures and data
        exports, with who did it and the client they used (its browser or tool; never its address).
      </p>
      <Card
        title="Events"
        actions={
          <label className="inline-label">
            Action{" "}
            <select value={action} onChange={(e) => setAction(e.target.value as AuditAction | "")} aria-label="Action">
              <option value="">All actions</option>
              {Object.entries(ACTIONS).map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          </label>
        }
      >
        <div data-testid="audit-log">
          {error && <ErrorBox error={error} onRetry={() => setTick((t) => t + 1)} />}
          {!entries && !error && <Spinner />}
          {entries && entries.length === 0 && <EmptyState title="Nothing recorded yet" />}
          {entries && entries.length > 0 && (
            <div className="table-scroll">
              <table className="table" aria-label="Audit log">
                <thead>
                  <tr>
                    <th scope="col">Time</th>
                    <th scope="col">Who</th>
                    <th scope="col">Action</th>
                    <th scope="col">Project</th>
                    <th scope="col">Details</th>
                    <th scope="col">Client</th>
                  </tr>
                </thead>
                <tbody>
                  {entries.map((entry) => (
                    <tr key={entry.id}>
                      <td>{formatDateTime(entry.at)}</td>
                      <td>
                        <Who entry={entry} />
                      </td>
                      <td>{ACTIONS[entry.action]}</td>
                      <td>{entry.projectId ? projectNames.get(entry.projectId) || `#${entry.projectId}` : ""}</td>
                      <td>{detail(entry)}</td>
                      <td className="muted" title={entry.client || undefined}>
                        {entry.client || ""}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {nextBefore !== null && (
            <button type="button" className="btn" disabled={busy} onClick={() => void loadMore()}>
              Load more
            </button>
          )}
        </div>
      </Card>
    </>
  );
}
