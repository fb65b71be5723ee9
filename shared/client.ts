/**
 * A small typed client for Kiln's frontend: REST calls with the session token, and live
 * subscriptions to organizations and tasks through the RivetKit client mounted at /api/rivet.
 *
 * ```ts
 * const kiln = createKilnClient({ baseUrl: "http://localhost:7741", token });
 * const me = await kiln.me();
 * const stop = kiln.subscribeOrganization(me.organizations[0].id, {
 *   onTaskSummary: (task) => render(task),
 * });
 * ```
 */
import { hc, type ClientResponse } from "hono/client";
import type { ResponseFormat } from "hono/types";
import type { SuccessStatusCode } from "hono/utils/http-status";
import { createClient } from "rivetkit/client";
import { keys } from "./keys.js";
import type { Registry } from "../actors/registry.js";
import type { KilnApi } from "../server/routes/api.js";
import type { ErrorBody, ErrorCode } from "./errors.js";
import type { CreateTokenBody } from "./schemas/device.js";
import type { CreatePullRequestBody } from "./schemas/github.js";
import type { OrgMemberRole, OrgSettingsUpdate, OrgSummary } from "./schemas/org.js";
import type { GitHubOrgSummary } from "./schemas/github.js";
import type { OpenSessionBody, SessionEvent, SessionSummary } from "./schemas/session.js";
import type { CreateWorkerBody, WorkerDeleted, WorkerView } from "./schemas/worker.js";
import type { CreateTaskBody, RuntimeIssue, TaskDetail, TaskSummary, TaskUnread, Workbench } from "./schemas/task.js";

export interface KilnClientOptions {
  /** Kiln's origin, e.g. `http://localhost:7741`. */
  baseUrl: string;
  /** The better-auth session token from sign-in. */
  token: string;
  fetch?: typeof fetch;
}

/**
 * What a failed call reports: Kiln's error body, or one the client makes when Kiln did not answer
 * (`unreachable`, status 0) or answered something that is not Kiln's error shape (`unexpected_response`).
 */
export type ClientErrorBody = Omit<ErrorBody, "error"> & { error: ErrorCode | "unreachable" | "unexpected_response" };

/** A REST error, carrying Kiln's stable error code. */
export class KilnApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ClientErrorBody,
  ) {
    super(body.message);
    this.name = "KilnApiError";
  }

  get code(): ClientErrorBody["error"] {
    return this.body.error;
  }
}

/** What every subscription can report besides its events. */
export interface LiveHandlers {
  /**
   * The subscription is live, first and after each reconnect. Events sent while it was not are
   * not replayed, so read the current state here (a REST GET) and apply events on top of it.
   */
  onOpen?(): void;
  /**
   * A refusal (`unauthorized`, `forbidden`), reported once: the subscription then stops for good,
   * since retrying cannot fix it. Or a failure of the connection, after which it reconnects.
   */
  onError?(error: unknown): void;
  /** The connection dropped; it reconnects by itself (and `onOpen` says when), so a page shows itself offline meanwhile. */
  onClose?(): void;
}

export interface OrganizationHandlers extends LiveHandlers {
  onOrganization?(org: OrgSummary): void;
  onTaskSummary?(task: TaskSummary): void;
  onRuntimeIssues?(issues: RuntimeIssue[]): void;
  /** One of the org's cloud workers changed: its new `{ worker, instance }` view. */
  onWorker?(view: WorkerView): void;
  /** One of the org's cloud workers is gone. */
  onWorkerDeleted?(workerId: string): void;
  /** The org's GitHub connection and sync progress (`OrgSummary.github`), whenever the org's summary changes; null without one. */
  onGitHub?(github: GitHubOrgSummary | null): void;
  /**
   * Your own unread mark on a task changed (another member's turn ended, or you read it). Other
   * members' marks are never sent to you. `listTasks` answers the current marks as `unread`.
   */
  onTaskUnread?(change: TaskUnread): void;
}

export interface TaskHandlers extends LiveHandlers {
  onTask?(task: TaskDetail): void;
  /** Your own workbench state only; other members' is never sent to you. */
  onWorkbench?(workbench: Workbench): void;
}

export interface WorkerHandlers extends LiveHandlers {
  /** The worker's new view, on every change (provisioning → healthy | failed, renames, teardown attempts). */
  onWorker?(view: WorkerView): void;
  /** The worker and its instance are gone. */
  onDeleted?(): void;
}

export interface SessionHandlers extends LiveHandlers {
  onSession?(session: SessionSummary): void;
  /** One transcript event, as it arrives. */
  onEvent?(event: SessionEvent): void;
}

/** The part of a RivetKit connection a subscription uses for its lifecycle. */
interface LiveConnection {
  onOpen(callback: () => void): unknown;
  onError(callback: (error: unknown) => void): unknown;
  onClose(callback: () => void): unknown;
  dispose(): Promise<void>;
}

/** The part of a RivetKit actor handle a subscription uses. */
interface LiveHandle<C extends LiveConnection> {
  resolve(): Promise<string>;
  connect(): C;
}

/** How a subscription asks for its actor's handle: with params the connection reads on each (re)connect. */
type OpenHandle<C extends LiveConnection> = (options: { getParams(): Promise<unknown> }) => LiveHandle<C>;

/** Refusals a retry cannot fix. */
const REFUSALS = new Set(["unauthorized", "forbidden"]);

function isRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && REFUSALS.has(code);
}

/**
 * Connects a subscription and wires the lifecycle handlers every subscription shares; returns its
 * unsubscribe. RivetKit's connection retries everything forever, refusals included, and retries a
 * refused lookup without telling anyone. So the actor is looked up first, and a refusal, then or
 * later, stops the subscription and is reported once.
 */
function live<C extends LiveConnection>(params: unknown, open: OpenHandle<C>, handlers: LiveHandlers, wire: (conn: C) => void): Unsubscribe {
  const { onOpen, onError, onClose } = handlers;
  let stopped = false;
  let conn: C | undefined;
  // Read on every reconnect: once refused, the attempt RivetKit has already started fails here,
  // before it opens a socket.
  const handle = open({
    getParams: async () => {
      if (stopped) throw new Error("This subscription was refused.");
      return params;
    },
  });
  const refused = (error: unknown) => {
    if (stopped) return;
    stopped = true;
    onError?.(error);
    // Not from inside RivetKit's error callback: it starts its retry loop right after, and a loop
    // started after the dispose never sees the abort.
    setTimeout(() => void conn?.dispose(), 0);
  };
  const start = () => {
    if (stopped) return;
    const c = handle.connect();
    conn = c;
    wire(c);
    if (onOpen) c.onOpen(() => onOpen());
    if (onClose) c.onClose(() => onClose());
    c.onError((error) => {
      if (isRefusal(error)) refused(error);
      else if (!stopped) onError?.(error);
    });
  };
  // Any other lookup failure (Kiln restarting) is left to the connection, which retries it.
  handle.resolve().then(start, (error: unknown) => (isRefusal(error) ? refused(error) : start()));
  return async () => {
    if (stopped) return;
    stopped = true;
    await conn?.dispose();
  };
}

export type Unsubscribe = () => Promise<void>;

/** The JSON body of a response's success statuses. */
type OkBody<R> = R extends ClientResponse<infer T, infer S, infer _F> ? (S extends SuccessStatusCode ? T : never) : never;

/** Turns a non-2xx answer into a KilnApiError, and a network failure into one with status 0. */
async function unwrap<R extends ClientResponse<unknown, number, ResponseFormat>>(call: Promise<R>): Promise<OkBody<R>> {
  let res: R;
  try {
    res = await call;
  } catch (err) {
    throw new KilnApiError(0, { error: "unreachable", message: `Kiln did not answer: ${err instanceof Error ? err.message : String(err)}` });
  }
  if (res.status === 204) return undefined as OkBody<R>;
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const body = isErrorBody(json) ? json : { error: "unexpected_response" as const, message: `Kiln answered ${res.status} ${res.statusText}`.trim() };
    throw new KilnApiError(res.status, body);
  }
  return json as OkBody<R>;
}

function isErrorBody(v: unknown): v is ErrorBody {
  return typeof v === "object" && v !== null && typeof (v as ErrorBody).error === "string" && typeof (v as ErrorBody).message === "string";
}

/** Email sign-up and sign-in, before there is a token. Each answers the session token and the user. */
export function createKilnAuth(opts: { baseUrl: string; fetch?: typeof fetch }) {
  const base = opts.baseUrl.replace(/\/+$/, "");
  const doFetch = opts.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const post = <T>(path: string, body: unknown) =>
    unwrap(doFetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }) as Promise<ClientResponse<T, 200, "json">>);
  return {
    signUp: (body: SignUpBody) => post<AuthResult>("/api/auth/sign-up/email", body),
    signIn: (body: SignInBody) => post<AuthResult>("/api/auth/sign-in/email", body),
    /** Starts an OAuth sign-in (e.g. `github`): send the browser to the returned `url`. */
    signInSocial: (provider: string, callbackURL: string) => post<{ url: string; redirect: boolean }>("/api/auth/sign-in/social", { provider, callbackURL }),
    /** The session a cookie carries (after an OAuth redirect), with its token; null when signed out. */
    cookieSession: async (): Promise<{ token: string } | null> => {
      const r = await unwrap(doFetch(`${base}/api/auth/get-session`, { credentials: "include" }) as Promise<ClientResponse<{ session: { token: string } } | null, 200, "json">>);
      return r?.session?.token ? { token: r.session.token } : null;
    },
  };
}

/**
 * Passes on only events newer than the last one passed for the same key (by `revision`, or a
 * transcript event's `index`): an event that arrives late must never overwrite newer state.
 * Handlers given one `last` map share it (a worker's updates and its deletion).
 */
function newestOnly<T>(order: (e: T) => number, key: (e: T) => string, handler: (e: T) => void, last = new Map<string, number>()): (e: T) => void {
  return (e) => {
    const k = key(e);
    const seen = last.get(k);
    if (seen !== undefined && order(e) <= seen) return;
    last.set(k, order(e));
    handler(e);
  };
}

const byRevision = (e: { revision: number }) => e.revision;
const byId = (e: { id: string }) => e.id;
const byWorkerId = (e: WorkerView) => e.worker.id;
const single = () => "";

export function createKilnClient(opts: KilnClientOptions) {
  const base = opts.baseUrl.replace(/\/+$/, "");
  const doFetch = opts.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  // The header signs the actor lookups in; connections and actions carry the token in `params`.
  const rivet = createClient<Registry>({
    endpoint: `${base}/api/rivet`,
    disableMetadataLookup: true,
    headers: { authorization: `Bearer ${opts.token}` },
    // On localhost RivetKit would otherwise inject a script from releases.rivet.dev into the page.
    devtools: false,
  });
  const params = { token: opts.token };
  const api = hc<KilnApi>(base, { fetch: doFetch, headers: { authorization: `Bearer ${opts.token}` } }).v1;
  const orgs = api.orgs[":orgId"];
  const tasks = orgs.tasks[":taskId"];
  const sessions = tasks.sessions[":sessionId"];
  const workers = api.workers[":id"];
  type TaskRef = { orgId: string; taskId: string };
  type SessionRef = TaskRef & { sessionId: string };

  return {
    /** The RivetKit client, for calling actor actions directly. */
    actors: rivet,

    me: () => unwrap(api.me.$get()),
    signOut: () =>
      unwrap(doFetch(`${base}/api/auth/sign-out`, { method: "POST", headers: { authorization: `Bearer ${opts.token}`, "content-type": "application/json" }, body: "{}" }) as Promise<ClientResponse<{ success: boolean }, 200, "json">>),

    getOrg: (orgId: string) => unwrap(orgs.$get({ param: { orgId } })).then((r) => r.organization),
    updateOrgSettings: (orgId: string, json: OrgSettingsUpdate) => unwrap(orgs.settings.$patch({ param: { orgId }, json })).then((r) => r.organization),

    listRepos: (orgId: string) => unwrap(orgs.repos.$get({ param: { orgId } })).then((r) => r.repos),
    addRepo: (orgId: string, remoteUrl: string) => unwrap(orgs.repos.$post({ param: { orgId }, json: { remoteUrl } })).then((r) => r.repo),
    repoHistory: (orgId: string, repoId: string, query: { taskId?: string; limit?: number } = {}) =>
      unwrap(orgs.repos[":repoId"].history.$get({ param: { orgId, repoId }, query: stringQuery(query) })).then((r) => r.events),

    /** One page of tasks, newest first; pass `nextCursor` back as `cursor` for the next. */
    listTasks: (orgId: string, query: { repoId?: string; limit?: number; cursor?: string } = {}) => unwrap(orgs.tasks.$get({ param: { orgId }, query: stringQuery(query) })),
    createTask: (orgId: string, json: CreateTaskBody) => unwrap(orgs.tasks.$post({ param: { orgId }, json })).then((r) => r.task),
    getTask: (orgId: string, taskId: string) => unwrap(tasks.$get({ param: { orgId, taskId } })),
    renameTask: (orgId: string, taskId: string, title: string) => unwrap(tasks.$patch({ param: { orgId, taskId }, json: { title } })),
    renameBranch: (orgId: string, taskId: string, name: string) => unwrap(tasks.branch.$post({ param: { orgId, taskId }, json: { name } })),
    archiveTask: (orgId: string, taskId: string) => unwrap(tasks.archive.$post({ param: { orgId, taskId } })),
    killTask: (orgId: string, taskId: string) => unwrap(tasks.$delete({ param: { orgId, taskId } })),
    /** Your own draft for a session; nobody else sees it. */
    saveDraft: (ref: SessionRef, text: string) => unwrap(sessions.draft.$put({ param: ref, json: { text } })).then((r) => r.workbench),
    markRead: (ref: SessionRef) => unwrap(sessions.read.$post({ param: ref })).then((r) => r.workbench),
    markUnread: (ref: SessionRef) => unwrap(sessions.unread.$post({ param: ref })).then((r) => r.workbench),

    /** Team organizations: create one, invite by email, answer your invitations, manage members. */
    createOrg: (name: string) => unwrap(api.orgs.$post({ json: { name } })).then((r) => r.organization),
    invite: (orgId: string, email: string, role: OrgMemberRole = "member") =>
      unwrap(orgs.invitations.$post({ param: { orgId }, json: { email, role } })).then((r) => r.invitation),
    /** The org's pending invitations. */
    listInvitations: (orgId: string) => unwrap(orgs.invitations.$get({ param: { orgId } })).then((r) => r.invitations),
    revokeInvitation: (orgId: string, invitationId: string) => unwrap(orgs.invitations[":invitationId"].$delete({ param: { orgId, invitationId } })),
    /** Invitations addressed to you. */
    myInvitations: () => unwrap(api.invitations.$get()).then((r) => r.invitations),
    acceptInvitation: (invitationId: string) => unwrap(api.invitations[":invitationId"].accept.$post({ param: { invitationId } })).then((r) => r.organization),
    declineInvitation: (invitationId: string) => unwrap(api.invitations[":invitationId"].decline.$post({ param: { invitationId } })),
    listMembers: (orgId: string) => unwrap(orgs.members.$get({ param: { orgId } })).then((r) => r.members),
    setMemberRole: (orgId: string, userId: string, role: OrgMemberRole) =>
      unwrap(orgs.members[":userId"].$patch({ param: { orgId, userId }, json: { role } })).then((r) => r.organization),
    removeMember: (orgId: string, userId: string) => unwrap(orgs.members[":userId"].$delete({ param: { orgId, userId } })),

    /** Personal access tokens (with a signed-in session only); the secret is in this answer only. */
    createToken: (json: CreateTokenBody) => unwrap(api.tokens.$post({ json })),
    listTokens: () => unwrap(api.tokens.$get()).then((r) => r.tokens),
    revokeToken: (id: string) => unwrap(api.tokens[":id"].$delete({ param: { id } })),

    openSession: (orgId: string, taskId: string, body: OpenSessionBody = {}) =>
      unwrap(tasks.sessions.$post({ param: { orgId, taskId }, json: body })).then((r) => r.session),
    getSession: (ref: SessionRef) => unwrap(sessions.$get({ param: ref })).then((r) => r.session),
    closeSession: (ref: SessionRef) => unwrap(sessions.$delete({ param: ref })).then((r) => r.session),
    sendMessage: (orgId: string, taskId: string, sessionId: string, text: string) =>
      unwrap(sessions.messages.$post({ param: { orgId, taskId, sessionId }, json: { text } })).then((r) => r.session),
    stopTurn: (orgId: string, taskId: string, sessionId: string) => unwrap(sessions.stop.$post({ param: { orgId, taskId, sessionId } })).then((r) => r.session),
    sessionEvents: (orgId: string, taskId: string, sessionId: string, after = 0, limit = 200) =>
      unwrap(sessions.events.$get({ param: { orgId, taskId, sessionId }, query: stringQuery({ after, limit }) })),

    listRuntimeIssues: (orgId: string) => unwrap(orgs["runtime-issues"].$get({ param: { orgId } })).then((r) => r.issues),
    /** Clears all of the org's runtime issues, or one actor's. */
    clearRuntimeIssues: (orgId: string, actorId?: string) =>
      unwrap(orgs["runtime-issues"].clear.$post({ param: { orgId }, json: actorId ? { actorId } : {} })).then((r) => r.issues),

    /** Creates a cloud or local worker; its `tokens` are shown only in this answer. */
    createWorker: (json: CreateWorkerBody) => unwrap(api.workers.$post({ json })),
    listWorkers: (query: { orgId?: string; limit?: number } = {}) => unwrap(api.workers.$get({ query: stringQuery(query) })).then((r) => r.workers),
    getWorker: (id: string) => unwrap(workers.$get({ param: { id } })),
    renameWorker: (id: string, name: string) => unwrap(workers.$patch({ param: { id }, json: { name } })),
    deleteWorker: (id: string) => unwrap(workers.$delete({ param: { id } })),
    rotateWorkerTokens: (id: string) => unwrap(workers.tokens.$post({ param: { id } })).then((r) => r.tokens),

    /** The org's GitHub connection (installation, sync progress); sync and reconnect are for owners and admins. */
    githubConnection: (orgId: string) => unwrap(orgs.github.$get({ param: { orgId } })),
    githubSync: (orgId: string) => unwrap(orgs.github.sync.$post({ param: { orgId } })),
    githubReconnect: (orgId: string) => unwrap(orgs.github.reconnect.$post({ param: { orgId } })),
    /**
     * Pushes the task's branch and opens its pull request on GitHub (a task on a repository of the
     * org's GitHub App installation); an open one for the branch is linked, not duplicated.
     */
    openPullRequest: (orgId: string, taskId: string, json: CreatePullRequestBody = {}) =>
      unwrap(tasks["pull-request"].$post({ param: { orgId, taskId }, json })).then((r) => r.pullRequest),

    /** The Mac app's devices: mint a device-bound token (shown once), list, relabel, delete. */
    mintDeviceToken: (json: JsonOf<typeof api.devices["mint-token"]["$post"]>) => unwrap(api.devices["mint-token"].$post({ json })),
    listDevices: () => unwrap(api.devices.$get()),
    relabelDevice: (id: string, json: JsonOf<(typeof api.devices)[":id"]["$patch"]>) => unwrap(api.devices[":id"].$patch({ param: { id }, json })),
    deleteDevice: (id: string) => unwrap(api.devices[":id"].$delete({ param: { id } })),

    /** The org's agents, which watchers run. */
    listAgents: (orgId: string) => unwrap(orgs.agents.$get({ param: { orgId } })),
    createAgent: (orgId: string, json: JsonOf<typeof orgs.agents.$post>) => unwrap(orgs.agents.$post({ param: { orgId }, json })),
    updateAgent: (orgId: string, id: string, json: JsonOf<(typeof orgs.agents)[":id"]["$patch"]>) => unwrap(orgs.agents[":id"].$patch({ param: { orgId, id }, json })),
    deleteAgent: (orgId: string, id: string) => unwrap(orgs.agents[":id"].$delete({ param: { orgId, id } })),

    /** Watchers: cron-scheduled agent runs, optionally pinned to a device. */
    listWatchers: (orgId: string) => unwrap(orgs.watchers.$get({ param: { orgId } })),
    createWatcher: (orgId: string, json: JsonOf<typeof orgs.watchers.$post>) => unwrap(orgs.watchers.$post({ param: { orgId }, json })),
    getWatcher: (orgId: string, id: string) => unwrap(orgs.watchers[":id"].$get({ param: { orgId, id } })),
    updateWatcher: (orgId: string, id: string, json: JsonOf<(typeof orgs.watchers)[":id"]["$patch"]>) => unwrap(orgs.watchers[":id"].$patch({ param: { orgId, id }, json })),
    archiveWatcher: (orgId: string, id: string) => unwrap(orgs.watchers[":id"].$delete({ param: { orgId, id } })),
    watcherRuns: (orgId: string, id: string, query: { limit?: number; before?: string } = {}) =>
      unwrap(orgs.watchers[":id"].runs.$get({ param: { orgId, id }, query: stringQuery(query) })),

    /** Live organization state: its profile, task summaries, your unread marks, runtime issues and cloud workers, each event carrying the new state. */
    subscribeOrganization(orgId: string, handlers: OrganizationHandlers): Unsubscribe {
      return live(params, (o) => rivet.organization.get(keys.organization(orgId), o), handlers, (conn) => {
        if (handlers.onOrganization) conn.on("orgUpdated", newestOnly(byRevision, single, handlers.onOrganization));
        const onGitHub = handlers.onGitHub;
        if (onGitHub) conn.on("orgUpdated", newestOnly(byRevision, single, (org: OrgSummary) => onGitHub(org.github ?? null)));
        if (handlers.onTaskSummary) conn.on("taskSummaryUpdated", newestOnly(byRevision, byId, handlers.onTaskSummary));
        if (handlers.onRuntimeIssues) conn.on("runtimeIssuesUpdated", handlers.onRuntimeIssues);
        const workers = new Map<string, number>();
        if (handlers.onWorker) conn.on("workerUpdated", newestOnly(byRevision, byWorkerId, handlers.onWorker, workers));
        const onWorkerDeleted = handlers.onWorkerDeleted;
        if (onWorkerDeleted) conn.on("workerDeleted", newestOnly(byRevision, byId, (e: WorkerDeleted) => onWorkerDeleted(e.id), workers));
        if (handlers.onTaskUnread) conn.on("taskUnreadUpdated", newestOnly(byRevision, (e: TaskUnread) => e.taskId, handlers.onTaskUnread));
      });
    },

    /** Live task state: its detail and lifecycle, and your own workbench state. */
    subscribeTask(orgId: string, task: Pick<TaskSummary, "id" | "repoId">, handlers: TaskHandlers): Unsubscribe {
      return live(params, (o) => rivet.task.get(keys.task(orgId, task.repoId, task.id), o), handlers, (conn) => {
        if (handlers.onTask) conn.on("taskUpdated", newestOnly(byRevision, single, handlers.onTask));
        if (handlers.onWorkbench) conn.on("workbenchUpdated", handlers.onWorkbench);
      });
    },

    /** Live session: its status and each transcript event as it arrives. */
    subscribeSession(orgId: string, task: Pick<TaskSummary, "id" | "repoId">, sessionId: string, handlers: SessionHandlers): Unsubscribe {
      return live(params, (o) => rivet.taskSession.get(keys.session(orgId, task.repoId, task.id, sessionId), o), handlers, (conn) => {
        if (handlers.onSession) conn.on("sessionUpdated", newestOnly(byRevision, single, handlers.onSession));
        if (handlers.onEvent) conn.on("sessionEvent", newestOnly((e: SessionEvent) => e.index, single, handlers.onEvent));
      });
    },

    /** Live cloud worker, instead of polling `GET /v1/workers/:id`. Call `view()` on the worker for the current state. */
    subscribeWorker(orgId: string, workerId: string, handlers: WorkerHandlers): Unsubscribe {
      return live(params, (o) => rivet.worker.get(keys.worker(orgId, workerId), o), handlers, (conn) => {
        const seen = new Map<string, number>();
        if (handlers.onWorker) conn.on("workerUpdated", newestOnly(byRevision, single, handlers.onWorker, seen));
        const onDeleted = handlers.onDeleted;
        if (onDeleted) conn.on("workerDeleted", newestOnly(byRevision, single, () => onDeleted(), seen));
      });
    },

    dispose: () => rivet.dispose(),
  };
}

export type KilnClient = ReturnType<typeof createKilnClient>;
export type KilnAuthClient = ReturnType<typeof createKilnAuth>;

interface AuthResult {
  token: string;
  user: { id: string; email: string; name: string };
}
interface SignUpBody {
  email: string;
  password: string;
  name: string;
}
interface SignInBody {
  email: string;
  password: string;
}

/** The JSON body a typed route call takes. */
type JsonOf<F> = F extends (args: infer A, ...rest: never[]) => unknown ? (A extends { json: infer J } ? J : never) : never;

/** Query values as the URL carries them (the routes coerce them back), leaving out the unset ones. */
function stringQuery<Q extends Record<string, string | number | undefined>>(q: Q): { [K in keyof Q]: string } {
  return Object.fromEntries(Object.entries(q).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)]]))) as { [K in keyof Q]: string };
}
