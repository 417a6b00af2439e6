// Deleting a project: asked in the page, confirmed by typing the project's name. The project
// leaves the list at once; its data is deleted by a background job, whose progress the projects
// page shows (it is handed there in the navigation's state).
import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router";

import type { ApiError } from "../api/client";
import { projects as projectsApi } from "../api/endpoints";
import type { DataJob, Project } from "../api/types";
import { useProjects } from "../state/projects";
import { ErrorBox, Field } from "./ui";

/** What the projects page is handed after a deletion, to follow its job. */
export interface DeletedProject {
  deleted: { job: DataJob; name: string };
}

export function DeleteProjectConfirm({ project, onCancel }: { project: Project; onCancel: () => void }) {
  const { remove } = useProjects();
  const navigate = useNavigate();
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);

  async function confirm(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const job = await projectsApi.remove(project.id);
      remove(project.id);
      const state: DeletedProject = { deleted: { job, name: project.name } };
      navigate("/projects", { state });
    } catch (err) {
      setError(err as ApiError);
      setBusy(false);
    }
  }

  return (
    <form className="confirm stack" role="alertdialog" aria-label="Confirm deletion" onSubmit={confirm}>
      <p>
        Delete “{project.name}” and all its events, people, sessions and reports? Its write key stops working at
        once. This cannot be undone.
      </p>
      <Field
        label="Type the project's name to confirm"
        value={typed}
        autoComplete="off"
        autoFocus
        onChange={(e) => setTyped(e.target.value)}
        hint={<>Type “{project.name}”.</>}
      />
      {error && <ErrorBox error={error} />}
      <div className="row-actions">
        <button className="btn btn-small btn-danger" type="submit" disabled={busy || typed !== project.name}>
          Yes, delete it
        </button>
        <button className="btn btn-small" type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
