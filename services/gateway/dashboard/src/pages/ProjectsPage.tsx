import { useCallback, useState, type FormEvent } from "react";
import { Link, useLocation, useNavigate } from "react-router";

import { ApiError } from "../api/client";
import { projects as projectsApi } from "../api/endpoints";
import type { Project } from "../api/types";
import { DataJobList, JobProgress } from "../components/DataJobs";
import { DeleteProjectConfirm, type DeletedProject } from "../components/DeleteProject";
import { Card, CopyButton, EmptyState, ErrorBox, Field, PageTitle, Spinner } from "../components/ui";
import { useProjects } from "../state/projects";

function ProjectRow({ project }: { project: Project }) {
  const { upsert } = useProjects();
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(project.name);
  const [domain, setDomain] = useState(project.domain || "");
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  // an action waiting for its in-page confirmation
  const [asking, setAsking] = useState<"rotate" | "delete" | null>(null);

  async function run(action: () => Promise<void>) {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(false);
    }
  }

  function save(e: FormEvent) {
    e.preventDefault();
    void run(async () => {
      upsert(await projectsApi.update(project.id, { name, domain: domain || null }));
      setEditing(false);
    });
  }

  return (
    <li className="project-row">
      {editing ? (
        <form onSubmit={save} className="inline-form" aria-label={`Rename ${project.name}`}>
          <Field label="Name" value={name} onChange={(e) => setName(e.target.value)} error={error?.fields.name} autoFocus />
          <Field label="Domain" value={domain} placeholder="example.com" onChange={(e) => setDomain(e.target.value)} error={error?.fields.domain} />
          <div className="row-actions">
            <button className="btn btn-primary" type="submit" disabled={busy}>
              Save
            </button>
            <button className="btn" type="button" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <>
          <div className="project-main">
            <Link to={`/projects/${project.id}/dashboard`} className="project-name">
              {project.name}
            </Link>
            <span className="muted">{project.domain || "no domain set"}</span>
            <span className="key-line">
              <code>{project.writeKey}</code> <CopyButton text={project.writeKey} label="Copy key" />
            </span>
          </div>
          <div className="row-actions">
            <Link className="btn btn-small" to={`/projects/${project.id}/setup`}>
              Setup
            </Link>
            <Link className="btn btn-small" to={`/projects/${project.id}/settings`}>
              Settings
            </Link>
            <button className="btn btn-small" type="button" onClick={() => setEditing(true)}>
              Rename
            </button>
            <button className="btn btn-small" type="button" disabled={busy} aria-expanded={asking === "rotate"} onClick={() => setAsking("rotate")}>
              Rotate key
            </button>
            <button className="btn btn-small btn-danger" type="button" disabled={busy} aria-expanded={asking === "delete"} onClick={() => setAsking("delete")}>
              Delete
            </button>
          </div>
          {asking === "delete" && <DeleteProjectConfirm project={project} onCancel={() => setAsking(null)} />}
          {asking === "rotate" && (
            <div className="confirm" role="alertdialog" aria-label="Confirm key rotation">
              <p>
                Rotate the write key of “{project.name}”? Sites using the old key stop sending events until you update
                them.
              </p>
              <div className="row-actions">
                <button
                  className="btn btn-small btn-primary"
                  type="button"
                  disabled={busy}
                  autoFocus
                  onClick={() => {
                    setAsking(null);
                    void run(async () => upsert(await projectsApi.rotateKey(project.id)));
                  }}
                >
                  Yes, rotate the key
                </button>
                <button className="btn btn-small" type="button" onClick={() => setAsking(null)}>
                  Cancel
                </button>
              </div>
            </div>
          )}
        </>
      )}
      {error && !editing && <ErrorBox error={error} />}
    </li>
  );
}

export function ProjectsPage() {
  const { projects, error, reload, upsert } = useProjects();
  const [name, setName] = useState("");
  const [domain, setDomain] = useState("");
  const [createError, setCreateError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const navigate = useNavigate();
  // a project deleted a moment ago (here or on its settings page): its deletion job, followed below
  const deleted = (useLocation().state as DeletedProject | null)?.deleted;
  // the list of jobs is asked again when the deletion followed above ends, to show the same outcome
  const [jobsSeen, setJobsSeen] = useState(0);
  const jobEnded = useCallback(() => setJobsSeen((n) => n + 1), []);

  async function create(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setCreateError(null);
    try {
      const created = await projectsApi.create({ name, domain: domain || null });
      upsert(created);
      navigate(`/projects/${created.id}/setup`); // the next thing to do: install the snippet
    } catch (err) {
      setCreateError(err as ApiError);
      setBusy(false);
    }
  }

  return (
    <>
      <PageTitle>Projects</PageTitle>
      {deleted && (
        <Card title="Deleting a project">
          <JobProgress
            jobId={deleted.job.id}
            title={<>“{deleted.name}” is gone from your projects; its data:</>}
            onFinished={jobEnded}
          />
        </Card>
      )}
      <div className="grid-2 grid-wide-left">
        <Card title="Your projects">
          {error && <ErrorBox error={error} onRetry={reload} />}
          {!projects && !error && <Spinner />}
          {projects && projects.length === 0 && (
            <EmptyState title="No projects yet">Create a project to get a write key and start sending events.</EmptyState>
          )}
          {projects && projects.length > 0 && (
            <ul className="project-list">
              {projects.map((p) => (
                <ProjectRow key={p.id} project={p} />
              ))}
            </ul>
          )}
        </Card>
        <Card title="New project">
          <form onSubmit={create} className="stack">
            <Field label="Project name" required value={name} onChange={(e) => setName(e.target.value)} error={createError?.fields.name} />
            <Field label="Website domain (optional)" placeholder="example.com" value={domain} onChange={(e) => setDomain(e.target.value)} error={createError?.fields.domain} />
            {createError && !Object.keys(createError.fields).length && <ErrorBox error={createError} />}
            <div>
              <button className="btn btn-primary" type="submit" disabled={busy || !name.trim()}>
                Create project
              </button>
            </div>
          </form>
        </Card>
      </div>
      <Card title="Data jobs">
        <p className="muted">Deletions and erasures run in the background; each says here what it deleted.</p>
        <DataJobList refresh={`${deleted?.job.id}:${jobsSeen}`} />
      </Card>
    </>
  );
}
