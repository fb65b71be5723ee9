import type { Client } from "rivetkit";
import type { HistoryKind, TaskDetail } from "../../shared/schemas/task.js";
import { internalParams } from "../auth.js";
import { relayingErrors } from "../errors.js";
import { keys } from "../../shared/keys.js";
import type { Registry } from "../registry.js";
import { nextRevision } from "../revision.js";
import type { SandboxExec } from "../sandbox/git.js";
import { sandboxRefFor, taskDetail, taskSummary, type TaskState } from "./state.js";

/** What both task actions and task workflow steps can do: read state, reach other actors, broadcast. */
export interface TaskContext {
  state: TaskState;
  client(): Client<Registry>;
  broadcast(name: "taskUpdated", detail: TaskDetail): void;
}

/**
 * Publishes a change under a new revision: tells the task's subscribers the new state at once
 * (so they hear changes in revision order, whatever the pushes below do), then pushes the
 * summary up to the organization's index (awaited, so the index never silently falls behind;
 * the org ignores a push older than one it has).
 */
export async function publishTask(c: TaskContext): Promise<void> {
  const s = c.state;
  s.updatedAt = new Date().toISOString();
  s.revision = nextRevision(s.revision);
  if (!s.orgId) return;
  const summary = taskSummary(s);
  c.broadcast("taskUpdated", taskDetail(s));
  await c.client().organization.get(keys.organization(s.orgId), { params: internalParams() }).recordTaskSummary(summary);
}

/** Appends to the repository's history without waiting for it to be written. */
export async function appendHistory(c: TaskContext, kind: HistoryKind, message: string, actorUserId: string | null): Promise<void> {
  const s = c.state;
  if (!s.orgId) return;
  await c
    .client()
    .history.getOrCreate(keys.history(s.orgId, s.repoId), {
      params: internalParams(),
      createWithInput: { orgId: s.orgId, repoId: s.repoId },
    })
    .send("append", { taskId: s.taskId, kind, message, actorUserId, at: new Date().toISOString() }, { wait: false });
}

/**
 * The task's current sandbox, addressed by identity. The SandboxInstanceActor owns it; the task
 * only holds the reference, so a later sandbox for the same task is a new identity. Its failures
 * keep their provider codes (`sandbox_not_found`, `command_failed`…) through the task's actions.
 */
export function taskSandbox(c: TaskContext) {
  const s = c.state;
  const ref = sandboxRefFor(s);
  return relayingErrors(
    c.client().sandboxInstance.getOrCreate(keys.sandbox(s.orgId ?? "", ref.provider, ref.sandboxId), {
      params: internalParams(),
      createWithInput: { orgId: s.orgId ?? "", provider: ref.provider, sandboxId: ref.sandboxId },
    }),
  );
}

/** Runs commands in the task's sandbox. */
export function taskExec(c: TaskContext): SandboxExec {
  const sandbox = taskSandbox(c);
  return async (req) => await sandbox.exec(req);
}
