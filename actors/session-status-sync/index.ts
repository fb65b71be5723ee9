import { actor, queue } from "rivetkit";
import { Loop, workflow } from "rivetkit/workflow";
import { authorizeOrgChild, internalOnly, internalParams, type Caller } from "../auth.js";
import { keys } from "../../shared/keys.js";
import type { Registry } from "../registry.js";
import { reportRuntimeIssue } from "../runtime-issues.js";

/** How often a running turn is checked. */
export const STATUS_POLL_MS = 1_000;

export interface SessionStatusSyncInput {
  orgId: string;
  repoId: string;
  taskId: string;
  sessionId: string;
}

export interface SessionStatusSyncState extends Omit<SessionStatusSyncInput, "orgId"> {
  orgId: string | null;
  watching: boolean;
  polls: number;
  lastCheckedAt: string | null;
}

/**
 * SessionStatusSyncActor, key [..., "session", sessionId, "status-sync"], at most one per
 * session: keeps the session's status in step with what is really running. It polls only while
 * a turn runs (the session enqueues `watch` when a turn starts), then waits on its queue, idle,
 * and the actor sleeps. A turn whose runner is gone (lost with a process) is ended by the check.
 */
export const sessionStatusSync = actor({
  createState: (_c, input: SessionStatusSyncInput | undefined): SessionStatusSyncState => ({
    orgId: input?.orgId ?? null,
    repoId: input?.repoId ?? "",
    taskId: input?.taskId ?? "",
    sessionId: input?.sessionId ?? "",
    watching: false,
    polls: 0,
    lastCheckedAt: null,
  }),
  createConnState: (c, params: unknown): Promise<Caller> => authorizeOrgChild(c.state.orgId, params, c),
  queues: {
    watch: queue<Record<string, never>>({ canPublish: internalOnly }),
  },
  run: workflow(
    async (ctx) => {
      await ctx.loop("watch-loop", async (loop) => {
        await loop.queue.next("wait-watch", { names: ["watch"] });
        await loop.step("start-watching", async () => {
          loop.state.watching = true;
        });
        await loop.loop("poll-turn", async (poll) => {
          await poll.sleep("poll-interval", STATUS_POLL_MS);
          const running = await poll.step("check-turn", async () => {
            const s = poll.state;
            const session = poll
              .client<Registry>()
              .taskSession.get(keys.session(s.orgId ?? "", s.repoId, s.taskId, s.sessionId), { params: internalParams() });
            const result = await session.syncStatus();
            s.polls += 1;
            s.lastCheckedAt = new Date().toISOString();
            return result.running;
          });
          return running ? undefined : Loop.break(undefined);
        });
        await loop.step("stop-watching", async () => {
          loop.state.watching = false;
        });
      });
    },
    {
      onError: (c, event): Promise<void> =>
        reportRuntimeIssue(c.client(), { orgId: c.state.orgId, actorType: "session-status-sync", actorId: c.actorId, scope: `session:${c.state.sessionId}` }, event),
    },
  ),
  actions: {
    describe: (c): SessionStatusSyncState => ({ ...c.state }),
  },
});
