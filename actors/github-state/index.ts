import { eq, and } from "drizzle-orm";
import { actor, event, queue, UserError } from "rivetkit";
import { db } from "rivetkit/db/drizzle";
import { workflow } from "rivetkit/workflow";
import type { GitHubStatus } from "../../shared/schemas/github.js";
import { ACTOR_ERRORS, authorizeOrgChild, forbidden, internalOnly, type Caller } from "../auth.js";
import { reportRuntimeIssue } from "../runtime-issues.js";
import { actorLog } from "../services.js";
import { deliveries, pulls, repos } from "./db.js";
import { migrations } from "./migrations.js";
import { broadcastStatus, currentStatus, githubServices, publishMembers, publishRepos } from "./publish.js";
import { initialGitHubState, type GitHubState, type GitHubStateInput, type GitHubWork, type InstallationInfo } from "./state.js";
import { runGitHubWork } from "./workflow.js";
import { openPullRequest, type OpenPullRequest } from "./pull-requests.js";
import { lockVars } from "../lock.js";
import { schema } from "./db.js";

/** A webhook delivery, verified by the gateway, as it is recorded. */
export interface DeliveryInput {
  id: string;
  event: string;
  action: string | null;
  /** The raw JSON body. */
  payload: string;
}

function requireInternal(caller: Caller): void {
  if (!caller.internal) throw forbidden("This action is internal to Kiln.");
}

/**
 * GitHubStateActor, key ["org", orgId, "github"]: the only actor that receives GitHub webhooks
 * or calls GitHub for an organization. Deliveries are recorded in its SQLite (the dedupe record)
 * before the gateway answers 202, then processed one at a time by its workflow.
 */
export const githubState = actor({
  createState: (_c, input: GitHubStateInput | undefined): GitHubState => initialGitHubState(input),
  createConnState: (c, params: unknown): Promise<Caller> => authorizeOrgChild(c.state.orgId, params, c),
  /** `lock`: opening pull requests (reads the connection, pushes, calls GitHub, writes) one at a time. */
  createVars: lockVars,
  db: db({ schema, migrations }),
  events: {
    /** The connection's status and sync progress, on every change. */
    githubUpdated: event<GitHubStatus>(),
  },
  queues: {
    work: queue<GitHubWork>({ canPublish: internalOnly }),
  },
  options: { maxQueueSize: 10_000, actionTimeout: 60_000 },
  run: workflow(
    async (ctx) => {
      await ctx.loop("work-loop", async (loop) => {
        const msg = await loop.queue.next("wait-work", { names: ["work"] });
        await runGitHubWork(loop, msg.body);
      });
    },
    {
      onError: (c, event): Promise<void> =>
        reportRuntimeIssue(c.client(), { orgId: c.state.orgId, actorType: "githubState", actorId: c.actorId, scope: "github" }, event),
    },
  ),
  actions: {
    /**
     * Kiln-internal (the webhook route): records a verified delivery once, by GitHub's delivery
     * id, and enqueues it. The row is written before this returns, so the 202 means "durable".
     */
    receiveDelivery: async (c, delivery: DeliveryInput): Promise<{ duplicate: boolean }> => {
      requireInternal(c.conn.state);
      const inserted = await c.db
        .insert(deliveries)
        .values({ id: delivery.id, event: delivery.event, action: delivery.action, status: "queued", payload: delivery.payload, receivedAt: Date.now() })
        .onConflictDoNothing()
        .returning({ id: deliveries.id });
      if (!inserted.length) return { duplicate: true };
      try {
        await c.queue.send("work", { kind: "delivery", id: delivery.id });
      } catch (err) {
        // Not queued, so not acknowledged: GitHub's redelivery must not be taken for a duplicate.
        await c.db.delete(deliveries).where(eq(deliveries.id, delivery.id));
        actorLog().warn({ err, delivery: delivery.id, orgId: c.state.orgId }, "could not queue a GitHub delivery");
        // The queue is full (10,000 waiting) or the actor is stopping: the sender should try again later, not see a 500.
        throw new UserError("Kiln is behind on this organization's GitHub deliveries; redeliver this one later.", { code: "service_unavailable" });
      }
      return { duplicate: false };
    },

    /**
     * Kiln-internal (startup): wakes the workflow and re-enqueues deliveries recorded but not
     * processed (a crash between the record and its enqueue). Processing skips any already done.
     */
    resume: async (c): Promise<{ requeued: number }> => {
      requireInternal(c.conn.state);
      const queued = await c.db.select({ id: deliveries.id }).from(deliveries).where(eq(deliveries.status, "queued")).orderBy(deliveries.receivedAt);
      for (const d of queued) await c.queue.send("work", { kind: "delivery", id: d.id });
      return { requeued: queued.length };
    },

    /** Members read the connection's status, sync progress and pending members. */
    status: (c): Promise<GitHubStatus> => currentStatus(c),

    /** Kiln-internal (the gateway checked owner/admin): queue a full sync, unless one is queued or running. */
    requestSync: async (c, opts?: { reconnect?: boolean }): Promise<GitHubStatus> => {
      requireInternal(c.conn.state);
      const s = c.state;
      if (!s.installation || s.status === "disconnected") throw new UserError("This organization has no GitHub App installation.", { code: "github_not_installed" });
      if (s.status === "suspended") throw new UserError("The GitHub App installation is suspended.", { code: ACTOR_ERRORS.conflict });
      if (s.syncPending || s.sync.running) throw new UserError("A GitHub sync is already running.", { code: ACTOR_ERRORS.conflict });
      if (opts?.reconnect && s.status === "reconnect_required") {
        s.status = "connected";
        s.message = null;
      }
      s.syncPending = true;
      await c.saveState({ immediate: true });
      await c.queue.send("work", { kind: "sync" });
      return currentStatus(c);
    },

    /**
     * Kiln-internal (GitHub sign-in): this `gh-<id>` org held a personal account's installation
     * until its Kiln user arrived; it moves to `to`. Returns the installation for the new owner,
     * or null when it was already released. The repositories are hidden here, the member index cleared.
     */
    release: async (c, to: string): Promise<InstallationInfo | null> => {
      requireInternal(c.conn.state);
      const installation = c.state.installation;
      if (!installation || c.state.status === "disconnected") return null;
      c.state.status = "disconnected";
      c.state.message = `This installation moved to ${String(to)}, the personal organization of the GitHub account's Kiln user.`;
      await c.saveState({ immediate: true });
      const hidden = await c.db.select({ id: repos.id }).from(repos);
      await c.db.update(repos).set({ removed: true });
      await publishRepos(c, [], hidden.map((r) => r.id));
      if (c.state.orgId) await githubServices().indexGitHubMembers(c.state.orgId, []);
      await broadcastStatus(c);
      return { ...installation };
    },

    /** Kiln-internal (GitHub sign-in): takes a personal account's installation released by its waiting org, then syncs it. */
    adopt: async (c, installation: InstallationInfo): Promise<void> => {
      requireInternal(c.conn.state);
      if (c.state.installation?.id === installation.id && c.state.status !== "disconnected") return;
      c.state.installation = { ...installation };
      c.state.status = "connected";
      c.state.message = null;
      c.state.syncPending = true;
      await c.saveState({ immediate: true });
      await c.queue.send("work", { kind: "sync" });
      await broadcastStatus(c);
    },

    /** Kiln-internal (GitHub sign-in): a GitHub member signed in; they join the org now. */
    memberSignedIn: async (c): Promise<void> => {
      requireInternal(c.conn.state);
      if (c.state.installation) await publishMembers(c);
    },

    /** Kiln-internal (the route checked membership): push a task's branch and open (or link) its pull request. */
    openPullRequest: async (c, req: OpenPullRequest) => {
      requireInternal(c.conn.state);
      // Parallel requests for one task: the first opens it (201), the next find it open and link it (200).
      return c.vars.lock.run(() => openPullRequest(c, req));
    },

    /** Kiln-internal (a task cloning): the installation to mint a token for, or null. Not a secret. */
    installationId: (c): number | null => {
      requireInternal(c.conn.state);
      return c.state.installation && c.state.status !== "disconnected" ? c.state.installation.id : null;
    },

    /** Kiln-internal: the pull request recorded for a branch, if any (linking a task's PR). */
    pullForBranch: async (c, repoId: number, branch: string) => {
      requireInternal(c.conn.state);
      return (await c.db.select().from(pulls).where(and(eq(pulls.repoId, repoId), eq(pulls.headRef, branch))).limit(1))[0] ?? null;
    },

    /** Kiln-internal (tests and operators): a delivery's processing status. */
    deliveryStatus: async (c, id: string): Promise<{ status: string; error: string | null } | null> => {
      requireInternal(c.conn.state);
      const row = (await c.db.select({ status: deliveries.status, error: deliveries.error }).from(deliveries).where(eq(deliveries.id, String(id))).limit(1))[0];
      return row ?? null;
    },
  },
});
