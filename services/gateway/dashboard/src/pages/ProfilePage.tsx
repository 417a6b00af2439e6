import { useState, type FormEvent } from "react";

import { ApiError } from "../api/client";
import { me } from "../api/endpoints";
import { Card, ErrorBox, Field, PageTitle } from "../components/ui";
import { useAuth } from "../state/auth";
import { useProjects } from "../state/projects";
import { formatDateTime } from "../format";

/** Deleting the account: its projects go with it (as data jobs); the password confirms it. */
function DeleteAccountCard() {
  const { leave } = useAuth();
  const { projects } = useProjects();
  const [asking, setAsking] = useState(false);
  const [password, setPassword] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const count = projects?.length ?? 0;

  async function confirm(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await me.remove({ password });
      leave("Your account is deleted. The data of its projects is being deleted.");
    } catch (err) {
      setError(err as ApiError);
      setBusy(false);
    }
  }

  return (
    <Card title="Delete account" className="danger-zone">
      <div className="stack">
        <p className="muted">
          Deletes your account and {count === 1 ? "its project" : `its ${count} projects`}, with every event, person
          and report in {count === 1 ? "it" : "them"}. This cannot be undone.
        </p>
        {asking ? (
          <form className="confirm stack" role="alertdialog" aria-label="Confirm account deletion" onSubmit={confirm}>
            <Field
              label="Your password"
              type="password"
              autoComplete="current-password"
              autoFocus
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              error={error?.fields.password}
            />
            {error && !error.fields.password && <ErrorBox error={error} />}
            <div className="row-actions">
              <button className="btn btn-small btn-danger" type="submit" disabled={busy || !password}>
                Delete my account
              </button>
              <button className="btn btn-small" type="button" onClick={() => setAsking(false)}>
                Cancel
              </button>
            </div>
          </form>
        ) : (
          <div>
            <button className="btn btn-danger" type="button" onClick={() => setAsking(true)}>
              Delete account…
            </button>
          </div>
        )}
      </div>
    </Card>
  );
}

export function ProfilePage() {
  const { user, setUser } = useAuth();
  const [name, setName] = useState(user?.name || "");
  const [nameMsg, setNameMsg] = useState<{ ok?: string; err?: ApiError } | null>(null);
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [pwMsg, setPwMsg] = useState<{ ok?: string; err?: ApiError } | null>(null);
  const [busy, setBusy] = useState<"name" | "pw" | null>(null);

  async function saveName(e: FormEvent) {
    e.preventDefault();
    setBusy("name");
    setNameMsg(null);
    try {
      const u = await me.update({ name });
      setUser(u);
      setNameMsg({ ok: "Name saved." });
    } catch (err) {
      setNameMsg({ err: err as ApiError });
    } finally {
      setBusy(null);
    }
  }

  async function changePassword(e: FormEvent) {
    e.preventDefault();
    setBusy("pw");
    setPwMsg(null);
    try {
      await me.changePassword({ currentPassword: current, newPassword: next });
      setCurrent("");
      setNext("");
      setPwMsg({ ok: "Password changed. Your other sessions were logged out." });
    } catch (err) {
      setPwMsg({ err: err as ApiError });
    } finally {
      setBusy(null);
    }
  }

  return (
    <>
      <PageTitle>Profile</PageTitle>
      <div className="grid-2">
        <Card title="Your details">
          <form onSubmit={saveName} className="stack">
            <p className="muted">
              {user?.email} · member since {formatDateTime(user?.createdAt).split(",")[0]}
            </p>
            <Field label="Name" value={name} required onChange={(e) => setName(e.target.value)} error={nameMsg?.err?.fields.name} />
            {nameMsg?.err && !nameMsg.err.fields.name && <ErrorBox error={nameMsg.err} />}
            {nameMsg?.ok && <p className="success" role="status">{nameMsg.ok}</p>}
            <div>
              <button className="btn btn-primary" disabled={busy === "name"} type="submit">
                Save name
              </button>
            </div>
          </form>
        </Card>
        <Card title="Change password">
          <form onSubmit={changePassword} className="stack">
            <Field label="Current password" type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} error={pwMsg?.err?.fields.currentPassword} />
            <Field label="New password" type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} error={pwMsg?.err?.fields.newPassword} hint="At least 8 characters." />
            {pwMsg?.err && !Object.keys(pwMsg.err.fields).length && <ErrorBox error={pwMsg.err} />}
            {pwMsg?.ok && <p className="success" role="status">{pwMsg.ok}</p>}
            <div>
              <button className="btn btn-primary" disabled={busy === "pw" || !current || !next} type="submit">
                Change password
              </button>
            </div>
          </form>
        </Card>
      </div>
      <DeleteAccountCard />
    </>
  );
}
