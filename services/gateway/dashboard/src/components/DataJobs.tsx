// Data jobs: a project's deletion, a person's erasure, a retention run. Each runs in the
// background; these components show its status and how many rows it deleted, table by table,
// asking the API again every few seconds until the job is done or failed.
import { useEffect, useRef, type ReactNode } from "react";

import { dataJobs } from "../api/endpoints";
import type { DataJob } from "../api/types";
import { formatDateTime, formatNumber } from "../format";
import { useProjects } from "../state/projects";
import { useAsync } from "../state/useAsync";
import { EmptyState, ErrorBox, Spinner } from "./ui";

const POLL_MS = 1000;

const KINDS: Record<DataJob["kind"], string> = {
  delete_project: "Project deletion",
  erase_person: "Person erasure",
  retention: "Retention",
};

const STATUSES: Record<DataJob["status"], string> = {
  queued: "Queued",
  running: "Running",
  done: "Done",
  failed: "Failed",
};

export function isFinished(job: DataJob): boolean {
  return job.status === "done" || job.status === "failed";
}

function rowsTotal(job: DataJob): number {
  return Object.values(job.rowsDeleted || {}).reduce((sum, n) => sum + n, 0);
}

/** Ask again after POLL_MS while `pending`; `data` changes with every answer, which re-arms the timer. */
function usePoll(data: unknown, pending: boolean, reload: () => void, every = POLL_MS) {
  useEffect(() => {
    if (!pending) return;
    const timer = window.setTimeout(reload, every);
    return () => window.clearTimeout(timer);
  }, [data, pending, reload, every]);
}

export function JobStatus({ job }: { job: DataJob }) {
  return <span className={`badge job-${job.status}`}>{STATUSES[job.status]}</span>;
}

/** The rows deleted so far, in all and table by table. */
function RowsDeleted({ job }: { job: DataJob }) {
  const tables = Object.entries(job.rowsDeleted || {}).filter(([, n]) => n > 0);
  const total = rowsTotal(job);
  const text = `${formatNumber(total)} ${total === 1 ? "row" : "rows"} deleted`;
  if (!tables.length) return <span>{text}</span>;
  return (
    <details className="job-tables">
      <summary>{text}</summary>
      <ul>
        {tables
          .sort(([, a], [, b]) => b - a)
          .map(([table, n]) => (
            <li key={table}>
              <code>{table}</code> {formatNumber(n)}
            </li>
          ))}
      </ul>
    </details>
  );
}

interface JobProgressProps {
  jobId: number | string;
  title: ReactNode;
  /** called once when the job is done or failed */
  onFinished?: (job: DataJob) => void;
}

/** One job followed until it ends (GET /api/data-jobs/{id} every second). */
export function JobProgress({ jobId, title, onFinished }: JobProgressProps) {
  const job = useAsync((signal) => dataJobs.get(jobId, signal), [jobId]);
  const data = job.data;
  const finished = !!data && isFinished(data);
  usePoll(data, !!data && !finished, job.reload);
  const told = useRef(false);
  useEffect(() => {
    if (finished && data && !told.current) {
      told.current = true;
      onFinished?.(data);
    }
  }, [finished, data, onFinished]);
  return (
    <div className="job-progress" data-testid="job-progress">
      <div className="job-line" role="status" aria-live="polite">
        <span>{title}</span>
        {data ? <JobStatus job={data} /> : <span className="muted">Asking for its status…</span>}
        {data && <RowsDeleted job={data} />}
      </div>
      {data?.status === "failed" && data.error && <ErrorBox error={data.error} />}
      {job.error && <ErrorBox error={job.error} onRetry={job.reload} />}
    </div>
  );
}

/** The account's data jobs, newest first (those of one project when `projectId` is given). */
/** `refresh`: a new value asks for the list again. */
export function DataJobList({ projectId, refresh }: { projectId?: number; refresh?: string }) {
  const jobs = useAsync((signal) => dataJobs.list(signal), [refresh]);
  const { projects } = useProjects();
  const list = (jobs.data?.jobs || []).filter((j) => projectId === undefined || j.projectId === projectId);
  usePoll(jobs.data, list.some((j) => !isFinished(j)), jobs.reload, 2 * POLL_MS);

  if (jobs.error && !jobs.data) return <ErrorBox error={jobs.error} onRetry={jobs.reload} />;
  if (!jobs.data) return <Spinner />;
  if (!list.length)
    return <EmptyState title="No data jobs yet">Deleting a project or erasing a person shows its progress here.</EmptyState>;
  const projectName = (id: number) => projects?.find((p) => p.id === id)?.name;
  return (
    <div className="table-scroll">
      <table className="table" data-testid="data-jobs">
        <thead>
          <tr>
            <th scope="col">Job</th>
            {projectId === undefined && <th scope="col">Project</th>}
            <th scope="col">Status</th>
            <th scope="col">Deleted</th>
            <th scope="col">Asked</th>
            <th scope="col">Finished</th>
          </tr>
        </thead>
        <tbody>
          {list.map((job) => (
            <tr key={job.id}>
              <td className="nowrap">{KINDS[job.kind]}</td>
              {projectId === undefined && (
                <td>{projectName(job.projectId) || <span className="muted">{job.projectName ?? `#${job.projectId}`} (deleted)</span>}</td>
              )}
              <td>
                <JobStatus job={job} />
                {job.status === "failed" && job.error && <div className="field-error">{job.error}</div>}
              </td>
              <td>
                <RowsDeleted job={job} />
              </td>
              <td className="nowrap">{formatDateTime(job.createdAt)}</td>
              <td className="nowrap">{formatDateTime(job.finishedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
