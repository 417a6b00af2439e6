// The signed-in user's projects, loaded once and updated in place by the projects page.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";

import { ApiError } from "../api/client";
import { projects as projectsApi } from "../api/endpoints";
import type { Project } from "../api/types";

interface ProjectsState {
  projects: Project[] | null;
  error: ApiError | null;
  reload(): Promise<void>;
  upsert(p: Project): void;
  remove(id: number): void;
}

const ProjectsContext = createContext<ProjectsState | null>(null);

export function ProjectsProvider({ children }: { children: ReactNode }) {
  const [projects, setProjects] = useState<Project[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);

  const reload = useCallback(async () => {
    try {
      setProjects(await projectsApi.list());
      setError(null);
    } catch (e) {
      setError(e instanceof ApiError ? e : new ApiError(0, { message: String(e) }));
    }
  }, []);

  useEffect(() => {
    void reload();
  }, [reload]);

  const value = useMemo<ProjectsState>(
    () => ({
      projects,
      error,
      reload,
      upsert(p) {
        setProjects((list) => {
          const rest = (list || []).filter((x) => x.id !== p.id);
          const at = (list || []).findIndex((x) => x.id === p.id);
          if (at < 0) return [...rest, p];
          const copy = [...(list || [])];
          copy[at] = p;
          return copy;
        });
      },
      remove(id) {
        setProjects((list) => (list || []).filter((x) => x.id !== id));
      },
    }),
    [projects, error, reload],
  );
  return <ProjectsContext.Provider value={value}>{children}</ProjectsContext.Provider>;
}

export function useProjects(): ProjectsState {
  const ctx = useContext(ProjectsContext);
  if (!ctx) throw new Error("useProjects outside ProjectsProvider");
  return ctx;
}
