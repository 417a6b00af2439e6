// A team's settings: its name (admins rename it), the transfer of its ownership to another member
// and its deletion with every project in it (owners; confirmed by typing the team's name).
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";

import type { ApiError } from "../api/client";
import { members as membersApi, teams as teamsApi } from "../api/endpoints";
import type { Member, Team } from "../api/types";
import { Card, EmptyState, ErrorBox, Field, PageTitle, Spinner } from "../components/ui";
import { useAuth } from "../state/auth";
import { useProjects } from "../state/projects";
import { allows, teamsChanged, useTeams } from "../state/teams";
import { useAsync } from "../state/useAsync";

function Rename({ team }: { team: Team }) {
  const [name, setName] = useState(team.name);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  async function save(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      await teamsApi.update(team.id, { name: name.trim() });
      setSaved(true);
      teamsChanged();
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="stack" aria-label="Rename the team" onSubmit={save}>
      <Field label="Team name" value={name} onChange={(e) => setName(e.target.value)} required error={error?.fields.name} />
      {error && !error.fields.name && <ErrorBox error={error} />}
      <div className="row-actions">
        <button className="btn btn-primary" type="submit" disabled={busy || !name.trim() || name.trim() === team.name}>
          Save
        </button>
        {saved && <span role="status">Saved.</span>}
      </div>
    </form>
  );
}

function Transfer({ team, others }: { team: Team; others: Member[] }) {
  const [userId, setUserId] = useState<number | "">("");
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const target = others.find((m) => m.userId === userId);

  async function transfer() {
    if (!target) return;
    setBusy(true);
    setError(null);
    try {
      await teamsApi.transfer(team.id, target.userId);
      teamsChanged();
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
      setAsking(false);
    }
  }

  if (!others.length) return <p className="muted">Invite someone to the team first: ownership goes to a member.</p>;
  return (
    <div className="stack">
      <p className="muted">The member you choose becomes the owner; you become an admin.</p>
      <label className="inline-label">
        New owner{" "}
        <select aria-label="New owner" value={userId} onChange={(e) => setUserId(Number(e.target.value) || "")}>
          <option value="">Choose a member…</option>
          {others.map((m) => (
            <option key={m.userId} value={m.userId}>
              {m.name} ({m.email})
            </option>
          ))}
        </select>
      </label>
      {error && <ErrorBox error={error} />}
      {asking && target ? (
        <div className="confirm" role="alertdialog" aria-label="Confirm the transfer">
          <p>
            {target.name} becomes the owner of “{team.name}”, and you an admin.
          </p>
          <div className="row-actions">
            <button type="button" className="btn btn-small btn-danger" autoFocus disabled={busy} onClick={() => void transfer()}>
              Yes, transfer
            </button>
            <button type="button" className="btn btn-small" onClick={() => setAsking(false)}>
              Cancel
            </button>
          </div>
        </div>
      ) : (
        <div>
          <button type="button" className="btn" disabled={!target} onClick={() => setAsking(true)}>
            Transfer ownership…
          </button>
        </div>
      )}
    </div>
  );
}

function DeleteTeam({ team }: { team: Team }) {
  const [asking, setAsking] = useState(false);
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const { reload } = useProjects();
  const navigate = useNavigate();

  async function remove(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await teamsApi.remove(team.id);
      teamsChanged();
      await reload();
      navigate("/projects");
    } catch (err) {
      setError(err as ApiError);
      setBusy(false);
    }
  }

  if (!asking)
    return (
      <div>
        <button type="button" className="btn btn-danger" onClick={() => setAsking(true)}>
          Delete this team…
        </button>
      </div>
    );
  return (
    <form className="confirm stack" role="alertdialog" aria-label="Confirm the team's deletion" onSubmit={remove}>
      <p>
        The team, its members' access, invitations, API keys and share links are gone at once, and every project of the team
        is deleted with all its events. This cannot be undone.
      </p>
      <Field label="Type the team's name to confirm" value={typed} onChange={(e) => setTyped(e.target.value)} autoFocus />
      {error && <ErrorBox error={error} />}
      <div className="row-actions">
        <button className="btn btn-small btn-danger" type="submit" disabled={busy || typed !== team.name}>
          Delete the team
        </button>
        <button type="button" className="btn btn-small" onClick={() => setAsking(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function TeamSettingsPage() {
  const teamId = Number(useParams().teamId);
  const { user } = useAuth();
  const teams = useTeams();
  const team = teams.data?.find((t) => t.id === teamId);
  const members = useAsync((signal) => membersApi.list(teamId, signal), [teamId, team?.role]);
  if (teams.error) return <ErrorBox error={teams.error} onRetry={teams.reload} />;
  if (!teams.data) return <Spinner />;
  if (!team)
    return (
      <EmptyState title="Team not found" action={<Link to="/projects">Your projects</Link>}>
        You are not a member of this team.
      </EmptyState>
    );
  const others = (members.data?.members || []).filter((m) => m.userId !== user?.id);
  return (
    <>
      <PageTitle>Team settings</PageTitle>
      <p className="muted">
        “{team.name}”{team.personal ? ", your personal team" : ""}: your role is <strong>{team.role}</strong>.{" "}
        <Link to={`/teams/${team.id}/members`}>Members and invitations</Link>
      </p>
      <Card title="Name">{allows(team.role, "admin") ? <Rename team={team} /> : <p>{team.name}</p>}</Card>
      {team.role === "owner" && (
        <>
          <Card title="Transfer ownership">
            {members.error && <ErrorBox error={members.error} onRetry={members.reload} />}
            {members.data ? <Transfer team={team} others={others} /> : !members.error && <Spinner />}
          </Card>
          <Card title="Delete the team" className="danger-zone">
            <DeleteTeam team={team} />
          </Card>
        </>
      )}
    </>
  );
}
