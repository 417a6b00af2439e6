// A project's share links (project settings, for its admins): make a public, read-only link to the
// dashboard (a name, an optional password, the range and filters of the current view), see its
// URL once to copy it, list the links with when each was last opened, and revoke them.
import { useMemo, useState, type FormEvent } from "react";
import { useSearchParams } from "react-router";

import type { ApiError } from "../api/client";
import { shareLinks } from "../api/endpoints";
import type { Project, ShareLink, ShareParams } from "../api/types";
import { formatDateTime } from "../format";
import { describeRange, resolveRange } from "../state/range";
import { useAsync } from "../state/useAsync";
import { parseFilters, SHARED_KEYS } from "../state/view";
import { Card, CopyButton, EmptyState, ErrorBox, Field, Spinner } from "./ui";

/** The view in this page's URL (carried from the dashboard), as a link's params; null when there is none. */
function useCurrentView(): { params: ShareParams; label: string } | null {
  const [search] = useSearchParams();
  return useMemo(() => {
    if (!SHARED_KEYS.some((k) => search.has(k))) return null;
    const tz = search.get("tz") || "UTC";
    const range = resolveRange(search.get("period"), search.get("from"), search.get("to"), tz);
    const filters = parseFilters(search.get("filters"));
    const params: ShareParams = range.period === "custom" ? { period: "custom", from: range.from, to: range.to, tz } : { period: range.period, tz };
    if (filters.length) params.filters = filters;
    const label = `${describeRange(range)}${filters.length ? `, ${filters.length} ${filters.length === 1 ? "filter" : "filters"}` : ""}`;
    return { params, label };
  }, [search]);
}

function NewLink({ project, onCreated }: { project: Project; onCreated: () => void }) {
  const current = useCurrentView();
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [withView, setWithView] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [url, setUrl] = useState<string | null>(null);

  async function create(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const made = await shareLinks.create(project.id, {
        name: name.trim() || null,
        password: password || null,
        params: withView && current ? current.params : undefined,
      });
      setUrl(made.url);
      setName("");
      setPassword("");
      onCreated();
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="stack" aria-label="New share link" onSubmit={create}>
      <div className="grid-2">
        <Field label="Name (optional)" value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. Investors" error={error?.fields.name} />
        <Field
          label="Password (optional)"
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          hint="At least 8 characters; whoever opens the link must give it."
          error={error?.fields.password}
        />
      </div>
      {current && (
        <label className="inline-label checkbox">
          <input type="checkbox" checked={withView} onChange={(e) => setWithView(e.target.checked)} />
          Share with the current range and filters ({current.label})
        </label>
      )}
      {error && !error.fields.name && !error.fields.password && <ErrorBox error={error} />}
      <div>
        <button className="btn btn-primary" type="submit" disabled={busy}>
          Create share link
        </button>
      </div>
      {url && (
        <div className="new-secret" role="status" data-testid="share-url">
          <p>
            <strong>Copy the link now:</strong> it is not shown again.
          </p>
          <div className="row-actions">
            <code className="secret">{url}</code>
            <CopyButton text={url} label="Copy link" />
          </div>
        </div>
      )}
    </form>
  );
}

function LinkRow({ link, onRevoke }: { link: ShareLink; onRevoke: (link: ShareLink) => Promise<void> }) {
  const [busy, setBusy] = useState(false);
  return (
    <tr>
      <td>{link.name || <em className="muted">Unnamed</em>}</td>
      <td>{formatDateTime(link.createdAt)}</td>
      <td>{link.lastViewedAt ? formatDateTime(link.lastViewedAt) : <span className="muted">Never</span>}</td>
      <td>{link.hasPassword ? "Yes" : "No"}</td>
      <td>
        {link.revokedAt ? (
          <span className="muted">Revoked {formatDateTime(link.revokedAt)}</span>
        ) : (
          <button
            type="button"
            className="btn btn-small btn-danger"
            disabled={busy}
            aria-label={`Revoke ${link.name || "this link"}`}
            onClick={() => {
              setBusy(true);
              void onRevoke(link).finally(() => setBusy(false));
            }}
          >
            Revoke
          </button>
        )}
      </td>
    </tr>
  );
}

export function ShareLinksCard({ project }: { project: Project }) {
  const links = useAsync((signal) => shareLinks.list(project.id, signal), [project.id]);
  const [error, setError] = useState<ApiError | null>(null);

  async function revoke(link: ShareLink) {
    setError(null);
    try {
      await shareLinks.revoke(project.id, link.id);
      links.reload();
    } catch (err) {
      setError(err as ApiError);
    }
  }

  return (
    <Card title="Share links">
      <div className="stack" data-testid="share-links">
        <p className="muted">
          A public link to a read-only view of this dashboard: its figures, chart and breakdowns, with the range and
          filters changeable by whoever opens it. Nothing else of the project (events, people, settings, write key) is
          reachable through it. Revoke a link to stop it at once.
        </p>
        <NewLink project={project} onCreated={links.reload} />
        {error && <ErrorBox error={error} />}
        {links.error && <ErrorBox error={links.error} onRetry={links.reload} />}
        {!links.data && links.loading && <Spinner />}
        {links.data && links.data.length === 0 && <EmptyState title="No share links yet" />}
        {links.data && links.data.length > 0 && (
          <table className="table" aria-label="Share links">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Created</th>
                <th scope="col">Last opened</th>
                <th scope="col">Password</th>
                <th scope="col">
                  <span className="sr-only">Status</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {links.data.map((link) => (
                <LinkRow key={link.id} link={link} onRevoke={revoke} />
              ))}
            </tbody>
          </table>
        )}
      </div>
    </Card>
  );
}
