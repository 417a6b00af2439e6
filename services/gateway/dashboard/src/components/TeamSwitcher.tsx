// The top bar's team switcher: choosing a team opens its first project (or its members page when it
// has none), and the project switcher then lists that team's projects.
import { useEffect } from "react";
import { useNavigate } from "react-router";

import type { Team } from "../api/types";
import { useProjects } from "../state/projects";
import { rememberTeam } from "../state/teams";

export function TeamSwitcher({ teams, teamId }: { teams: Team[]; teamId: number | undefined }) {
  const { projects } = useProjects();
  const navigate = useNavigate();
  const mine = teamId !== undefined && teams.some((t) => t.id === teamId);
  useEffect(() => {
    if (mine) rememberTeam(teamId);
  }, [mine, teamId]);
  if (!teams.length) return null;
  return (
    <div className="switcher">
      <select
        aria-label="Current team"
        value={teamId ?? ""}
        onChange={(e) => {
          const id = Number(e.target.value);
          if (!id) return;
          rememberTeam(id);
          const first = projects?.find((p) => p.teamId === id);
          navigate(first ? `/projects/${first.id}/dashboard` : `/teams/${id}/members`);
        }}
      >
        {teamId === undefined && <option value="">Choose a team…</option>}
        {teamId !== undefined && !mine && <option value={teamId}>Shared with you</option>}
        {teams.map((t) => (
          <option key={t.id} value={t.id}>
            {t.name}
          </option>
        ))}
      </select>
    </div>
  );
}
