// An invitation link (`/invite/:token`): what it offers, shown without a login. Signed out, the
// invited person registers (or logs in) with the invited email and comes back here; signed in as
// that email, they accept and land on the team's projects.
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";

import type { ApiError } from "../api/client";
import { invitations } from "../api/endpoints";
import { ErrorBox, PageTitle, Spinner } from "../components/ui";
import { formatDateTime } from "../format";
import { useAuth } from "../state/auth";
import { rememberTeam } from "../state/teams";
import { useAsync } from "../state/useAsync";

export function InvitePage() {
  const token = useParams().token || "";
  const { status, user, logout } = useAuth();
  const navigate = useNavigate();
  const invitation = useAsync((signal) => invitations.open(token, signal), [token]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const here = `/invite/${encodeURIComponent(token)}`;

  async function accept() {
    setBusy(true);
    setError(null);
    try {
      const joined = await invitations.accept(token);
      rememberTeam(joined.teamId);
      navigate(joined.projectId ? `/projects/${joined.projectId}/dashboard` : "/projects");
    } catch (err) {
      setError(err as ApiError);
      setBusy(false);
    }
  }

  const view = invitation.data;
  const sameEmail = !!view && !!user && user.email.toLowerCase() === view.email.toLowerCase();
  return (
    <div className="auth-page">
      <div className="auth-card stack" data-testid="invitation">
        <PageTitle>Invitation</PageTitle>
        {invitation.error && <ErrorBox error={invitation.error} />}
        {!view && !invitation.error && <Spinner />}
        {view && (
          <>
            <p>
              {view.inviterName || "Someone"} invites you to{" "}
              {view.projectName ? (
                <>
                  read the project <strong>{view.projectName}</strong> of the team <strong>{view.teamName}</strong>
                </>
              ) : (
                <>
                  join the team <strong>{view.teamName}</strong> as <strong>{view.role}</strong>
                </>
              )}{" "}
              on Track My Events.
            </p>
            <p className="muted">
              For {view.email}; it works once, until {formatDateTime(view.expiresAt)}.
            </p>
            {error && <ErrorBox error={error} />}
            {status === "loading" && <Spinner />}
            {status === "anonymous" && (
              <div className="row-actions">
                {view.accountExists ? (
                  <Link className="btn btn-primary" to={`/login?next=${encodeURIComponent(here)}`}>
                    Log in to accept
                  </Link>
                ) : (
                  <Link className="btn btn-primary" to={`/register?next=${encodeURIComponent(here)}`}>
                    Create your account
                  </Link>
                )}
                {view.accountExists ? (
                  <Link to={`/register?next=${encodeURIComponent(here)}`}>Create an account</Link>
                ) : (
                  <Link to={`/login?next=${encodeURIComponent(here)}`}>I have an account</Link>
                )}
              </div>
            )}
            {status === "authenticated" && !sameEmail && (
              <>
                <p role="alert">
                  You are signed in as {user?.email}: this invitation is for {view.email}. Log out, then sign in or register with
                  that email.
                </p>
                <div>
                  <button type="button" className="btn" onClick={() => void logout()}>
                    Log out
                  </button>
                </div>
              </>
            )}
            {status === "authenticated" && sameEmail && (
              <div>
                <button type="button" className="btn btn-primary" disabled={busy} onClick={() => void accept()}>
                  Accept the invitation
                </button>
              </div>
            )}
          </>
        )}
      </div>
    </div>
  );
}
