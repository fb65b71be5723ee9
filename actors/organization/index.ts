import { actor, event, queue, UserError } from "rivetkit";
import { db } from "rivetkit/db/drizzle";
import { workflow } from "rivetkit/workflow";
import type { OrgKind, OrgMember, OrgMemberRole, OrgSummary } from "../../shared/schemas/org.js";
import { OrgProfileUpdateSchema, OrgSettingsUpdateSchema } from "../../shared/schemas/org.js";
import type { WorkerDeleted, WorkerTokens, WorkerView } from "../../shared/schemas/worker.js";
import type { GitHubOrgSummary } from "../../shared/schemas/github.js";
import { ListTasksQuerySchema, type ListTasksQuery, type Repo, type RuntimeIssue, type RuntimeIssueReport, type TaskPage, type TaskSummary, type TaskUnread } from "../../shared/schemas/task.js";
import { ACTOR_ERRORS, closeMemberConnections, forbidden, internalOnly, internalParams, parseInput, resolveCaller, trackOrgConnections, type Caller } from "../auth.js";
import { reportRuntimeIssue } from "../runtime-issues.js";
import { keys } from "../../shared/keys.js";
import type { Registry } from "../registry.js";
import { normalizeRemote, probeRemote, repoIdFor } from "../repository/remote.js";
import { nextRevision } from "../revision.js";
import { sandboxProviderAllowed } from "../sandbox/index.js";
import { ActorLock } from "../lock.js";
import { actorLog, actorServices, type OrgInvitationRow } from "../services.js";
import { invitationExpiresAt, type Invitation } from "../../shared/schemas/members.js";
import { replaceMembers, taskOnBranch, tasksOnBranches, upsertGitHubRepos, type GitHubRepoRow } from "./github.js";
import { answerInvitation, changeRole, invite, removeMemberAs, revokeInvitation } from "./members.js";
import { repos, schema } from "./db.js";
import { orgDeviceActions, provisionDefaultAgent, type DeviceAnnouncement, type OrgDeviceState } from "./devices.js";
import type { WatcherSummary } from "../../shared/schemas/watcher.js";
import { clearRuntimeIssues, insertRuntimeIssue, listRuntimeIssues, resolveIssuesOf } from "./issues.js";
import { migrations } from "./migrations.js";
import { TaskListView } from "./task-index.js";
import { adoptWorkers, applyWorkerChange, createWorker, getWorker, listWorkers, resumeWorkers, type OrgWorkerState, type WorkerChange } from "./workers.js";
import { sendUnreadChanges, UnreadView, type TaskUnreadPush } from "./unread.js";
import { applyTaskSummary, clearSpawnInput, findRepo, findTask, insertTask, listRepos, reserveBranch, rowToSummary, tasksToResume } from "./tasks.js";
import { spawnOnce, spawnTask, type SpawnMessage } from "./spawn.js";
import { own } from "../../shared/records.js";


/** A GitHub account's profile as a `github` org shows it. */
interface GitHubProfile {
  login: string;
  avatarUrl: string | null;
}

/** Input given when Kiln creates an organization; clients can never create one. */
export interface OrganizationInput {
  id: string;
  kind: OrgKind;
  name: string;
  /** Absent for a GitHub org, whose members come from GitHub. */
  owner?: { userId: string; name: string; email: string };
}

export interface OrganizationState extends OrgDeviceState, OrgWorkerState {
  /** Null when the actor was reached without Kiln's creation input: it then refuses everyone. */
  id: string | null;
  kind: OrgKind;
  name: string;
  createdAt: string;
  updatedAt: string;
  members: Record<string, OrgMember>;
  /** Where new task sandboxes run; null (or absent in older state) means the Kiln's default. */
  sandboxProvider?: string | null;
  /** Pending invitations by id (team orgs; absent in older state). */
  invitations?: Record<string, OrgInvitationRow>;
  /** The summary's revision (`actors/revision.ts`); absent in older state. */
  revision?: number;
  /** A `github` org's GitHub account: its login and avatar (its display name is `name`); absent otherwise. */
  githubProfile?: GitHubProfile;
  /** The GitHub connection's status and sync progress as GitHubStateActor last pushed it, with that push's revision. */
  github?: { summary: GitHubOrgSummary; revision: number } | null;
}

function initialState(input: OrganizationInput | undefined): OrganizationState {
  const now = new Date().toISOString();
  if (!input) return { id: null, kind: "personal", name: "", createdAt: now, updatedAt: now, members: {} };
  const state: OrganizationState = {
    id: input.id,
    kind: input.kind,
    name: input.name,
    createdAt: now,
    updatedAt: now,
    members: input.owner ? { [input.owner.userId]: { ...input.owner, role: "owner", joinedAt: now } } : {},
  };
  provisionDefaultAgent(state);
  return state;
}

function summarize(state: OrganizationState): OrgSummary {
  return {
    id: state.id ?? "",
    kind: state.kind,
    name: state.name,
    createdAt: state.createdAt,
    updatedAt: state.updatedAt,
    members: Object.values(state.members).sort((a, b) => a.joinedAt.localeCompare(b.joinedAt)),
    sandboxProvider: state.sandboxProvider ?? null,
    github: state.github?.summary ?? null,
    ...(state.githubProfile ? { githubLogin: state.githubProfile.login, avatarUrl: state.githubProfile.avatarUrl } : {}),
    revision: state.revision ?? 0,
  };
}

const MANAGER_ROLES: readonly OrgMemberRole[] = ["owner", "admin"];

/**
 * OrganizationActor, key ["org", orgId]: the org's profile and members, the source of truth
 * for membership. Every connection is authorized against `members` before it is accepted,
 * so non-members never receive an action result or an event.
 */
export const organization = actor({
  createState: (_c, input: OrganizationInput | undefined): OrganizationState => initialState(input),
  /**
   * `lock`: branch-name choices and runtime-issue writes run one at a time (ACTORS.md,
   * "Concurrency"). `indexPush`: membership pushes to the gateway's index land in order.
   */
  createVars: (): IndexPushVars & { lock: ActorLock; taskList: TaskListView; unread: UnreadView; spawning: Map<string, Promise<void>> } => ({
    indexPush: Promise.resolve(),
    lock: new ActorLock(),
    taskList: new TaskListView(),
    unread: new UnreadView(),
    // Task ids whose TaskActor is being created right now (`spawn.ts`): one creation per task.
    spawning: new Map(),
  }),
  createConnState: async (c, params: unknown): Promise<Caller> => {
    const caller = await resolveCaller(params);
    if (caller.internal && caller.userId === null) return caller;
    if (c.state.id === null || caller.userId === null || !c.state.members[caller.userId]) throw forbidden();
    trackOrgConnections(c.state.id, c);
    return caller;
  },
  db: db({ schema, migrations }),
  queues: {
    /** A task created behind its 202: its TaskActor is still to be created (`spawn.ts`). */
    spawn: queue<SpawnMessage>({ canPublish: internalOnly }),
  },
  // A burst of creations may queue up behind the TaskActor creations.
  options: { maxQueueSize: 10_000 },
  run: workflow(
    async (ctx) => {
      await ctx.loop("spawn-loop", async (loop) => {
        const msg = await loop.queue.next("wait-spawn", { names: ["spawn"] });
        // Creating the TaskActor blocks the event loop for milliseconds (RivetKit opens its SQLite
        // files synchronously): let the 202 that enqueued this go out first. Not durable, not needed.
        await new Promise((r) => setTimeout(r, 10));
        await spawnTask(loop, msg.body.taskId);
      });
    },
    {
      onError: (c, event): Promise<void> =>
        reportRuntimeIssue(c.client<Registry>(), { orgId: c.state.id, actorType: "organization", actorId: c.actorId, scope: "tasks" }, event),
    },
  ),
  events: {
    orgUpdated: event<OrgSummary>(),
    /** One task's new summary, whenever it changes. */
    taskSummaryUpdated: event<TaskSummary>(),
    /** The whole (bounded) runtime-issue list, whenever it changes. */
    runtimeIssuesUpdated: event<RuntimeIssue[]>(),
    /** One of the org's cloud workers changed (created, provisioning → healthy | failed, renamed, tearing down). */
    workerUpdated: event<WorkerView>(),
    /** One of the org's cloud workers is gone. */
    workerDeleted: event<WorkerDeleted>(),
    /** One task's unread mark changed for a member: sent only to that member's own connections. */
    taskUnreadUpdated: event<TaskUnread>(),
  },
  actions: {
    // The device API's agents, watchers and default provisioning (actors/organization/devices.ts).
    listAgents: (c) => orgDeviceActions.listAgents(c),
    createAgent: (c, body: unknown) => orgDeviceActions.createAgent(c, body),
    updateAgent: (c, agentId: string, body: unknown) => orgDeviceActions.updateAgent(c, agentId, body),
    deleteAgent: (c, agentId: string) => orgDeviceActions.deleteAgent(c, agentId),
    getAgent: (c, agentId: string) => orgDeviceActions.getAgent(c, agentId),
    listWatchers: (c) => orgDeviceActions.listWatchers(c),
    createWatcher: (c, body: unknown) => orgDeviceActions.createWatcher(c, body),
    recordWatcher: (c, summary: WatcherSummary) => orgDeviceActions.recordWatcher(c, summary),
    deviceRegistered: (c, device: DeviceAnnouncement) => orgDeviceActions.deviceRegistered(c, device),
    deviceRemoved: (c, deviceId: string) => orgDeviceActions.deviceRemoved(c, deviceId),

    /** The org as a member sees it. */
    summary: (c): OrgSummary => summarize(c.state),

    /** The calling user's role. */
    myRole: (c): OrgMemberRole | null => {
      const userId = c.conn.state.userId;
      return userId ? (own(c.state.members, userId)?.role ?? null) : null;
    },

    /** Owners and admins rename the organization. Personal orgs keep their owner's name. */
    updateProfile: async (c, update: unknown): Promise<OrgSummary> => {
      const userId = c.conn.state.userId;
      const role = userId ? own(c.state.members, userId)?.role : undefined;
      if (!c.conn.state.internal && (!role || !MANAGER_ROLES.includes(role))) {
        throw forbidden("Only owners and admins can change the organization.");
      }
      const profile = parseInput(OrgProfileUpdateSchema, update, "Invalid organization profile.");
      c.state.name = profile.name;
      return commit(c);
    },

    /**
     * Owners and admins choose where the org's new task sandboxes run (existing tasks keep
     * theirs). A provider this Kiln has no configuration for is refused.
     */
    updateSettings: async (c, update: unknown): Promise<OrgSummary> => {
      const userId = c.conn.state.userId;
      const role = userId ? own(c.state.members, userId)?.role : undefined;
      if (userId ? !role || !MANAGER_ROLES.includes(role) : !c.conn.state.internal) {
        throw forbidden("Only owners and admins can change the organization's settings.");
      }
      const provider = parseInput(OrgSettingsUpdateSchema, update, "Invalid organization settings.").sandboxProvider;
      const services = actorServices();
      if (provider === "daytona" && !services.daytona) {
        throw new UserError("Daytona is not configured on this Kiln (DAYTONA_API_KEY is unset).", { code: "provider_not_configured" });
      }
      if (provider && !sandboxProviderAllowed(provider, services.defaultSandboxProvider)) {
        throw new UserError(`This Kiln runs sandboxes on ${services.defaultSandboxProvider}; "${provider}" would run agents on its own machine.`, {
          code: "provider_not_allowed",
        });
      }
      requireExists(c.state);
      c.state.sandboxProvider = provider;
      return commit(c);
    },

    /**
     * Kiln-internal: makes sure the org exists with this owner. Idempotent, so sign-up
     * and `/v1/me` can both call it; a crash between them never leaves a user orgless.
     */
    ensure: async (c, input: OrganizationInput): Promise<OrgSummary> => {
      requireInternal(c.conn.state);
      if (c.state.id === null) Object.assign(c.state, initialState(input));
      provisionDefaultAgent(c.state);
      if (input.owner && !c.state.members[input.owner.userId]) {
        c.state.members[input.owner.userId] = { ...input.owner, role: "owner", joinedAt: new Date().toISOString() };
      }
      return commit(c);
    },

    /** Kiln-internal: adds or updates a member (GitHub membership sync, test helpers). */
    upsertMember: async (c, member: Omit<OrgMember, "joinedAt">): Promise<OrgSummary> => {
      requireInternal(c.conn.state);
      requireExists(c.state);
      const existing = c.state.members[member.userId];
      c.state.members[member.userId] = { ...member, joinedAt: existing?.joinedAt ?? new Date().toISOString() };
      return commit(c);
    },

    /** Owners and admins invite by email into a team org; `conflict` for a member or a pending invitation. */
    invite: async (c, body: unknown): Promise<Invitation> => {
      const row = invite(c.state, c.conn.state, body);
      await commit(c);
      return invitationView(c.state, row);
    },

    /** Members see the org's pending invitations. */
    listInvitations: (c): Invitation[] => Object.values(c.state.invitations ?? {}).map((row) => invitationView(c.state, row)),

    revokeInvitation: async (c, invitationId: string): Promise<void> => {
      revokeInvitation(c.state, c.conn.state, String(invitationId));
      await commit(c);
    },

    /**
     * Kiln-internal (the invitee is not a member yet, so the gateway calls for them): accept or
     * decline. A second answer to the same invitation gets `invitation_not_found`.
     */
    answerInvitation: async (c, invitationId: string, user: { userId: string; name: string; email: string }, accept: boolean): Promise<OrgSummary> => {
      requireInternal(c.conn.state);
      requireExists(c.state);
      answerInvitation(c.state, String(invitationId), user, accept);
      return commit(c);
    },

    /** Owners and admins change a member's role; only owners touch the owner role; the last owner stays. */
    setMemberRole: async (c, userId: string, body: unknown): Promise<OrgSummary> => {
      changeRole(c.state, c.conn.state, String(userId), body);
      return commit(c);
    },

    /** Owners and admins remove a member, or a member leaves. Their live connections close at once. */
    removeMemberAs: async (c, userId: string): Promise<OrgSummary> => {
      removeMemberAs(c.state, c.conn.state, String(userId));
      // The index first, so a client reconnecting after the close is refused everywhere.
      const summary = await commit(c);
      // Everywhere in the org (tasks, sessions, workers…); the caller's own connection (a member
      // leaving) ends with this call, not inside it.
      await closeMemberConnections(summary.id, String(userId), c.conn);
      return summary;
    },

    /**
     * Kiln-internal (GitHubStateActor): the GitHub account's profile and, for a GitHub org, its
     * members who use Kiln. They replace the member list; removed members' connections close.
     */
    applyGitHubOrg: async (c, update: { name?: string; profile?: GitHubProfile; members?: { userId: string; name: string; email: string; role: OrgMemberRole }[] }): Promise<OrgSummary> => {
      requireInternal(c.conn.state);
      requireExists(c.state);
      if (c.state.kind !== "github") return summarize(c.state);
      if (update.name) c.state.name = update.name;
      if (update.profile) c.state.githubProfile = { login: String(update.profile.login), avatarUrl: update.profile.avatarUrl ? String(update.profile.avatarUrl) : null };
      const removed = update.members ? replaceMembers(c.state.members, update.members) : [];
      const summary = await commit(c);
      for (const userId of removed) await closeMemberConnections(summary.id, userId);
      return summary;
    },

    /**
     * Kiln-internal (GitHubStateActor): its status and sync progress, for the org's subscribers. A
     * push older than the one held is dropped. Not saved at once nor pushed to the index: the
     * GitHubStateActor holds the truth, and a lost progress figure is replaced by the next push.
     */
    recordGitHubStatus: (c, push: { summary: GitHubOrgSummary; revision: number }): boolean => {
      requireInternal(c.conn.state);
      if (c.state.id === null || push.revision <= (c.state.github?.revision ?? 0)) return false;
      c.state.github = { summary: push.summary, revision: push.revision };
      c.state.revision = nextRevision(c.state.revision);
      c.broadcast("orgUpdated", summarize(c.state));
      return true;
    },

    /** Kiln-internal (GitHubStateActor): the installation's repositories, copied into the repo index. */
    recordGitHubRepos: async (c, change: { upsert: GitHubRepoRow[]; hide: number[] }): Promise<void> => {
      requireInternal(c.conn.state);
      await upsertGitHubRepos(c.db, change.upsert, change.hide);
    },

    /** Kiln-internal (GitHubStateActor, a sync's batch): the tasks on any of these branches. */
    tasksOnBranches: async (c, pairs: { repoId: string; branch: string }[]): Promise<{ id: string; repoId: string; branch: string }[]> => {
      requireInternal(c.conn.state);
      return tasksOnBranches(c.db, Array.isArray(pairs) ? pairs.map((p) => ({ repoId: String(p.repoId), branch: String(p.branch) })) : []);
    },

    /** Kiln-internal (GitHubStateActor): the task on a repo's branch, to link a pull request. */
    taskOnBranch: async (c, repoId: string, branch: string): Promise<TaskSummary | null> => {
      requireInternal(c.conn.state);
      return taskOnBranch(c.db, String(repoId), String(branch));
    },

    listRepos: (c): Promise<Repo[]> => listRepos(c.db),

    /**
     * Adds a repository by remote URL after contacting the remote. Adding the same remote again
     * returns the existing repo.
     */
    addRepo: async (c, remoteUrl: string): Promise<{ repo: Repo; created: boolean }> => {
      const userId = requireUser(c.conn.state);
      const services = actorServices();
      const remote = normalizeRemote(String(remoteUrl ?? ""), services.allowLocalRemotes);
      const id = repoIdFor(remote.url);
      const existing = await findRepo(c.db, id);
      if (existing) return { repo: existing, created: false };
      const { defaultBranch } = await probeRemote(remote.url);
      const repo: Repo = { id, remoteUrl: remote.url, name: remote.name, defaultBranch, createdBy: userId, createdAt: new Date().toISOString() };
      // Two adds of one remote at once both get here; the insert decides which one created it.
      const inserted = await c.db.insert(repos).values(repo).onConflictDoNothing().returning({ id: repos.id });
      const orgId = requireExists(c.state);
      await c
        .client<Registry>()
        .repository.getOrCreate(keys.repository(orgId, id), {
          params: internalParams(),
          createWithInput: { orgId, repoId: id, remoteUrl: repo.remoteUrl, name: repo.name, defaultBranch },
        })
        .describe();
      return { repo: (await findRepo(c.db, id)) ?? repo, created: inserted.length > 0 };
    },

    /**
     * Creates a task: writes its index row (with what its TaskActor is to be created with) and
     * enqueues the rest on this actor's own `spawn` queue, both durable, then answers with the
     * `starting` summary. The `spawn-loop` workflow creates the TaskActor, enqueues its
     * provisioning and appends the history, behind the 202.
     */
    createTask: async (c, body: unknown): Promise<TaskSummary> => {
      const userId = requireUser(c.conn.state);
      const orgId = requireExists(c.state);
      // Locked: two tasks created at once must not both pick the same free branch name.
      const { input, summary } = await c.vars.lock.run(() => insertTask(c.db, orgId, userId, body, sandboxProviderFor(c.state.sandboxProvider)));
      c.vars.taskList.upsert(summary);
      // Sent before the TaskActor exists, so subscribers hear `queued` before any phase it pushes.
      c.broadcast("taskSummaryUpdated", summary);
      try {
        await c.queue.send("spawn", { taskId: input.taskId });
      } catch (err) {
        // Subscribers have seen the task: it stays, failed, rather than vanish from under them.
        const failed: TaskSummary = {
          ...summary,
          lifecycle: { ...summary.lifecycle, state: "error", label: "Failed", message: "Kiln could not start this task's provisioning. Create the task again." },
          updatedAt: new Date().toISOString(),
          revision: nextRevision(summary.revision),
        };
        if (await applyTaskSummary(c.db, failed)) {
          await clearSpawnInput(c.db, input.taskId);
          c.vars.taskList.upsert(failed);
          c.broadcast("taskSummaryUpdated", failed);
        }
        throw err;
      }
      return summary;
    },

    /**
     * Kiln-internal (the gateway, for a task it is about to address): creates the TaskActor now
     * if the spawn workflow has not yet, so a request right after the 202 finds it.
     */
    spawnTask: async (c, taskId: string): Promise<void> => {
      requireInternal(c.conn.state);
      await spawnOnce(c, String(taskId));
    },

    /**
     * Task summaries from this actor's own index (its in-memory list view): never a call per task.
     * Each says whether the caller has anything unread on it (their own marks only).
     */
    listTasks: async (c, query?: ListTasksQuery): Promise<TaskPage> => {
      const opts = parseInput(ListTasksQuerySchema, query ?? {}, "Invalid task list query.");
      await c.vars.unread.load(c.db);
      const userId = c.conn.state.userId;
      return c.vars.taskList.page(c.db, opts, (taskId) => c.vars.unread.isUnread(userId, taskId));
    },

    /** The same page as `listTasks`, already serialized: the REST route sends it as its body. */
    listTasksJson: async (c, query?: ListTasksQuery): Promise<string> => {
      const opts = parseInput(ListTasksQuerySchema, query ?? {}, "Invalid task list query.");
      await c.vars.unread.load(c.db);
      const userId = c.conn.state.userId;
      return c.vars.taskList.pageJson(c.db, opts, (taskId) => c.vars.unread.isUnread(userId, taskId));
    },

    /**
     * Kiln-internal: a TaskActor pushes the members with something unread on it whenever that set
     * changes. Each member whose mark changed hears it on their own connections, nobody else's.
     */
    recordTaskUnread: async (c, push: TaskUnreadPush): Promise<void> => {
      requireInternal(c.conn.state);
      sendUnreadChanges(c.conns.values(), await c.vars.unread.apply(c.db, push));
    },

    /** Where a task lives (its repo), for addressing its TaskActor. */
    locateTask: async (c, taskId: string): Promise<TaskSummary> => {
      // Every task route asks this first: answered from the list view, not SQL.
      const summary = await c.vars.taskList.find(c.db, String(taskId));
      if (!summary) throw new UserError(`No task ${String(taskId)} in this organization.`, { code: ACTOR_ERRORS.taskNotFound });
      return summary;
    },

    /** Kiln-internal: a TaskActor pushes its summary here whenever it changes. */
    recordTaskSummary: async (c, summary: TaskSummary): Promise<void> => {
      requireInternal(c.conn.state);
      if (await applyTaskSummary(c.db, summary)) {
        c.vars.taskList.upsert(summary);
        c.broadcast("taskSummaryUpdated", summary);
      }
    },

    /**
     * Kiln-internal, on behalf of a member: the gateway calls it once the paywall let the member
     * through (a member calling it directly would skip the paywall). Its id and tokens are minted
     * here, and the WorkerActor is created without waiting on it. The tokens are in this answer only.
     */
    createWorker: (c, body: unknown): Promise<{ view: WorkerView; tokens: WorkerTokens }> => {
      requireInternal(c.conn.state);
      return createWorker(c, requireExists(c.state), requireUser(c.conn.state), body);
    },

    /** The org's workers, newest first, from this actor's state: never a call per worker. */
    listWorkers: (c, limit?: number): WorkerView[] => listWorkers(c.state, limit),

    /** One worker's latest view, or null when it is not (or no longer) the org's. */
    getWorker: (c, workerId: string): WorkerView | null => getWorker(c.state, workerId),

    /**
     * Kiln-internal: a WorkerActor pushes its view (or its deletion) here on every change. Applied,
     * and broadcast to the org's subscribers, only when newer than the view held.
     */
    recordWorker: async (c, change: WorkerChange): Promise<void> => {
      requireInternal(c.conn.state);
      await applyWorkerChange(c, change);
    },

    /** Kiln-internal, after a restart: workers left provisioning or deleting get their command again. */
    resumeWorkers: async (c): Promise<number> => {
      requireInternal(c.conn.state);
      return resumeWorkers(c, requireExists(c.state));
    },

    /** Kiln-internal, once after an upgrade: the workers an earlier Kiln kept in the gateway's index join the list. */
    adoptWorkers: async (c, views: unknown): Promise<number> => {
      requireInternal(c.conn.state);
      return adoptWorkers(c, requireExists(c.state), views);
    },

    /** Kiln-internal: a task claims a branch name in its repo before renaming it in git. */
    reserveBranch: async (c, repoId: string, taskId: string, name: string): Promise<void> => {
      requireInternal(c.conn.state);
      await c.vars.lock.run(() => reserveBranch(c.db, repoId, taskId, name));
      const row = await findTask(c.db, taskId);
      if (row) c.vars.taskList.upsert(rowToSummary(row));
    },

    /** Kiln-internal: after a restart, resumes every task still provisioning, or fails it with a reason. */
    resumeTasks: async (c): Promise<{ resumed: number; failed: number }> => {
      requireInternal(c.conn.state);
      const orgId = requireExists(c.state);
      let resumed = 0;
      let failed = 0;
      for (const row of await tasksToResume(c.db)) {
        if (row.spawnInput) {
          // Created behind a 202 that the stop came right after: the spawn workflow creates it.
          await c.queue.send("spawn", { taskId: row.id });
          resumed += 1;
          continue;
        }
        try {
          await c
            .client<Registry>()
            .task.get(keys.task(orgId, row.repoId, row.id), { params: internalParams() })
            .send("commands", { type: "provision" }, { wait: false });
          resumed += 1;
        } catch (err) {
          // The row was written but Kiln stopped before the TaskActor existed: nothing can resume it.
          const message = "Kiln stopped before this task's provisioning started. Create the task again.";
          const summary: TaskSummary = { ...rowToSummary(row), lifecycle: { ...rowToSummary(row).lifecycle, state: "error", label: "Failed", message }, updatedAt: new Date().toISOString(), revision: nextRevision(row.revision) };
          if (await applyTaskSummary(c.db, summary)) c.vars.taskList.upsert(summary);
          c.broadcast("taskSummaryUpdated", summary);
          actorLog().warn({ err, taskId: row.id }, "could not resume task");
          failed += 1;
        }
      }
      return { resumed, failed };
    },

    listRuntimeIssues: (c): Promise<RuntimeIssue[]> => listRuntimeIssues(c.db),

    /** Kiln-internal: the `onError` hook of a workflow actor in this org reports here. */
    recordRuntimeIssue: async (c, report: RuntimeIssueReport): Promise<void> => {
      requireInternal(c.conn.state);
      // Locked, like every write to the list: each broadcast carries a list no older than the last one sent.
      await c.vars.lock.run(async () => {
        await insertRuntimeIssue(c.db, report);
        c.broadcast("runtimeIssuesUpdated", await listRuntimeIssues(c.db));
      });
    },

    /** Kiln-internal: an actor succeeded after failing; its open issues resolve. */
    resolveRuntimeIssues: async (c, actorId: string): Promise<void> => {
      requireInternal(c.conn.state);
      await c.vars.lock.run(async () => {
        if (await resolveIssuesOf(c.db, actorId)) c.broadcast("runtimeIssuesUpdated", await listRuntimeIssues(c.db));
      });
    },

    /** Members clear issues, all or one actor's. */
    clearRuntimeIssues: async (c, actorId?: string): Promise<RuntimeIssue[]> => {
      return c.vars.lock.run(async () => {
        await clearRuntimeIssues(c.db, typeof actorId === "string" ? actorId : undefined);
        const issues = await listRuntimeIssues(c.db);
        c.broadcast("runtimeIssuesUpdated", issues);
        return issues;
      });
    },

    /** Kiln-internal: removes a member and closes their live connections at once. */
    removeMember: async (c, userId: string): Promise<OrgSummary> => {
      requireInternal(c.conn.state);
      requireExists(c.state);
      if (own(c.state.members, userId)?.role === "owner" && c.state.kind === "personal") {
        throw new UserError("A personal organization always keeps its owner.", { code: ACTOR_ERRORS.conflict });
      }
      delete c.state.members[userId];
      // The index first, so the closed connections' reconnects are refused.
      const summary = await commit(c);
      await closeMemberConnections(summary.id, String(userId));
      return summary;
    },
  },
});

function requireUser(caller: Caller): string {
  if (!caller.userId) throw new UserError("This action is done on behalf of a user.", { code: ACTOR_ERRORS.invalidRequest });
  return caller.userId;
}

function requireInternal(caller: Caller): void {
  if (!caller.internal) throw forbidden("This action is internal to Kiln.");
}

function requireExists(state: OrganizationState): string {
  if (state.id === null) throw new UserError("Organization not found.", { code: ACTOR_ERRORS.notFound });
  return state.id;
}

interface IndexPushVars {
  /** The latest index push; each waits for the one before, so the index never ends on an older snapshot. */
  indexPush: Promise<void>;
}

interface CommitContext {
  state: OrganizationState;
  vars: IndexPushVars;
  saveState(opts: { immediate: boolean }): Promise<void>;
  broadcast(name: "orgUpdated", summary: OrgSummary): void;
}

function invitationView(state: OrganizationState, row: OrgInvitationRow): Invitation {
  return { ...row, orgId: state.id ?? "", orgName: state.name, expiresAt: invitationExpiresAt(row.createdAt) };
}

/**
 * Persists a change before acknowledging it (state is otherwise flushed only about once a second),
 * pushes it into the gateway's membership index, then tells subscribers the new state. Pushes run
 * one at a time and each sends the state as it is when it runs, so parallel changes all land.
 */
async function commit(c: CommitContext): Promise<OrgSummary> {
  c.state.updatedAt = new Date().toISOString();
  c.state.revision = nextRevision(c.state.revision);
  await c.saveState({ immediate: true });
  const push = c.vars.indexPush.catch(() => undefined).then(() => {
    const latest = summarize(c.state);
    return actorServices().syncOrgIndex({
      orgId: latest.id,
      kind: latest.kind,
      name: latest.name,
      members: latest.members.map((m) => ({ userId: m.userId, role: m.role })),
      invitations: Object.values(c.state.invitations ?? {}),
    });
  });
  c.vars.indexPush = push;
  await push;
  const summary = summarize(c.state);
  c.broadcast("orgUpdated", summary);
  return summary;
}

/**
 * Where this org's next task sandbox runs: its setting, unless the operator has since moved
 * sandboxes off the host (a setting saved earlier must not keep agents on Kiln's machine).
 */
function sandboxProviderFor(setting: string | null | undefined): string {
  const fallback = actorServices().defaultSandboxProvider;
  if (!setting) return fallback;
  if (sandboxProviderAllowed(setting, fallback)) return setting;
  actorLog().warn({ setting, provider: fallback }, "the organization's sandbox provider is no longer allowed here; using the default");
  return fallback;
}
