// A team's API keys (for its admins): make a key for a script (a name, read access to chosen
// projects or admin of the team, an optional expiry), see its secret once to copy it, list the keys
// with when each was last used, rotate one (a new secret, shown once) and revoke one.
import { useState, type FormEvent } from "react";
import { useParams } from "react-router";

import type { ApiError } from "../api/client";
import { apiKeys } from "../api/endpoints";
import type { ApiKey, ApiKeySecret, Project } from "../api/types";
import { Card, CopyButton, EmptyState, ErrorBox, Field, PageTitle, Spinner } from "../components/ui";
import { formatDateTime } from "../format";
import { useProjects } from "../state/projects";
import { useAsync } from "../state/useAsync";

type Scope = ApiKey["scope"];

/** The secret of a key just made or rotated: shown this once, with a copy button. */
function NewSecret({ made }: { made: ApiKeySecret }) {
  return (
    <div className="new-secret" role="status" data-testid="api-key-secret">
      <p>
        <strong>Copy the key “{made.apiKey.name}” now:</strong> it is not shown again. Anyone who has it can use the
        API as this key allows; keep it out of code and logs.
      </p>
      <div className="row-actions">
        <code className="secret">{made.secret}</code>
        <CopyButton text={made.secret} label="Copy key" />
      </div>
    </div>
  );
}

/** The last moment of a day picked in the page, in the browser's time zone. */
function endOfDay(day: string): string {
  return new Date(`${day}T23:59:59`).toISOString();
}

function NewKey({ teamId, projects, onCreated }: { teamId: number; projects: Project[]; onCreated: (made: ApiKeySecret) => void }) {
  const [name, setName] = useState("");
  const [scope, setScope] = useState<Scope>("read");
  const [chosen, setChosen] = useState<number[]>([]);
  const [expires, setExpires] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  function toggle(id: number, on: boolean) {
    setChosen((ids) => (on ? [...ids, id] : ids.filter((x) => x !== id)));
  }

  async function create(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const made = await apiKeys.create(teamId, {
        name: name.trim(),
        scope,
        projectIds: scope === "read" ? chosen : null,
        expiresAt: expires ? endOfDay(expires) : null,
      });
      setName("");
      setChosen([]);
      setExpires("");
      onCreated(made);
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  }

  const known = ["name", "projectIds", "expiresAt"];
  return (
    <form className="stack" aria-label="New API key" onSubmit={create}>
      <div className="grid-2">
        <Field label="Name" value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. Weekly report" required error={error?.fields.name} />
        <Field
          label="Expires (optional)"
          type="date"
          value={expires}
          onChange={(e) => setExpires(e.target.value)}
          hint="The key stops working at the end of this day; without one it works until revoked."
          error={error?.fields.expiresAt}
        />
      </div>
      <fieldset className="plain-fieldset stack">
        <legend>Access</legend>
        <label className="inline-label checkbox">
          <input type="radio" name="scope" value="read" checked={scope === "read"} onChange={() => setScope("read")} />
          Read the analytics of chosen projects
        </label>
        <label className="inline-label checkbox">
          <input type="radio" name="scope" value="admin" checked={scope === "admin"} onChange={() => setScope("admin")} />
          Admin of the team (projects, settings, share links, deletions; not keys or members)
        </label>
      </fieldset>
      {scope === "read" && (
        <fieldset className="plain-fieldset stack" aria-label="Projects the key may read">
          <legend>Projects</legend>
          {projects.map((p) => (
            <label key={p.id} className="inline-label checkbox">
              <input type="checkbox" checked={chosen.includes(p.id)} onChange={(e) => toggle(p.id, e.target.checked)} />
              {p.name}
            </label>
          ))}
          {error?.fields.projectIds && <p className="field-error">{error.fields.projectIds}</p>}
        </fieldset>
      )}
      {error && !known.some((f) => error.fields[f]) && <ErrorBox error={error} />}
      <div>
        <button className="btn btn-primary" type="submit" disabled={busy}>
          Create API key
        </button>
      </div>
    </form>
  );
}

function KeyRow({
  apiKey,
  projectNames,
  onRotate,
  onRevoke,
}: {
  apiKey: ApiKey;
  projectNames: Map<number, string>;
  onRotate: (key: ApiKey) => Promise<void>;
  onRevoke: (key: ApiKey) => Promise<void>;
}) {
  const [busy, setBusy] = useState(false);
  const [asking, setAsking] = useState(false);
  const act = (what: (key: ApiKey) => Promise<void>) => {
    setBusy(true);
    void what(apiKey).finally(() => {
      setBusy(false);
      setAsking(false);
    });
  };
  const expired = apiKey.expiresAt !== null && new Date(apiKey.expiresAt) <= new Date();
  const access =
    apiKey.scope === "admin" ? "Admin" : `Read: ${(apiKey.projectIds || []).map((id) => projectNames.get(id) || `#${id}`).join(", ")}`;
  return (
    <tr>
      <td>{apiKey.name}</td>
      <td>{access}</td>
      <td>
        <code>…{apiKey.hint}</code>
      </td>
      <td>{formatDateTime(apiKey.createdAt)}</td>
      <td>{apiKey.lastUsedAt ? formatDateTime(apiKey.lastUsedAt) : <span className="muted">Never</span>}</td>
      <td>{apiKey.expiresAt ? formatDateTime(apiKey.expiresAt) : <span className="muted">Never</span>}</td>
      <td>
        {apiKey.revokedAt ? (
          <span className="muted">Revoked {formatDateTime(apiKey.revokedAt)}</span>
        ) : expired ? (
          <span className="muted">Expired</span>
        ) : asking ? (
          <div className="confirm" role="alertdialog" aria-label={`Confirm revoking ${apiKey.name}`}>
            <p>Scripts using “{apiKey.name}” stop working at once.</p>
            <div className="row-actions">
              <button type="button" className="btn btn-small btn-danger" autoFocus disabled={busy} onClick={() => act(onRevoke)}>
                Yes, revoke
              </button>
              <button type="button" className="btn btn-small" onClick={() => setAsking(false)}>
                Cancel
              </button>
            </div>
          </div>
        ) : (
          <div className="row-actions">
            <button type="button" className="btn btn-small" disabled={busy} aria-label={`Rotate ${apiKey.name}`} onClick={() => act(onRotate)}>
              Rotate
            </button>
            <button type="button" className="btn btn-small btn-danger" disabled={busy} aria-label={`Revoke ${apiKey.name}`} onClick={() => setAsking(true)}>
              Revoke…
            </button>
          </div>
        )}
      </td>
    </tr>
  );
}

export function ApiKeysPage() {
  const teamId = Number(useParams().teamId);
  const { projects } = useProjects();
  const keys = useAsync((signal) => apiKeys.list(teamId, signal), [teamId]);
  const [made, setMade] = useState<ApiKeySecret | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const teamProjects = (projects || []).filter((p) => p.teamId === teamId && !p.guest);
  const projectNames = new Map(teamProjects.map((p) => [p.id, p.name]));

  async function run(action: () => Promise<ApiKeySecret | ApiKey>, shows: boolean) {
    setError(null);
    setMade(null);
    try {
      const answer = await action();
      if (shows) setMade(answer as ApiKeySecret);
      keys.reload();
    } catch (err) {
      setError(err as ApiError);
    }
  }

  return (
    <>
      <PageTitle>API keys</PageTitle>
      <p className="muted">
        Keys let scripts and other tools use the API without signing in: send one as <code>Authorization: Bearer tme_key_…</code>.
        A read key reads the analytics of the projects it names; an admin key manages the team's projects. A revoked or rotated key
        stops working at once. “Last used” is precise to about a minute.
      </p>
      <Card title="New API key">
        <NewKey
          teamId={teamId}
          projects={teamProjects}
          onCreated={(key) => {
            setMade(key);
            keys.reload();
          }}
        />
      </Card>
      {made && <NewSecret made={made} />}
      {error && <ErrorBox error={error} />}
      <Card title="Keys">
        <div data-testid="api-keys">
          {keys.error && <ErrorBox error={keys.error} onRetry={keys.reload} />}
          {!keys.data && keys.loading && <Spinner />}
          {keys.data && keys.data.length === 0 && <EmptyState title="No API keys yet" />}
          {keys.data && keys.data.length > 0 && (
            <table className="table" aria-label="API keys">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Access</th>
                  <th scope="col">Key</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Expires</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {keys.data.map((key) => (
                  <KeyRow
                    key={key.id}
                    apiKey={key}
                    projectNames={projectNames}
                    onRotate={(k) => run(() => apiKeys.rotate(teamId, k.id), true)}
                    onRevoke={(k) => run(() => apiKeys.revoke(teamId, k.id), false)}
                  />
                ))}
              </tbody>
            </table>
          )}
        </div>
      </Card>
    </>
  );
}
