// The API's shapes under the names the dashboard uses. Every type here is the generated schema.d.ts
// (openapi-typescript over the gateway's /api/openapi.json, written by scripts/build_web.sh), so a
// field the API does not describe is a type error. Nothing here restates a field of the API.
import type { components, paths } from "./schema";

type Schemas = components["schemas"];
/** One element of an array-valued field that the document may leave out. */
type Item<T> = NonNullable<T> extends readonly (infer U)[] ? U : never;
/** The JSON body an operation takes (`never` when it takes none, so sending one fails to compile). */
type JsonBody<Operation> = Operation extends { requestBody: { content: { "application/json": infer B } } } ? B : never;
/** The JSON an operation answers with the status `Code`. */
type JsonAnswer<Operation, Code extends number> = Operation extends {
  responses: { [C in Code]: { content: { "application/json": infer A } } };
}
  ? A
  : never;
/** The path of one project's own routes (`/api/projects/{id}`), whatever the document names its id. */
type ProjectPath = {
  [P in keyof paths]: P extends `/api/projects/{${infer Id}}` ? (Id extends `${string}/${string}` ? never : P) : never;
}[keyof paths];

export type ApiErrorBody = Schemas["Error"]["error"];
export type User = Schemas["User"];
export type Project = Schemas["Project"];
export type ProjectList = Schemas["ProjectList"];
/** A login (/api/auth/login, /refresh); a registration also carries the new project. */
export type Session = Schemas["Session"];
export type Registration = Schemas["Registration"];
export type AuthResponse = Session | Registration;

// request bodies by route and method, so they follow the API whatever their schemas are named
export type RegisterRequest = JsonBody<paths["/api/auth/register"]["post"]>;
export type LoginRequest = JsonBody<paths["/api/auth/login"]["post"]>;
export type UpdateMeRequest = JsonBody<paths["/api/me"]["patch"]>;
export type ChangePasswordRequest = JsonBody<paths["/api/me/password"]["post"]>;
export type CreateProjectRequest = JsonBody<paths["/api/projects"]["post"]>;
/** A patch: each field may be left out (openapi-typescript runs with --default-non-nullable false, so
 * a request field with a default is optional, as the API treats it). */
export type UpdateProjectRequest = JsonBody<paths[ProjectPath]["patch"]>;
export type DeleteMeRequest = JsonBody<paths["/api/me"]["delete"]>;

// data lifecycle: deletions and erasures run as jobs whose progress the dashboard follows
export type DataJob = JsonAnswer<paths[ProjectPath]["delete"], 202>;
export type DataJobList = JsonAnswer<paths["/api/data-jobs"]["get"], 200>;
export type AccountDeletion = JsonAnswer<paths["/api/me"]["delete"], 202>;
export type ErasureRequest = JsonBody<paths["/api/projects/{projectId}/regulations"]["post"]>;
export type ErasureAccepted = JsonAnswer<paths["/api/projects/{projectId}/regulations"]["post"], 202>;
/** Days a project keeps its events; null keeps them forever. */
export type RetentionDays = Project["retentionDays"];

// a team's audit log (its admins only), newest first, a page at a time
type AuditPath = "/api/teams/{teamId}/audit";
export type AuditPage = JsonAnswer<paths[AuditPath]["get"], 200>;
export type AuditEntry = Item<AuditPage["entries"]>;
export type AuditAction = AuditEntry["action"];
export type AuditQuery = NonNullable<paths[AuditPath]["get"]["parameters"]["query"]>;

type Condition = Schemas["AnalyticsCondition"];
export type FilterOp = NonNullable<Condition["op"]>;
/** A filter as the dashboard builds it: always with its operator, and a value typed in as text. */
export type Filter = Condition & { op: FilterOp; value?: string };

export type MetricValue = Schemas["AnalyticsMetric"];
export type Summary = Schemas["AnalyticsSummary"];

/** The summary's cards in the order they are shown; each must be a metric of the summary. */
export const METRICS = [
  "visitors",
  "pageviews",
  "sessions",
  "events",
  "bounceRate",
  "avgSessionDuration",
  "viewsPerSession",
] as const satisfies readonly (keyof Summary)[];
export type Metric = (typeof METRICS)[number];

type TimeseriesQuery = NonNullable<paths["/api/projects/{projectId}/stats/timeseries"]["get"]["parameters"]["query"]>;
/** Metrics the timeseries endpoint can chart (a subset of the cards). */
export const SERIES_METRICS = ["visitors", "pageviews", "sessions", "events"] as const satisfies readonly (Metric &
  NonNullable<TimeseriesQuery["metric"]>)[];

export type Timeseries = Schemas["AnalyticsTimeseries"];
export type TimePoint = Item<Timeseries["points"]>;

export type Breakdown = Schemas["AnalyticsBreakdown"];
export type BreakdownRow = Item<Breakdown["rows"]>;

export type FunnelRequest = JsonBody<paths["/api/projects/{projectId}/funnels"]["post"]>;
export type FunnelStepDef = Item<FunnelRequest["steps"]>;
export type FunnelResult = Schemas["AnalyticsFunnel"];
export type FunnelStep = Item<FunnelResult["steps"]>;

export type Retention = Schemas["AnalyticsRetention"];
export type Cohort = Item<Retention["cohorts"]>;

export type TrackedEvent = Schemas["AnalyticsEvent"];
export type EventPage = Schemas["AnalyticsEventPage"];
export type Person = Schemas["AnalyticsPerson"];
export type Realtime = Schemas["AnalyticsRealtime"];

// share links: a project's public, read-only dashboards
type ShareLinksPath = "/api/projects/{projectId}/share-links";
export type CreateShareLinkRequest = JsonBody<paths[ShareLinksPath]["post"]>;
export type ShareLinkCreated = JsonAnswer<paths[ShareLinksPath]["post"], 201>;
export type ShareLinkList = JsonAnswer<paths[ShareLinksPath]["get"], 200>;
export type ShareLink = Item<ShareLinkList["shareLinks"]>;
export type ShareParams = NonNullable<CreateShareLinkRequest["params"]>;
export type SharedDashboard = JsonAnswer<paths["/api/share/{token}"]["get"], 200>;

// API keys: a team's long-lived keys for scripts (secret shown once, when made or rotated)
type ApiKeysPath = "/api/teams/{teamId}/api-keys";
export type CreateApiKeyRequest = JsonBody<paths[ApiKeysPath]["post"]>;
export type ApiKeySecret = JsonAnswer<paths[ApiKeysPath]["post"], 201>;
export type ApiKeyList = JsonAnswer<paths[ApiKeysPath]["get"], 200>;
export type ApiKey = Item<ApiKeyList["apiKeys"]>;

// teams: an account's teams with its role in each, their members, guests and invitations
type TeamPath = "/api/teams/{teamId}";
export type TeamList = JsonAnswer<paths["/api/teams"]["get"], 200>;
export type Team = Item<TeamList["teams"]>;
export type Role = Team["role"];
export type UpdateTeamRequest = JsonBody<paths[TeamPath]["patch"]>;
export type TeamDeletion = JsonAnswer<paths[TeamPath]["delete"], 202>;
type MembersPath = "/api/teams/{teamId}/members";
export type MemberList = JsonAnswer<paths[MembersPath]["get"], 200>;
export type Member = Item<MemberList["members"]>;
export type Guest = Item<MemberList["guests"]>;
type InvitationsPath = "/api/teams/{teamId}/invitations";
export type CreateInvitationRequest = JsonBody<paths[InvitationsPath]["post"]>;
export type InvitationCreated = JsonAnswer<paths[InvitationsPath]["post"], 201>;
export type InvitationList = JsonAnswer<paths[InvitationsPath]["get"], 200>;
export type Invitation = Item<InvitationList["invitations"]>;
export type InvitationView = JsonAnswer<paths["/api/invitations/{token}"]["get"], 200>;
export type InvitationAccepted = JsonAnswer<paths["/api/invitations/{token}/accept"]["post"], 200>;
