import { desc, eq } from "drizzle-orm";
import { actor, queue } from "rivetkit";
import { db } from "rivetkit/db/drizzle";
import { workflow } from "rivetkit/workflow";
import { HistoryQuerySchema, type HistoryEvent, type HistoryKind } from "../../shared/schemas/task.js";
import { authorizeOrgChild, internalOnly, parseInput, type Caller } from "../auth.js";
import { reportRuntimeIssue } from "../runtime-issues.js";
import { schema, events } from "./db.js";
import { migrations } from "./migrations.js";

export interface HistoryInput {
  orgId: string;
  repoId: string;
}

export interface HistoryAppend {
  taskId: string;
  kind: HistoryKind;
  message: string;
  actorUserId: string | null;
  at: string;
}

/**
 * HistoryActor, key ["org", orgId, "repo", repoId, "history"]: the repo's append-only log of task
 * transitions. Writers enqueue without waiting; one workflow loop appends in arrival order.
 */
export const history = actor({
  createState: (_c, input: HistoryInput | undefined): { orgId: string | null; repoId: string | null } => ({
    orgId: input?.orgId ?? null,
    repoId: input?.repoId ?? null,
  }),
  createConnState: (c, params: unknown): Promise<Caller> => authorizeOrgChild(c.state.orgId, params, c),
  db: db({ schema, migrations }),
  queues: {
    append: queue<HistoryAppend>({ canPublish: internalOnly }),
  },
  options: { maxQueueSize: 5000 },
  run: workflow(
    async (ctx) => {
      await ctx.loop("append-loop", async (loop) => {
        const msg = await loop.queue.next("wait-append", { names: ["append"] });
        const e = msg.body;
        await loop.step({
          name: "append-event",
          run: async () => {
            await loop.db.insert(events).values({ taskId: e.taskId, kind: e.kind, message: e.message, actorUserId: e.actorUserId, at: e.at });
          },
        });
      });
    },
    {
      onError: (c, event): Promise<void> =>
        reportRuntimeIssue(c.client(), { orgId: c.state.orgId, actorType: "history", actorId: c.actorId, scope: `repo:${c.state.repoId}` }, event),
    },
  ),
  actions: {
    /** Newest first; `taskId` narrows to one task. */
    list: async (c, raw: unknown): Promise<HistoryEvent[]> => {
      // Members may call this directly through /api/rivet, past the route's validation.
      const query = parseInput(HistoryQuerySchema, raw ?? {}, "Invalid history query.");
      const rows = await c.db
        .select()
        .from(events)
        .where(query.taskId ? eq(events.taskId, query.taskId) : undefined)
        .orderBy(desc(events.id))
        .limit(query.limit);
      return rows.map((r) => ({ ...r, kind: r.kind as HistoryKind }));
    },
  },
});
