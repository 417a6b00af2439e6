import { useState, type FormEvent } from "react";

import type { ApiError } from "../api/client";
import { projects as projectsApi } from "../api/endpoints";
import type { Project, RetentionDays } from "../api/types";
import { DataJobList } from "../components/DataJobs";
import { DeleteProjectConfirm } from "../components/DeleteProject";
import { ShareLinksCard } from "../components/ShareLinks";
import { Card, ErrorBox, PageTitle } from "../components/ui";
import { useProjects } from "../state/projects";

/** The retention periods offered; a period set another way (the API) is shown as its days. */
const RETENTION_CHOICES: { days: RetentionDays; label: string }[] = [
  { days: null, label: "Forever" },
  { days: 30, label: "30 days" },
  { days: 90, label: "90 days" },
  { days: 180, label: "6 months" },
  { days: 365, label: "1 year" },
  { days: 730, label: "2 years" },
  { days: 1825, label: "5 years" },
];

const FOREVER = "forever";

function retentionLabel(days: RetentionDays): string {
  return RETENTION_CHOICES.find((c) => c.days === days)?.label || `${days} days`;
}

function RetentionCard({ project }: { project: Project }) {
  const { upsert } = useProjects();
  const saved = project.retentionDays ?? null;
  const [chosen, setChosen] = useState<RetentionDays>(saved);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ ok?: string; err?: ApiError } | null>(null);
  const choices = RETENTION_CHOICES.some((c) => c.days === saved)
    ? RETENTION_CHOICES
    : [...RETENTION_CHOICES, { days: saved, label: retentionLabel(saved) }];

  async function save(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setMessage(null);
    try {
      const updated = await projectsApi.update(project.id, { retentionDays: chosen });
      upsert(updated);
      const days = updated.retentionDays ?? null;
      setMessage({
        ok: days === null ? "Saved: events are kept forever." : `Saved: events older than ${retentionLabel(days)} are deleted daily.`,
      });
    } catch (err) {
      setMessage({ err: err as ApiError });
    } finally {
      setBusy(false);
    }
  }

  return (
    <Card title="Data retention">
      <form className="stack" onSubmit={save}>
        <div className="field">
          <label htmlFor="retention">Keep events for</label>
          <select
            id="retention"
            aria-describedby="retention-hint"
            value={chosen === null ? FOREVER : String(chosen)}
            onChange={(e) => {
              setChosen(e.target.value === FOREVER ? null : Number(e.target.value));
              setMessage(null);
            }}
          >
            {choices.map((c) => (
              <option key={c.label} value={c.days === null ? FOREVER : String(c.days)}>
                {c.label}
              </option>
            ))}
          </select>
          <div id="retention-hint" className="field-hint">
            Events older than this are deleted daily, with the reports' numbers for those days and the people not seen since. Forever keeps every event.
          </div>
        </div>
        {message?.err && <ErrorBox error={message.err.fields.retentionDays ? `Retention ${message.err.fields.retentionDays}` : message.err} />}
        {message?.ok && (
          <p className="success" role="status">
            {message.ok}
          </p>
        )}
        <div>
          <button className="btn btn-primary" type="submit" disabled={busy || chosen === saved}>
            Save retention
          </button>
        </div>
      </form>
    </Card>
  );
}

function fileName(project: Project, extension: string): string {
  const slug = project.name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "project";
  return `${slug}-events.${extension}`;
}

function ExportCard({ project }: { project: Project }) {
  const [busy, setBusy] = useState<"ndjson" | "csv" | null>(null);
  const [error, setError] = useState<ApiError | null>(null);

  async function exportAs(format: "ndjson" | "csv") {
    setBusy(format);
    setError(null);
    try {
      await projectsApi.exportEvents(project.id, format, fileName(project, format));
    } catch (err) {
      setError(err as ApiError);
    } finally {
      setBusy(null);
    }
  }

  return (
    <Card title="Export all events">
      <div className="stack">
        <p className="muted">
          Every event of the project as one file: NDJSON with one Segment-shaped event per line, or CSV for a
          spreadsheet. For a very large project, <code>tme export</code> resumes where it stopped.
        </p>
        <div className="row-actions">
          <button className="btn" type="button" disabled={!!busy} onClick={() => void exportAs("ndjson")}>
            {busy === "ndjson" ? "Preparing NDJSON…" : "Download NDJSON"}
          </button>
          <button className="btn" type="button" disabled={!!busy} onClick={() => void exportAs("csv")}>
            {busy === "csv" ? "Preparing CSV…" : "Download CSV"}
          </button>
        </div>
        {error && <ErrorBox error={error} />}
      </div>
    </Card>
  );
}

function DeleteCard({ project }: { project: Project }) {
  const [asking, setAsking] = useState(false);
  return (
    <Card title="Delete project" className="danger-zone">
      <div className="stack">
        <p className="muted">
          Deletes the project with every event, person, session and report of it, in the background. Its write key
          stops working at once.
        </p>
        {asking ? (
          <DeleteProjectConfirm project={project} onCancel={() => setAsking(false)} />
        ) : (
          <div>
            <button className="btn btn-danger" type="button" aria-expanded={false} onClick={() => setAsking(true)}>
              Delete project…
            </button>
          </div>
        )}
      </div>
    </Card>
  );
}

export function ProjectSettingsPage({ project }: { project: Project }) {
  return (
    <>
      <PageTitle>Settings</PageTitle>
      <div className="grid-2">
        <RetentionCard project={project} />
        <ExportCard project={project} />
      </div>
      {(project.role === "admin" || project.role === "owner") && <ShareLinksCard project={project} />}
      <Card title="Erasures and deletions">
        <p className="muted">
          This project's data jobs. Erase a person from their page (the person link in Events); all your jobs are listed
          on the projects page.
        </p>
        <DataJobList projectId={project.id} />
      </Card>
      <DeleteCard project={project} />
    </>
  );
}
