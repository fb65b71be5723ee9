import type { Client } from "rivetkit";
import type { WorkflowLoopContextOf } from "rivetkit/workflow";
import type { TaskSummary } from "../../shared/schemas/task.js";
import { keys } from "../../shared/keys.js";
import { internalParams } from "../auth.js";
import type { Registry } from "../registry.js";
import { nextRevision } from "../revision.js";
import { actorLog } from "../services.js";
import type { TaskInput } from "../task/state.js";
import type { organization } from "./index.js";
import { applyTaskSummary, clearSpawnInput, findTask, rowToSummary, spawnInputOf, type OrgDb } from "./tasks.js";

type Loop = WorkflowLoopContextOf<typeof organization>;

/** A task whose row holds a spawn input: its TaskActor is still to be created. */
export interface SpawnMessage {
  taskId: string;
}

/**
 * What `createTask` leaves behind its 202, done by the org's own workflow (`spawn-loop`): create
 * the TaskActor with the row's input, enqueue its provisioning (`wait: false`), append `created`
 * to the repo's history, then clear the row's input. The row's input is the durable record, so a
 * message handled twice (a restart re-enqueues rows that still hold one) finds nothing to do.
 */
/** A task whose TaskActor could not be created (or was left unstartable by a kill -9 mid-creation). */
export const SPAWN_FAILED = "Kiln could not create this task (it may have stopped while doing so). Create the task again.";

/** What spawning needs, from an action or a workflow step alike. */
export interface SpawnContext {
  db: OrgDb;
  vars: { spawning: Map<string, Promise<void>> };
  client(): Client<Registry>;
}

/**
 * Creates a task's TaskActor with the row's input, enqueues its provisioning (`wait: false`),
 * appends `created` to the repo's history, then clears the row's input. One at a time per task
 * (the workflow and a route that reached the task first share one run), and a no-op once done.
 */
export function spawnOnce(c: SpawnContext, taskId: string): Promise<void> {
  const inflight = c.vars.spawning.get(taskId);
  if (inflight) return inflight;
  const run = (async () => {
    const input = await spawnInputOf(c.db, taskId);
    if (!input) return;
    const task = c.client().task.getOrCreate(keys.task(input.orgId, input.repoId, input.taskId), { params: internalParams(), createWithInput: input });
    await task.adopt(input);
    await task.send("commands", { type: "provision" }, { wait: false });
    await appendCreated(c.client(), input);
    await clearSpawnInput(c.db, taskId);
  })().finally(() => c.vars.spawning.delete(taskId));
  c.vars.spawning.set(taskId, run);
  return run;
}

/**
 * What `createTask` leaves behind its 202, done by the org's own workflow (`spawn-loop`). The
 * row's input is the durable record, so a message handled twice (a restart re-enqueues rows that
 * still hold one) finds nothing to do.
 */
export async function spawnTask(loop: Loop, taskId: string): Promise<void> {
  const result = await loop.tryStep({
    name: "create-task",
    // "Actor not ready" has two causes in RivetKit 2.2.1: an actor still starting right after a
    // restart (a retry a moment later succeeds), and one whose creation a kill -9 cut between its
    // state file and its first KV write (it never starts). Retry briefly: the queue waits meanwhile.
    maxRetries: 3,
    retryBackoffBase: 500,
    catch: ["exhausted", "timeout", "critical"],
    run: () => spawnOnce(loop, taskId),
  });
  if (result.ok) return;
  const message = result.failure.error.message;
  await loop.step("spawn-failed", async () => {
    actorLog().warn({ taskId, err: message }, "could not create a task's actor");
    const row = await findTask(loop.db, taskId);
    if (!row?.spawnInput) return;
    // Subscribers have seen the task: it stays, failed, rather than vanish from under them.
    const summary = rowToSummary(row);
    const failed: TaskSummary = {
      ...summary,
      lifecycle: { ...summary.lifecycle, state: "error", label: "Failed", message: SPAWN_FAILED },
      updatedAt: new Date().toISOString(),
      revision: nextRevision(summary.revision),
    };
    if (await applyTaskSummary(loop.db, failed)) {
      loop.vars.taskList.upsert(failed);
      loop.broadcast("taskSummaryUpdated", failed);
    }
    await clearSpawnInput(loop.db, taskId);
  });
}

async function appendCreated(client: Client<Registry>, input: TaskInput): Promise<void> {
  await client.history.getOrCreate(keys.history(input.orgId, input.repoId), { params: internalParams(), createWithInput: { orgId: input.orgId, repoId: input.repoId } })
    .send(
      "append",
      { taskId: input.taskId, kind: "created", message: `Task "${input.title}" created on branch ${input.branch}`, actorUserId: input.createdBy, at: input.createdAt ?? new Date().toISOString() },
      { wait: false },
    );
}
