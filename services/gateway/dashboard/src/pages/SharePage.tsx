// A shared dashboard (/share/:token), opened without a login: the project's dashboard page,
// read-only, with its range and filter controls and nothing else (no navigation, no settings, no
// write key). A link with a password asks for it first; it is kept in this tab's memory only.
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { useParams, useSearchParams } from "react-router";

import { shared, sharedStats } from "../api/endpoints";
import type { ShareParams, SharedDashboard } from "../api/types";
import { EmptyState, ErrorBox, Field, Spinner } from "../components/ui";
import { useAsync } from "../state/useAsync";
import { SHARED_KEYS } from "../state/view";
import { DashboardView } from "./DashboardPage";

/** The view a link was shared with, as the dashboard's query keys. */
function viewQuery(params: ShareParams): URLSearchParams {
  const q = new URLSearchParams();
  if (params.period) q.set("period", params.period);
  if (params.from) q.set("from", params.from);
  if (params.to) q.set("to", params.to);
  if (params.tz) q.set("tz", params.tz);
  if (params.filters?.length) q.set("filters", JSON.stringify(params.filters));
  return q;
}

/** Open the view the link was shared with, unless the URL already says which one (a reload, a copied
 * link); true once the URL holds it (the dashboard reads its view from the URL, and writes a time zone
 * into it when there is none: it must not start before). */
function useSharedView(params: ShareParams | null | undefined): boolean {
  const [search, setSearch] = useSearchParams();
  const wanted = useMemo(() => (params ? viewQuery(params) : null), [params]);
  const [asked, setAsked] = useState(false);
  const hasView = SHARED_KEYS.some((k) => search.has(k));
  useEffect(() => {
    if (!wanted || asked) return;
    setAsked(true);
    if (hasView || !wanted.size) return;
    const n = new URLSearchParams(search);
    wanted.forEach((value, key) => n.set(key, value));
    setSearch(n, { replace: true });
  }, [wanted, asked, hasView, search, setSearch]);
  return asked && (hasView || !wanted?.size);
}

function PasswordPrompt({ wrong, onSubmit }: { wrong: boolean; onSubmit: (password: string) => void }) {
  const [password, setPassword] = useState("");
  function submit(e: FormEvent) {
    e.preventDefault();
    if (password) onSubmit(password);
  }
  return (
    <form className="auth-card share-password" aria-labelledby="share-password-title" onSubmit={submit}>
      <h1 id="share-password-title">This dashboard is protected</h1>
      <p className="muted">Enter the password you were given with the link.</p>
      <Field
        label="Password"
        type="password"
        autoComplete="off"
        autoFocus
        value={password}
        onChange={(e) => setPassword(e.target.value)}
        error={wrong ? "This password is wrong." : undefined}
      />
      <button className="btn btn-primary" type="submit" disabled={!password}>
        Open the dashboard
      </button>
    </form>
  );
}

function SharedView({ token, password, dashboard }: { token: string; password?: string; dashboard: SharedDashboard }) {
  const source = useMemo(() => sharedStats(token, password), [token, password]);
  const ready = useSharedView(dashboard.params);
  if (!ready) return <Spinner />;
  return (
    <DashboardView
      source={source}
      title={dashboard.projectName || "Shared dashboard"}
      filterFields={dashboard.dimensions}
    />
  );
}

export function SharePage() {
  const { token = "" } = useParams();
  const [password, setPassword] = useState<string | undefined>(undefined);
  const opened = useAsync((signal) => shared.open(token, password, signal), [token, password]);
  const dashboard = opened.data;

  let body;
  if (opened.error?.status === 404) {
    body = (
      <EmptyState title="This shared dashboard does not exist">
        The link may have been revoked, or its project deleted. Ask whoever gave it to you for a new one.
      </EmptyState>
    );
  } else if (opened.error?.status === 401 || (dashboard && !dashboard.unlocked)) {
    body = <PasswordPrompt wrong={opened.error?.status === 401} onSubmit={setPassword} />;
  } else if (opened.error) {
    body = <ErrorBox error={opened.error} onRetry={opened.reload} />;
  } else if (!dashboard || opened.loading) {
    body = <Spinner label="Opening the dashboard…" />;
  } else {
    body = <SharedView token={token} password={password} dashboard={dashboard} />;
  }

  return (
    <div className="shell shared">
      <header className="topbar">
        <span className="brand">
          <img src="/favicon.svg" alt="" width={24} height={24} />
          <span>Track My Events</span>
        </span>
        {dashboard?.unlocked && (
          <span className="shared-label" data-testid="shared-label">
            {dashboard.domain ? `${dashboard.domain} · ` : ""}Shared dashboard, read-only
          </span>
        )}
      </header>
      <main id="main" className="main" tabIndex={-1}>
        <div className="page">{body}</div>
      </main>
    </div>
  );
}
