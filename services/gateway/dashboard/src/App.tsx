import type { ReactNode } from "react";
import { BrowserRouter, Link, Navigate, Outlet, Route, Routes, useLocation, useParams, useSearchParams } from "react-router";

import type { Project } from "./api/types";
import { LAST_PROJECT_KEY, Layout } from "./components/Layout";
import { EmptyState, ErrorBox, PageTitle, Spinner } from "./components/ui";
import { ApiKeysPage } from "./pages/ApiKeysPage";
import { AuditPage } from "./pages/AuditPage";
import { LoginPage, RegisterPage } from "./pages/AuthPages";
import { DashboardPage } from "./pages/DashboardPage";
import { EventsPage } from "./pages/EventsPage";
import { FunnelsPage } from "./pages/FunnelsPage";
import { InvitePage } from "./pages/InvitePage";
import { MembersPage } from "./pages/MembersPage";
import { PersonPage } from "./pages/PersonPage";
import { ProfilePage } from "./pages/ProfilePage";
import { ProjectSettingsPage } from "./pages/ProjectSettingsPage";
import { ProjectsPage } from "./pages/ProjectsPage";
import { RealtimePage } from "./pages/RealtimePage";
import { RetentionPage } from "./pages/RetentionPage";
import { SetupPage } from "./pages/SetupPage";
import { SharePage } from "./pages/SharePage";
import { TeamSettingsPage } from "./pages/TeamSettingsPage";
import { AuthProvider, useAuth } from "./state/auth";
import { ProjectsProvider, useProjects } from "./state/projects";

function RequireAuth({ children }: { children: ReactNode }) {
  const { status, loggedOut } = useAuth();
  const location = useLocation();
  if (status === "loading") return <Spinner label="Signing you in…" />;
  if (status === "anonymous") {
    const next = location.pathname + location.search;
    return <Navigate to={next === "/" || loggedOut ? "/login" : `/login?next=${encodeURIComponent(next)}`} replace />;
  }
  return <ProjectsProvider>{children}</ProjectsProvider>;
}

function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

/** Login and register pages; once signed in, go on to the page asked for (a new account: its setup
 * page, unless it came from a page to go back to, such as an invitation). */
function AnonymousOnly({ children }: { children: ReactNode }) {
  const { status, welcomeProject } = useAuth();
  const [params] = useSearchParams();
  if (status === "loading") return <Spinner label="Loading…" />;
  if (status === "authenticated") {
    const next = params.get("next");
    const to = welcomeProject && !next ? `/projects/${welcomeProject.id}/setup` : safeNext(next);
    return <Navigate to={to} replace />;
  }
  return <>{children}</>;
}

/** `/`: the last project used, else the first one, else the projects page. */
function Home() {
  const { projects, error, reload } = useProjects();
  if (error) return <ErrorBox error={error} onRetry={reload} />;
  if (!projects) return <Spinner />;
  if (!projects.length) return <Navigate to="/projects" replace />;
  const last = Number(localStorage.getItem(LAST_PROJECT_KEY));
  const target = projects.find((p) => p.id === last) || projects[0];
  return <Navigate to={`/projects/${target.id}/dashboard`} replace />;
}

function WithProject({ render }: { render: (p: Project) => ReactNode }) {
  const { pid } = useParams();
  const { projects, error, reload } = useProjects();
  if (error) return <ErrorBox error={error} onRetry={reload} />;
  if (!projects) return <Spinner />;
  const project = projects.find((p) => String(p.id) === pid);
  if (!project)
    return (
      <EmptyState title="Project not found" action={<Link to="/projects">Your projects</Link>}>
        It may have been deleted, or it belongs to another account.
      </EmptyState>
    );
  // keyed by project so that switching projects resets every page's state
  return (
    <div key={project.id} className="page">
      {render(project)}
    </div>
  );
}

function NotFound() {
  return (
    <>
      <PageTitle>Page not found</PageTitle>
      <p>
        <Link to="/">Go to your dashboard</Link>
      </p>
    </>
  );
}

/** Signed-in pages: the projects list is loaded once for all of them, inside one layout. */
function SignedIn() {
  return (
    <RequireAuth>
      <Layout>
        <Outlet />
      </Layout>
    </RequireAuth>
  );
}

export function App() {
  return (
    <BrowserRouter>
      <AuthProvider>
        <Routes>
          <Route path="/login" element={<AnonymousOnly><LoginPage /></AnonymousOnly>} />
          <Route path="/register" element={<AnonymousOnly><RegisterPage /></AnonymousOnly>} />
          <Route path="/share/:token" element={<SharePage />} />
          <Route path="/invite/:token" element={<InvitePage />} />
          <Route element={<SignedIn />}>
            <Route path="/" element={<Home />} />
            <Route path="/projects" element={<ProjectsPage />} />
            <Route path="/profile" element={<ProfilePage />} />
            <Route path="/teams/:teamId/settings" element={<TeamSettingsPage />} />
            <Route path="/teams/:teamId/members" element={<MembersPage />} />
            <Route path="/teams/:teamId/api-keys" element={<ApiKeysPage />} />
            <Route path="/teams/:teamId/audit" element={<AuditPage />} />
            <Route path="/projects/:pid" element={<Navigate to="dashboard" replace />} />
            <Route path="/projects/:pid/dashboard" element={<WithProject render={(p) => <DashboardPage project={p} />} />} />
            <Route path="/projects/:pid/funnels" element={<WithProject render={(p) => <FunnelsPage project={p} />} />} />
            <Route path="/projects/:pid/retention" element={<WithProject render={(p) => <RetentionPage project={p} />} />} />
            <Route path="/projects/:pid/realtime" element={<WithProject render={(p) => <RealtimePage project={p} />} />} />
            <Route path="/projects/:pid/events" element={<WithProject render={(p) => <EventsPage project={p} />} />} />
            <Route path="/projects/:pid/persons/:personId" element={<WithProject render={(p) => <PersonPage project={p} />} />} />
            <Route path="/projects/:pid/setup" element={<WithProject render={(p) => <SetupPage project={p} />} />} />
            <Route path="/projects/:pid/settings" element={<WithProject render={(p) => <ProjectSettingsPage project={p} />} />} />
            <Route path="*" element={<NotFound />} />
          </Route>
        </Routes>
      </AuthProvider>
    </BrowserRouter>
  );
}
