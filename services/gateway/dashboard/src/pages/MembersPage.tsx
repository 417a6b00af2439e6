// A team's members: everyone sees who is in it and may leave it; its admins change roles, remove
// members and guests, invite people by email (the link is shown to copy, and says whether it was
// mailed) and revoke pending invitations. Only owners make, unmake or invite owners; the last
// owner cannot go (the API says so and the page shows its message).
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";

import type { ApiError } from "../api/client";
import { invitations as invitationsApi, members as membersApi } from "../api/endpoints";
import type { Guest, Invitation, InvitationCreated, Member, Project, Role, Team } from "../api/types";
import { Card, CopyButton, EmptyState, ErrorBox, Field, PageTitle, Spinner } from "../components/ui";
import { formatDateTime } from "../format";
import { useAuth } from "../state/auth";
import { useProjects } from "../state/projects";
import { allows, teamsChanged, useTeams } from "../state/teams";
import { useAsync } from "../state/useAsync";

const ROLES: { role: Role; label: string }[] = [
  { role: "viewer", label: "Viewer: reads analytics" },
  { role: "member", label: "Member: also creates projects" },
  { role: "admin", label: "Admin: also settings, keys, members" },
  { role: "owner", label: "Owner: also deletes the team" },
];

/** The roles `mine` may give (only an owner gives or takes `owner`). */
function givable(mine: Role): Role[] {
  return ROLES.map((r) => r.role).filter((r) => r !== "owner" || mine === "owner");
}

function MemberRow({ team, member, me, onChanged }: { team: Team; member: Member; me: number | undefined; onChanged: (left: boolean) => void }) {
  const [busy, setBusy] = useState(false);
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const self = member.userId === me;
  const canManage = allows(team.role, "admin") && (member.role !== "owner" || team.role === "owner");

  async function run(action: () => Promise<unknown>, left = false) {
    setBusy(true);
    setError(null);
    try {
      await action();
      onChanged(left);
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
      setAsking(false);
    }
  }

  return (
    <tr>
      <td>
        {member.name}
        {self && <span className="muted"> (you)</span>}
      </td>
      <td>{member.email}</td>
      <td>
        {canManage && !self ? (
          <select
            aria-label={`Role of ${member.name}`}
            value={member.role}
            disabled={busy}
            onChange={(e) => void run(() => membersApi.setRole(team.id, member.userId, e.target.value as Role))}
          >
            {givable(team.role).map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        ) : (
          member.role
        )}
      </td>
      <td>{formatDateTime(member.joinedAt)}</td>
      <td>
        {asking ? (
          <div className="confirm" role="alertdialog" aria-label={self ? "Confirm leaving" : `Confirm removing ${member.name}`}>
            <p>{self ? `You lose access to “${team.name}” and its projects at once.` : `${member.name} loses access at once.`}</p>
            <div className="row-actions">
              <button type="button" className="btn btn-small btn-danger" autoFocus disabled={busy} onClick={() => void run(() => membersApi.remove(team.id, member.userId), self)}>
                {self ? "Yes, leave" : "Yes, remove"}
              </button>
              <button type="button" className="btn btn-small" onClick={() => setAsking(false)}>
                Cancel
              </button>
            </div>
          </div>
        ) : (
          (self || canManage) && (
            <button type="button" className="btn btn-small btn-danger" aria-label={self ? "Leave the team" : `Remove ${member.name}`} onClick={() => setAsking(true)}>
              {self ? "Leave…" : "Remove…"}
            </button>
          )
        )}
        {error && <ErrorBox error={error} />}
      </td>
    </tr>
  );
}

function InviteForm({ team, projects, onInvited }: { team: Team; projects: Project[]; onInvited: (made: InvitationCreated) => void }) {
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("member");
  const [projectId, setProjectId] = useState<number | "">("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  async function invite(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const made = await invitationsApi.create(team.id, {
        email: email.trim(),
        role: projectId ? "viewer" : role,
        projectId: projectId || null,
      });
      setEmail("");
      onInvited(made);
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="stack" aria-label="Invite someone" onSubmit={invite}>
      <div className="grid-2">
        <Field label="Email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} required error={error?.fields.email} placeholder="colleague@example.com" />
        <label className="inline-label">
          Access{" "}
          <select aria-label="Access" value={projectId} onChange={(e) => setProjectId(Number(e.target.value) || "")}>
            <option value="">The whole team</option>
            {projects.map((p) => (
              <option key={p.id} value={p.id}>
                Only the project {p.name} (a viewer)
              </option>
            ))}
          </select>
        </label>
      </div>
      {!projectId && (
        <label className="inline-label">
          Role{" "}
          <select aria-label="Role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.filter((r) => givable(team.role).includes(r.role)).map((r) => (
              <option key={r.role} value={r.role}>
                {r.label}
              </option>
            ))}
          </select>
        </label>
      )}
      {error && !error.fields.email && <ErrorBox error={error} />}
      <div>
        <button className="btn btn-primary" type="submit" disabled={busy || !email.trim()}>
          Invite
        </button>
      </div>
    </form>
  );
}

function NewInvitation({ made }: { made: InvitationCreated }) {
  return (
    <div className="new-secret" role="status" data-testid="invitation-link">
      <p>
        <strong>Invitation for {made.invitation.email}:</strong>{" "}
        {made.mailed
          ? "it was mailed to them. You can also give them this link."
          : "it was not mailed (no mail server is set up, or it failed): copy this link and send it to them."}{" "}
        It works once, for that email, until {formatDateTime(made.invitation.expiresAt)}, and is not shown again.
      </p>
      <div className="row-actions">
        <code className="secret">{made.link}</code>
        <CopyButton text={made.link} label="Copy link" />
      </div>
    </div>
  );
}

function PendingInvitations({ team, list, projectNames, onRevoked }: { team: Team; list: Invitation[]; projectNames: Map<number, string>; onRevoked: () => void }) {
  const [error, setError] = useState<ApiError | null>(null);
  if (!list.length) return <p className="muted">No pending invitations.</p>;
  return (
    <>
      {error && <ErrorBox error={error} />}
      <table className="table" aria-label="Pending invitations">
        <thead>
          <tr>
            <th scope="col">Email</th>
            <th scope="col">Access</th>
            <th scope="col">Expires</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {list.map((i) => (
            <tr key={i.id}>
              <td>{i.email}</td>
              <td>{i.projectId ? `Guest of ${projectNames.get(i.projectId) || `#${i.projectId}`}` : i.role}</td>
              <td>{formatDateTime(i.expiresAt)}</td>
              <td>
                <button
                  type="button"
                  className="btn btn-small btn-danger"
                  aria-label={`Revoke the invitation of ${i.email}`}
                  onClick={() => {
                    setError(null);
                    invitationsApi.revoke(team.id, i.id).then(onRevoked, (err: ApiError) => setError(err));
                  }}
                >
                  Revoke
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function GuestRows({ guests, onRemoved }: { guests: Guest[]; onRemoved: () => void }) {
  const [error, setError] = useState<ApiError | null>(null);
  if (!guests.length) return <p className="muted">Nobody outside the team has access to one of its projects.</p>;
  return (
    <>
      {error && <ErrorBox error={error} />}
      <table className="table" aria-label="Guests">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Email</th>
            <th scope="col">Project</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {guests.map((g) => (
            <tr key={`${g.projectId}-${g.userId}`}>
              <td>{g.name}</td>
              <td>{g.email}</td>
              <td>{g.projectName}</td>
              <td>
                <button
                  type="button"
                  className="btn btn-small btn-danger"
                  aria-label={`Remove ${g.name} from ${g.projectName}`}
                  onClick={() => {
                    setError(null);
                    membersApi.removeGuest(g.projectId, g.userId).then(onRemoved, (err: ApiError) => setError(err));
                  }}
                >
                  Remove
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

export function MembersPage() {
  const teamId = Number(useParams().teamId);
  const { user } = useAuth();
  const { projects, reload: reloadProjects } = useProjects();
  const navigate = useNavigate();
  const teams = useTeams();
  const team = teams.data?.find((t) => t.id === teamId);
  const admin = allows(team?.role, "admin");
  const members = useAsync((signal) => membersApi.list(teamId, signal), [teamId, team?.role]);
  const pending = useAsync((signal) => (admin ? invitationsApi.list(teamId, signal) : Promise.resolve([])), [teamId, admin]);
  const [made, setMade] = useState<InvitationCreated | null>(null);
  const teamProjects = (projects || []).filter((p) => p.teamId === teamId && !p.guest);
  const projectNames = new Map(teamProjects.map((p) => [p.id, p.name]));

  if (teams.error) return <ErrorBox error={teams.error} onRetry={teams.reload} />;
  if (!teams.data) return <Spinner />;
  if (!team)
    return (
      <EmptyState title="Team not found" action={<Link to="/projects">Your projects</Link>}>
        You are not a member of this team.
      </EmptyState>
    );

  function changed(left: boolean) {
    teamsChanged();
    if (left) {
      void reloadProjects();
      navigate("/projects");
    } else members.reload();
  }

  return (
    <>
      <PageTitle>Members</PageTitle>
      <p className="muted">
        “{team.name}”: your role is <strong>{team.role}</strong>. A viewer reads analytics; a member also creates projects; an
        admin also manages settings, keys, members and deletions; an owner also deletes the team. Changes apply at once.{" "}
        <Link to={`/teams/${team.id}/settings`}>Team settings</Link>
      </p>
      <Card title="Members">
        <div data-testid="members">
          {members.error && <ErrorBox error={members.error} onRetry={members.reload} />}
          {!members.data && members.loading && <Spinner />}
          {members.data && (
            <table className="table" aria-label="Members">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Email</th>
                  <th scope="col">Role</th>
                  <th scope="col">Joined</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {members.data.members.map((m) => (
                  <MemberRow key={`${m.userId}-${m.role}`} team={team} member={m} me={user?.id} onChanged={changed} />
                ))}
              </tbody>
            </table>
          )}
        </div>
      </Card>
      {admin && (
        <>
          <Card title="Invite someone">
            <InviteForm
              team={team}
              projects={teamProjects}
              onInvited={(invitation) => {
                setMade(invitation);
                pending.reload();
              }}
            />
          </Card>
          {made && <NewInvitation made={made} />}
          <Card title="Pending invitations">
            <div data-testid="invitations">
              {pending.error && <ErrorBox error={pending.error} onRetry={pending.reload} />}
              {pending.data && <PendingInvitations team={team} list={pending.data} projectNames={projectNames} onRevoked={pending.reload} />}
            </div>
          </Card>
          <Card title="Guests of the team's projects">
            {members.data?.guests && <GuestRows guests={members.data.guests} onRemoved={members.reload} />}
          </Card>
        </>
      )}
    </>
  );
}
