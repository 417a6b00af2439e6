import { useEffect, useRef, useState, type ReactNode } from "react";
import { Link, NavLink, useLocation, useMatch, useNavigate } from "react-router";

import { useAuth } from "../state/auth";
import { useProjects } from "../state/projects";
import { allows, storedTeam, useTeams } from "../state/teams";
import { carryQuery } from "../state/view";
import { TeamSwitcher } from "./TeamSwitcher";

// `analytics`: the section shows the view's range and filters, carried along from page to page
const SECTIONS = [
  { path: "dashboard", label: "Dashboard", analytics: true },
  { path: "funnels", label: "Funnels", analytics: true },
  { path: "retention", label: "Retention", analytics: true },
  { path: "realtime", label: "Realtime", analytics: true },
  { path: "events", label: "Events", analytics: true },
  { path: "setup", label: "SDK setup", analytics: false },
  { path: "settings", label: "Settings", analytics: false },
];

export const LAST_PROJECT_KEY = "tme.lastProject";

function storedProject(): string | null {
  try {
    return localStorage.getItem(LAST_PROJECT_KEY);
  } catch {
    return null;
  }
}

/** The project the page is about, or (on the projects and profile pages) the last one used. */
function useCurrentProject(): string | undefined {
  const { projects } = useProjects();
  const pid = useMatch("/projects/:pid/*")?.params.pid;
  if (pid) return pid;
  const last = storedProject();
  return projects?.some((p) => String(p.id) === last) ? last! : undefined;
}

/** The chosen team's projects (all of them before the teams are known). */
function ProjectSwitcher({ teamId }: { teamId: number | undefined }) {
  const { projects: all } = useProjects();
  const projects = all?.filter((p) => teamId === undefined || p.teamId === teamId);
  const current = useCurrentProject();
  const pid = projects?.some((p) => String(p.id) === current) ? current : undefined;
  const navigate = useNavigate();
  const location = useLocation();
  if (!projects || !projects.length) return null;
  const section = location.pathname.split("/")[3] || "dashboard";
  return (
    <div className="switcher">
      <select
        aria-label="Current project"
        value={pid || ""}
        onChange={(e) => {
          const next = e.target.value;
          if (next) navigate(`/projects/${next}/${SECTIONS.some((s) => s.path === section) ? section : "dashboard"}${carryQuery(new URLSearchParams(location.search))}`);
        }}
      >
        {!pid && <option value="">Choose a project…</option>}
        {projects.map((p) => (
          <option key={p.id} value={p.id}>
            {p.name}
          </option>
        ))}
      </select>
    </div>
  );
}

export function Layout({ children }: { children: ReactNode }) {
  const { user, logout } = useAuth();
  const { projects } = useProjects();
  const urlPid = useMatch("/projects/:pid/*")?.params.pid;
  const pid = useCurrentProject();
  const location = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  useEffect(() => setMenuOpen(false), [location.pathname]);
  useEffect(() => {
    // remembered only once it is known to be one of the user's projects
    if (urlPid && projects?.some((p) => String(p.id) === urlPid)) {
      try {
        localStorage.setItem(LAST_PROJECT_KEY, urlPid);
      } catch {
        /* storage unavailable */
      }
    }
  }, [urlPid, projects]);
  // on a phone the tab bar scrolls: keep the open section in view
  const sections = useRef<HTMLElement>(null);
  useEffect(() => {
    sections.current?.querySelector<HTMLElement>("a.active")?.scrollIntoView?.({ block: "nearest", inline: "nearest" });
  }, [location.pathname]);
  const carry = carryQuery(new URLSearchParams(location.search));
  const name = user?.name || "Account";
  // the team pages of the current project's team, for its admins
  const current = projects?.find((p) => String(p.id) === pid);
  const teamAdmin = current && !current.guest && (current.role === "admin" || current.role === "owner") ? current : null;
  // the chosen team: the team page's, else the open project's, else the one chosen last, else the first
  const teamList = useTeams();
  const teamPage = useMatch("/teams/:teamId/*")?.params.teamId;
  const teamId = teamPage ? Number(teamPage) : (current?.teamId ?? storedTeam() ?? teamList.data?.[0]?.id);
  const myTeam = teamList.data?.find((t) => t.id === teamId);

  return (
    <div className="shell">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        <Link to="/" className="brand" aria-label="Track My Events home">
          <img src="/favicon.svg" alt="" width={24} height={24} />
          <span>Track My Events</span>
        </Link>
        {teamList.data && <TeamSwitcher teams={teamList.data} teamId={teamId} />}
        <ProjectSwitcher teamId={teamId} />
        <button
          type="button"
          className="btn btn-ghost menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="user-menu"
          aria-label={`Account menu (${name})`}
          title={name}
          onClick={() => setMenuOpen((o) => !o)}
        >
          <span className="avatar" aria-hidden="true">
            {name.trim().charAt(0).toUpperCase() || "?"}
          </span>{" "}
          ▾
        </button>
        <nav id="user-menu" className={`user-menu${menuOpen ? " open" : ""}`} aria-label="Account">
          <NavLink to="/projects" end>
            Projects
          </NavLink>
          <NavLink to="/profile">Profile</NavLink>
          {myTeam && <NavLink to={`/teams/${myTeam.id}/members`}>Members</NavLink>}
          {myTeam && <NavLink to={`/teams/${myTeam.id}/settings`}>Team settings</NavLink>}
          {teamAdmin && <NavLink to={`/teams/${teamAdmin.teamId}/api-keys`}>API keys</NavLink>}
          {myTeam && allows(myTeam.role, "admin") && <NavLink to={`/teams/${myTeam.id}/audit`}>Audit log</NavLink>}
          <button
            type="button"
            className="btn btn-ghost"
            onClick={() => void logout()}
          >
            Log out
          </button>
        </nav>
      </header>
      {pid && (
        <nav className="sections" aria-label="Project" ref={sections}>
          {SECTIONS.map((s) => (
            // settings too: a share link made there can be shared with the view's range and filters
            <NavLink key={s.path} to={`/projects/${pid}/${s.path}${s.analytics || s.path === "settings" ? carry : ""}`}>
              {s.label}
            </NavLink>
          ))}
        </nav>
      )}
      <main id="main" className="main" tabIndex={-1}>
        {children}
      </main>
    </div>
  );
}
