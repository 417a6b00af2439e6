import { useState, type FormEvent } from "react";

import { ApiError } from "../api/client";
import { me } from "../api/endpoints";
import { Card, ErrorBox, Field, PageTitle } from "../components/ui";
import { useAuth } from "../state/auth";
import { formatDateTime } from "../format";

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
    </>
  );
}
