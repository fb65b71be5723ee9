import { actor, event, queue, UserError } from "rivetkit";
import { workflow } from "rivetkit/workflow";
import type { WorkerDeleted, WorkerTokens, WorkerView } from "../../shared/schemas/worker.js";
import { ACTOR_ERRORS, authorizeOrgChild, internalOnly, type Caller } from "../auth.js";
import type { Registry } from "../registry.js";
import { reportRuntimeIssue } from "../runtime-issues.js";
import { initialWorkerState, newWorkerTokens, workerView, type WorkerCommand, type WorkerInput, type WorkerState } from "./state.js";
import { publishWorker, runWorkerCommand, workerSandbox } from "./workflow.js";

const HEALTH_TTL_MS = 1_000;

function requireInternal(caller: Caller): void {
  if (!caller.internal) throw new UserError("This action is internal to Kiln.", { code: ACTOR_ERRORS.forbidden });
}

/**
 * WorkerActor, key ["org", orgId, "worker", workerId]: one cloud worker (Den), created by its
 * OrganizationActor (which keeps the org's worker list and is told of every change). It provisions
 * its instance through the sandbox provider layer in a durable workflow, answers health, keeps its
 * tokens' hashes only, and deletes its instance for real when it is deleted.
 */
export const worker = actor({
  createState: (_c, input: WorkerInput | undefined): WorkerState => initialWorkerState(input),
  createConnState: (c, params: unknown): Promise<Caller> => authorizeOrgChild(c.state.orgId, params, c),
  createVars: (): { health: { settledAt: number | undefined; result: Promise<boolean> } | undefined } => ({ health: undefined }),
  queues: {
    commands: queue<WorkerCommand>({ canPublish: internalOnly }),
  },
  events: {
    /** The worker's new view, on every change (members subscribe instead of polling). */
    workerUpdated: event<WorkerView>(),
    /** The worker is gone: its instance was deleted. */
    workerDeleted: event<WorkerDeleted>(),
  },
  run: workflow(
    async (ctx) => {
      await ctx.loop("commands", async (loop) => {
        const msg = await loop.queue.next("wait-command", { names: ["commands"] });
        await runWorkerCommand(loop, msg.body);
      });
    },
    {
      onError: (c, event): Promise<void> =>
        reportRuntimeIssue(c.client(), { orgId: c.state.orgId, actorType: "worker", actorId: c.actorId, scope: `worker:${c.state.workerId}` }, event),
    },
  ),
  actions: {
    view: (c): WorkerView => workerView(c.state),

    /** Only the worker's creator renames it. */
    rename: async (c, name: string): Promise<WorkerView> => {
      if (!c.conn.state.internal || c.conn.state.userId !== c.state.createdBy) {
        throw new UserError("Only the worker's creator can rename it.", { code: ACTOR_ERRORS.forbidden });
      }
      c.state.name = name;
      await publishWorker(c);
      return workerView(c.state);
    },

    /** New owner, host and client tokens, shown once; the old ones stop matching. */
    rotateTokens: async (c): Promise<WorkerTokens> => {
      requireInternal(c.conn.state);
      const { tokens, hashes } = newWorkerTokens();
      c.state.tokenHashes = hashes;
      await c.saveState({ immediate: true });
      return tokens;
    },

    /** Kiln-internal: the worker is deleted; its instance is torn down in the workflow, with retries. */
    remove: async (c): Promise<void> => {
      requireInternal(c.conn.state);
      if (c.state.status === "deleting" || c.state.status === "deleted") return;
      c.state.status = "deleting";
      // Queued even when the push to the org fails: a deletion the caller was told of happens.
      try {
        await publishWorker(c);
      } finally {
        await c.queue.send("commands", { type: "deprovision" });
      }
    },

    /**
     * For the public `instance.url + /health`: healthy and its server answers. Anyone may call
     * that URL, so one answer serves every caller for a second (and concurrent callers share
     * one check): a flood of health checks costs at most one real check per second.
     */
    health: async (c): Promise<boolean> => {
      requireInternal(c.conn.state);
      if (c.state.status !== "healthy" || c.state.destination !== "cloud") return false;
      const cached = c.vars.health;
      // A check still running is shared, however long it takes (a Daytona restart can take a
      // minute): overlapping checks would each try to start the server.
      if (cached && (cached.settledAt === undefined || Date.now() - cached.settledAt < HEALTH_TTL_MS)) return cached.result;
      const sandbox = workerSandbox(c.state, c.client<Registry>());
      const check = async (): Promise<boolean> => {
        try {
          return (await sandbox.ensure()).status === "running";
        } catch {
          return false;
        }
      };
      const entry: { settledAt: number | undefined; result: Promise<boolean> } = { settledAt: undefined, result: check() };
      void entry.result.then(() => (entry.settledAt = Date.now()));
      c.vars.health = entry;
      return entry.result;
    },
  },
});
