import { useEffect, useState, type ReactNode } from "react";
import { Link, NavLink, useLocation, useMatch, useNavigate } from "react-router";

import { useAuth } from "../state/auth";
import { useProjects } from "../state/projects";
import { carryQuery } from "../state/view";

const SECTIONS = [
  { path: "dashboard", label: "Dashboard" },
  { path: "funnels", label: "Funnels" },
  { path: "retention", label: "Retention" },
  { path: "realtime", label: "Realtime" },
  { path: "events", label: "Events" },
  { path: "setup", label: "SDK setup" },
];

export const LAST_PROJECT_KEY = "tme.lastProject";

function ProjectSwitcher() {
  const { projects } = useProjects();
  const pid = useMatch("/projects/:pid/*")?.params.pid;
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
  const pid = useMatch("/projects/:pid/*")?.params.pid;
  const location = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  useEffect(() => setMenuOpen(false), [location.pathname]);
  useEffect(() => {
    if (pid) localStorage.setItem(LAST_PROJECT_KEY, pid);
  }, [pid]);
  const carry = carryQuery(new URLSearchParams(location.search));

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
        <ProjectSwitcher />
        <button
          type="button"
          className="btn btn-ghost menu-toggle"
          aria-expanded={menuOpen}
          aria-controls="user-menu"
          onClick={() => setMenuOpen((o) => !o)}
        >
          {user?.name || "Account"} ▾
        </button>
        <nav id="user-menu" className={`user-menu${menuOpen ? " open" : ""}`} aria-label="Account">
          <NavLink to="/projects">Projects</NavLink>
          <NavLink to="/profile">Profile</NavLink>
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
        <nav className="sections" aria-label="Project">
          {SECTIONS.map((s) => (
            <NavLink key={s.path} to={`/projects/${pid}/${s.path}${s.path === "setup" ? "" : carry}`}>
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
