// Typed calls to the gateway's API (users and tracking services behind it).
import { api, download, type RequestOptions } from "./client";
import type {
  ApiKey,
  ApiKeyList,
  ApiKeySecret,
  Breakdown,
  ChangePasswordRequest,
  AccountDeletion,
  AuditPage,
  AuditQuery,
  CreateApiKeyRequest,
  CreateProjectRequest,
  DataJob,
  DataJobList,
  DeleteMeRequest,
  ErasureAccepted,
  ErasureRequest,
  EventPage,
  FunnelRequest,
  FunnelResult,
  CreateInvitationRequest,
  InvitationAccepted,
  InvitationCreated,
  InvitationList,
  InvitationView,
  LoginRequest,
  Member,
  MemberList,
  Team,
  TeamDeletion,
  TeamList,
  UpdateTeamRequest,
  Person,
  Project,
  ProjectList,
  Realtime,
  RegisterRequest,
  Registration,
  Retention,
  Session,
  ShareLinkCreated,
  ShareLinkList,
  CreateShareLinkRequest,
  SharedDashboard,
  Summary,
  Timeseries,
  UpdateMeRequest,
  UpdateProjectRequest,
  User,
} from "./types";

type Query = RequestOptions["query"];
/** Named in the audit record of what a deletion or an erasure asked from here. */
const CLIENT = { client: "dashboard" };

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
  /** Deletes the account and, as data jobs, all its projects; the password confirms it. */
  remove: (body: DeleteMeRequest) => api<AccountDeletion>("/api/me", { method: "DELETE", body, query: CLIENT }),
};

export const projects = {
  list: () => api<ProjectList>("/api/projects").then((r) => r.projects),
  create: (body: CreateProjectRequest) => api<Project>("/api/projects", { method: "POST", body }),
  update: (id: number, body: UpdateProjectRequest) =>
    api<Project>(`/api/projects/${id}`, { method: "PATCH", body }),
  /** The project is gone from the list at once; its data is deleted by the job answered. */
  remove: (id: number) => api<DataJob>(`/api/projects/${id}`, { method: "DELETE", query: CLIENT }),
  rotateKey: (id: number) => api<Project>(`/api/projects/${id}/rotate-key`, { method: "POST" }),
  /** Every event of the project as a file: NDJSON (Segment-shaped) or CSV. */
  exportEvents: (id: number, format: "ndjson" | "csv", filename: string) =>
    download(`/api/projects/${id}/export`, filename, { query: { format } }),
};

export const dataJobs = {
  list: (signal?: AbortSignal) => api<DataJobList>("/api/data-jobs", { signal }),
  get: (id: number | string, signal?: AbortSignal) => api<DataJob>(`/api/data-jobs/${id}`, { signal }),
};

/** The account's teams (personal first) and what their admins and owners change. */
export const teams = {
  list: (signal?: AbortSignal) => api<TeamList>("/api/teams", { signal }).then((r) => r.teams),
  update: (id: number, body: UpdateTeamRequest) => api<Team>(`/api/teams/${id}`, { method: "PATCH", body }),
  /** The team is gone at once; its projects' data is deleted by the jobs answered. */
  remove: (id: number) => api<TeamDeletion>(`/api/teams/${id}`, { method: "DELETE", query: CLIENT }),
  transfer: (id: number, userId: number) =>
    api<MemberList>(`/api/teams/${id}/transfer`, { method: "POST", body: { userId } }),
};

/** A team's members (guests: for its admins) and pending invitations. */
export const members = {
  list: (teamId: number, signal?: AbortSignal) => api<MemberList>(`/api/teams/${teamId}/members`, { signal }),
  setRole: (teamId: number, userId: number, role: Member["role"]) =>
    api<Member>(`/api/teams/${teamId}/members/${userId}`, { method: "PATCH", body: { role } }),
  /** Removes a member; your own id: you leave the team. */
  remove: (teamId: number, userId: number) => api<void>(`/api/teams/${teamId}/members/${userId}`, { method: "DELETE" }),
  removeGuest: (projectId: number, userId: number) =>
    api<void>(`/api/projects/${projectId}/guests/${userId}`, { method: "DELETE" }),
};

export const invitations = {
  list: (teamId: number, signal?: AbortSignal) =>
    api<InvitationList>(`/api/teams/${teamId}/invitations`, { signal }).then((r) => r.invitations),
  create: (teamId: number, body: CreateInvitationRequest) =>
    api<InvitationCreated>(`/api/teams/${teamId}/invitations`, { method: "POST", body }),
  revoke: (teamId: number, id: number) => api<void>(`/api/teams/${teamId}/invitations/${id}`, { method: "DELETE" }),
  /** What an invitation link offers, without a login. */
  open: (token: string, signal?: AbortSignal) =>
    api<InvitationView>(`/api/invitations/${encodeURIComponent(token)}`, { anonymous: true, signal }),
  accept: (token: string) =>
    api<InvitationAccepted>(`/api/invitations/${encodeURIComponent(token)}/accept`, { method: "POST" }),
};

/** A team's audit log (its admins only): `before` is the `nextBefore` of the page before. */
export const audit = {
  page: (teamId: number, query: AuditQuery, signal?: AbortSignal) =>
    api<AuditPage>(`/api/teams/${teamId}/audit`, { query, signal }),
};

const base = (pid: number) => `/api/projects/${pid}`;

/** Where a dashboard's figures come from: a project of the signed-in account, or a share link
 * (no login; its password, if any, in a header). `key` changes when the answers would. */
export interface StatsSource {
  base: string;
  key: string;
  options: Pick<RequestOptions, "anonymous" | "headers">;
}

export const projectStats = (pid: number): StatsSource => ({ base: base(pid), key: base(pid), options: {} });

/** The header a share link's password travels in: percent-encoded UTF-8, since headers are Latin-1. */
const SHARE_PASSWORD_HEADER = "X-TME-Share-Password";

function sharePassword(password?: string): Record<string, string> {
  return password ? { [SHARE_PASSWORD_HEADER]: encodeURIComponent(password) } : {};
}

export const sharedStats = (token: string, password?: string): StatsSource => {
  const path = `/api/share/${encodeURIComponent(token)}`;
  return { base: path, key: `${path}#${password || ""}`, options: { anonymous: true, headers: sharePassword(password) } };
};

export const stats = {
  summary: (source: StatsSource, query: Query, signal?: AbortSignal) =>
    api<Summary>(`${source.base}/stats/summary`, { ...source.options, query, signal }),
  timeseries: (source: StatsSource, query: Query, signal?: AbortSignal) =>
    api<Timeseries>(`${source.base}/stats/timeseries`, { ...source.options, query, signal }),
  breakdown: (source: StatsSource, query: Query, signal?: AbortSignal) =>
    api<Breakdown>(`${source.base}/stats/breakdown`, { ...source.options, query, signal }),
};

export const shareLinks = {
  list: (pid: number, signal?: AbortSignal) =>
    api<ShareLinkList>(`${base(pid)}/share-links`, { signal }).then((r) => r.shareLinks),
  create: (pid: number, body: CreateShareLinkRequest) =>
    api<ShareLinkCreated>(`${base(pid)}/share-links`, { method: "POST", body }),
  revoke: (pid: number, id: number) => api<void>(`${base(pid)}/share-links/${id}`, { method: "DELETE" }),
};

/** A team's API keys (its admins only): the secret is in the answer of create and rotate only. */
export const apiKeys = {
  list: (teamId: number, signal?: AbortSignal) =>
    api<ApiKeyList>(`/api/teams/${teamId}/api-keys`, { signal }).then((r) => r.apiKeys),
  create: (teamId: number, body: CreateApiKeyRequest) =>
    api<ApiKeySecret>(`/api/teams/${teamId}/api-keys`, { method: "POST", body }),
  rotate: (teamId: number, id: number) =>
    api<ApiKeySecret>(`/api/teams/${teamId}/api-keys/${id}/rotate`, { method: "POST" }),
  revoke: (teamId: number, id: number) => api<ApiKey>(`/api/teams/${teamId}/api-keys/${id}`, { method: "DELETE" }),
};

/** A shared dashboard, opened without a login. */
export const shared = {
  open: (token: string, password: string | undefined, signal?: AbortSignal) =>
    api<SharedDashboard>(`/api/share/${encodeURIComponent(token)}`, { anonymous: true, headers: sharePassword(password), signal }),
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

export const persons = {
  /** A subject access request: everything stored about the person, as a JSON file. */
  exportData: (pid: number, personId: string, filename: string) =>
    download(`${base(pid)}/persons/${encodeURIComponent(personId)}/export`, filename),
  /** Erase people (and every id linked to them) from the project, as a data job. */
  erase: (pid: number, body: ErasureRequest) =>
    api<ErasureAccepted>(`${base(pid)}/regulations`, { method: "POST", body, query: CLIENT }),
};
