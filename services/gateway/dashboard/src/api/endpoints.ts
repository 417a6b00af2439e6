// Typed calls to the gateway's API (users and tracking services behind it).
import { api, download, type RequestOptions } from "./client";
import type {
  Breakdown,
  ChangePasswordRequest,
  CreateProjectRequest,
  EventPage,
  FunnelRequest,
  FunnelResult,
  LoginRequest,
  Person,
  Project,
  ProjectList,
  Realtime,
  RegisterRequest,
  Registration,
  Retention,
  Session,
  Summary,
  Timeseries,
  UpdateMeRequest,
  UpdateProjectRequest,
  User,
} from "./types";

type Query = RequestOptions["query"];

export const auth = {
  register: (body: RegisterRequest) =>
    api<Registration>("/api/auth/register", { method: "POST", body, anonymous: true }),
  login: (body: LoginRequest) => api<Session>("/api/auth/login", { method: "POST", body, anonymous: true }),
  logout: () => api<void>("/api/auth/logout", { method: "POST" }),
};

export const me = {
  get: () => api<User>("/api/me"),
  update: (body: UpdateMeRequest) => api<User>("/api/me", { method: "PATCH", body }),
  changePassword: (body: ChangePasswordRequest) =>
    api<void>("/api/me/password", { method: "POST", body }),
};

export const projects = {
  list: () => api<ProjectList>("/api/projects").then((r) => r.projects),
  create: (body: CreateProjectRequest) => api<Project>("/api/projects", { method: "POST", body }),
  update: (id: number, body: UpdateProjectRequest) =>
    api<Project>(`/api/projects/${id}`, { method: "PATCH", body }),
  remove: (id: number) => api<void>(`/api/projects/${id}`, { method: "DELETE" }),
  rotateKey: (id: number) => api<Project>(`/api/projects/${id}/rotate-key`, { method: "POST" }),
};

const base = (pid: number) => `/api/projects/${pid}`;

export const stats = {
  summary: (pid: number, query: Query, signal?: AbortSignal) =>
    api<Summary>(`${base(pid)}/stats/summary`, { query, signal }),
  timeseries: (pid: number, query: Query, signal?: AbortSignal) =>
    api<Timeseries>(`${base(pid)}/stats/timeseries`, { query, signal }),
  breakdown: (pid: number, query: Query, signal?: AbortSignal) =>
    api<Breakdown>(`${base(pid)}/stats/breakdown`, { query, signal }),
};

export const funnels = {
  run: (pid: number, body: FunnelRequest, signal?: AbortSignal) =>
    api<FunnelResult>(`${base(pid)}/funnels`, { method: "POST", body, signal }),
};

export const retention = {
  get: (pid: number, query: Query, signal?: AbortSignal) =>
    api<Retention>(`${base(pid)}/retention`, { query, signal }),
};

export const realtime = {
  get: (pid: number, signal?: AbortSignal, filters?: string) =>
    api<Realtime>(`${base(pid)}/realtime`, { signal, query: { filters, limit: 50 } }),
  streamPath: (pid: number) => `${base(pid)}/realtime/stream`,
};

export const events = {
  list: (pid: number, query: Query, signal?: AbortSignal) =>
    api<EventPage>(`${base(pid)}/events`, { query, signal }),
  person: (pid: number, personId: string, query?: Query, signal?: AbortSignal) =>
    api<Person>(`${base(pid)}/persons/${encodeURIComponent(personId)}`, { query, signal }),
  exportCsv: (pid: number, query: Query, filename: string) =>
    download(`${base(pid)}/events/export`, filename, { query: { ...query, format: "csv" } }),
};
