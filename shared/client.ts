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
import { createClient } from "rivetkit/client";
import { keys } from "./keys.js";
import type { Registry } from "../actors/registry.js";
import type { ErrorBody } from "./errors.js";
import type { Me } from "./schemas/auth.js";
import type { Invitation } from "./schemas/members.js";
import type { OrgMember, OrgMemberRole, OrgSummary } from "./schemas/org.js";
import type { OpenSessionBody, SessionEvent, SessionSummary } from "./schemas/session.js";
import type { WorkerView } from "./schemas/worker.js";
import type { CreateTaskBody, Repo, RuntimeIssue, TaskDetail, TaskPage, TaskSummary, TaskView, Workbench } from "./schemas/task.js";

export interface KilnClientOptions {
  /** Kiln's origin, e.g. `http://localhost:7741`. */
  baseUrl: string;
  /** The better-auth session token from sign-in. */
  token: string;
  fetch?: typeof fetch;
}

/** A REST error, carrying Kiln's stable error code. */
export class KilnApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
  ) {
    super(body.message);
    this.name = "KilnApiError";
  }

  get code(): string {
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
  /** A refusal (`forbidden`, `unauthorized`) or a failure of the connection. */
  onError?(error: unknown): void;
}

export interface OrganizationHandlers extends LiveHandlers {
  onOrganization?(org: OrgSummary): void;
  onTaskSummary?(task: TaskSummary): void;
  onRuntimeIssues?(issues: RuntimeIssue[]): void;
  /** One of the org's cloud workers changed: its new `{ worker, instance }` view. */
  onWorker?(view: WorkerView): void;
  /** One of the org's cloud workers is gone. */
  onWorkerDeleted?(workerId: string): void;
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
  dispose(): Promise<void>;
}

/** Wires the lifecycle handlers every subscription shares, and returns its unsubscribe. */
function live(conn: LiveConnection, handlers: LiveHandlers): Unsubscribe {
  const { onOpen, onError } = handlers;
  if (onOpen) conn.onOpen(() => onOpen());
  if (onError) conn.onError(onError);
  return () => conn.dispose();
}

export type Unsubscribe = () => Promise<void>;

export function createKilnClient(opts: KilnClientOptions) {
  const base = opts.baseUrl.replace(/\/+$/, "");
  const doFetch = opts.fetch ?? fetch;
  const rivet = createClient<Registry>({ endpoint: `${base}/api/rivet`, disableMetadataLookup: true });
  const params = { token: opts.token };

  async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${opts.token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await doFetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const json = (await res.json()) as unknown;
    if (!res.ok) throw new KilnApiError(res.status, json as ErrorBody);
    return json as T;
  }

  const org = (orgId: string) => `/v1/orgs/${encodeURIComponent(orgId)}`;
  const queryString = (q: Record<string, string | number | undefined>) => {
    const params = new URLSearchParams(Object.entries(q).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)]])));
    return params.size ? `?${params}` : "";
  };

  return {
    /** The RivetKit client, for calling actor actions directly. */
    actors: rivet,

    me: () => request<Me>("GET", "/v1/me"),
    listRepos: (orgId: string) => request<{ repos: Repo[] }>("GET", `${org(orgId)}/repos`).then((r) => r.repos),
    addRepo: (orgId: string, remoteUrl: string) => request<{ repo: Repo }>("POST", `${org(orgId)}/repos`, { remoteUrl }).then((r) => r.repo),
    /** One page of tasks, newest first; pass `nextCursor` back as `cursor` for the next. */
    listTasks: (orgId: string, query: { repoId?: string; limit?: number; cursor?: string } = {}) =>
      request<TaskPage>("GET", `${org(orgId)}/tasks${queryString(query)}`),
    createTask: (orgId: string, body: CreateTaskBody) => request<{ task: TaskSummary }>("POST", `${org(orgId)}/tasks`, body).then((r) => r.task),
    getTask: (orgId: string, taskId: string) => request<TaskView>("GET", `${org(orgId)}/tasks/${encodeURIComponent(taskId)}`),
    listRuntimeIssues: (orgId: string) => request<{ issues: RuntimeIssue[] }>("GET", `${org(orgId)}/runtime-issues`).then((r) => r.issues),

    /** Team organizations: create one, invite by email, answer your invitations, manage members. */
    createOrg: (name: string) => request<{ organization: OrgSummary }>("POST", "/v1/orgs", { name }).then((r) => r.organization),
    invite: (orgId: string, email: string, role: OrgMemberRole = "member") =>
      request<{ invitation: Invitation }>("POST", `${org(orgId)}/invitations`, { email, role }).then((r) => r.invitation),
    myInvitations: () => request<{ invitations: Invitation[] }>("GET", "/v1/invitations").then((r) => r.invitations),
    acceptInvitation: (invitationId: string) =>
      request<{ organization: OrgSummary }>("POST", `/v1/invitations/${encodeURIComponent(invitationId)}/accept`).then((r) => r.organization),
    listMembers: (orgId: string) => request<{ members: OrgMember[] }>("GET", `${org(orgId)}/members`).then((r) => r.members),
    setMemberRole: (orgId: string, userId: string, role: OrgMemberRole) =>
      request<{ organization: OrgSummary }>("PATCH", `${org(orgId)}/members/${encodeURIComponent(userId)}`, { role }).then((r) => r.organization),

    openSession: (orgId: string, taskId: string, body: OpenSessionBody = {}) =>
      request<{ session: SessionSummary }>("POST", `${org(orgId)}/tasks/${encodeURIComponent(taskId)}/sessions`, body).then((r) => r.session),
    sendMessage: (orgId: string, taskId: string, sessionId: string, text: string) =>
      request<{ session: SessionSummary }>("POST", `${org(orgId)}/tasks/${encodeURIComponent(taskId)}/sessions/${encodeURIComponent(sessionId)}/messages`, { text }).then(
        (r) => r.session,
      ),
    stopTurn: (orgId: string, taskId: string, sessionId: string) =>
      request<{ session: SessionSummary }>("POST", `${org(orgId)}/tasks/${encodeURIComponent(taskId)}/sessions/${encodeURIComponent(sessionId)}/stop`).then(
        (r) => r.session,
      ),
    sessionEvents: (orgId: string, taskId: string, sessionId: string, after = 0, limit = 200) =>
      request<{ events: SessionEvent[]; next: number | null }>(
        "GET",
        `${org(orgId)}/tasks/${encodeURIComponent(taskId)}/sessions/${encodeURIComponent(sessionId)}/events?after=${after}&limit=${limit}`,
      ),

    /** Live organization state: its profile, task summaries, runtime issues and cloud workers, each event carrying the new state. */
    subscribeOrganization(orgId: string, handlers: OrganizationHandlers): Unsubscribe {
      const conn = rivet.organization.get(keys.organization(orgId), { params }).connect();
      if (handlers.onOrganization) conn.on("orgUpdated", handlers.onOrganization);
      if (handlers.onTaskSummary) conn.on("taskSummaryUpdated", handlers.onTaskSummary);
      if (handlers.onRuntimeIssues) conn.on("runtimeIssuesUpdated", handlers.onRuntimeIssues);
      if (handlers.onWorker) conn.on("workerUpdated", handlers.onWorker);
      const onWorkerDeleted = handlers.onWorkerDeleted;
      if (onWorkerDeleted) conn.on("workerDeleted", (e: { id: string }) => onWorkerDeleted(e.id));
      return live(conn, handlers);
    },

    /** Live task state: its detail and lifecycle, and your own workbench state. */
    subscribeTask(orgId: string, task: Pick<TaskSummary, "id" | "repoId">, handlers: TaskHandlers): Unsubscribe {
      const conn = rivet.task.get(keys.task(orgId, task.repoId, task.id), { params }).connect();
      if (handlers.onTask) conn.on("taskUpdated", handlers.onTask);
      if (handlers.onWorkbench) conn.on("workbenchUpdated", handlers.onWorkbench);
      return live(conn, handlers);
    },

    /** Live session: its status and each transcript event as it arrives. */
    subscribeSession(orgId: string, task: Pick<TaskSummary, "id" | "repoId">, sessionId: string, handlers: SessionHandlers): Unsubscribe {
      const conn = rivet.taskSession.get(keys.session(orgId, task.repoId, task.id, sessionId), { params }).connect();
      if (handlers.onSession) conn.on("sessionUpdated", handlers.onSession);
      if (handlers.onEvent) conn.on("sessionEvent", handlers.onEvent);
      return live(conn, handlers);
    },

    /** Live cloud worker, instead of polling `GET /v1/workers/:id`. Call `view()` on the worker for the current state. */
    subscribeWorker(orgId: string, workerId: string, handlers: WorkerHandlers): Unsubscribe {
      const conn = rivet.worker.get(keys.worker(orgId, workerId), { params }).connect();
      if (handlers.onWorker) conn.on("workerUpdated", handlers.onWorker);
      const onDeleted = handlers.onDeleted;
      if (onDeleted) conn.on("workerDeleted", () => onDeleted());
      return live(conn, handlers);
    },

    dispose: () => rivet.dispose(),
  };
}

export type KilnClient = ReturnType<typeof createKilnClient>;
