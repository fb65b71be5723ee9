import { internalParams } from "../actors/auth.js";
import { KilnError } from "../shared/errors.js";
import { keys } from "../shared/keys.js";
import { SessionIdSchema } from "../shared/schemas/task.js";
import type { KilnClient } from "./rivet.js";

/** The shape of task ids Kiln mints (`t_…`); anything else names no task. */
const TASK_ID = /^[A-Za-z0-9_-]{1,64}$/;

function taskNotFound(): KilnError {
  return new KilnError("task_not_found", "No such task in this organization.");
}

function sessionNotFound(): KilnError {
  return new KilnError("session_not_found", "No such session on this task.");
}

/** RivetKit's own "no actor with this key" (not a Kiln UserError, which carries group "user"). */
function isActorMissing(err: unknown): boolean {
  const e = err as { __type?: unknown; group?: unknown; code?: unknown } | null;
  return e?.__type === "ActorError" && e.group === "actor" && e.code === "not_found";
}

/**
 * Handles the gateway uses to act for an authenticated user. The actor checks membership again
 * against its own source of truth; the user id comes from the session, never from the request.
 */
export function orgActor(client: KilnClient, orgId: string, userId: string) {
  return client.organization.get(keys.organization(orgId), { params: internalParams(userId) });
}

export async function taskActor(client: KilnClient, orgId: string, userId: string, taskId: string) {
  if (!TASK_ID.test(taskId)) throw taskNotFound();
  const org = orgActor(client, orgId, userId);
  const summary = await org.locateTask(taskId);
  // Revision 0: the TaskActor has pushed nothing yet, and may not exist yet (it is created behind
  // the 202). The org creates it now if its spawn workflow has not; a no-op otherwise.
  if (summary.revision === 0) await client.organization.get(keys.organization(orgId), { params: internalParams() }).spawnTask(summary.id);
  return client.task.get(keys.task(orgId, summary.repoId, summary.id), { params: internalParams(userId) });
}

export function historyActor(client: KilnClient, orgId: string, repoId: string, userId: string) {
  return client.history.getOrCreate(keys.history(orgId, repoId), {
    params: internalParams(userId),
    createWithInput: { orgId, repoId },
  });
}

/** A session id for the caller's workbench state on a task; one Kiln never minted names no session. */
export function workbenchSessionId(sessionId: string): string {
  if (!SessionIdSchema.safeParse(sessionId).success) throw sessionNotFound();
  return sessionId;
}

/**
 * Runs one action on a task's session. A session id that names no session answers 404
 * `session_not_found`, never RivetKit's own error, which names the actor key.
 */
export async function withSession<T>(
  client: KilnClient,
  ids: { orgId: string; userId: string; taskId: string; sessionId: string },
  act: (session: ReturnType<KilnClient["taskSession"]["get"]>) => Promise<T>,
): Promise<T> {
  if (!SessionIdSchema.safeParse(ids.sessionId).success) throw sessionNotFound();
  if (!TASK_ID.test(ids.taskId)) throw taskNotFound();
  const summary = await orgActor(client, ids.orgId, ids.userId).locateTask(ids.taskId);
  const session = client.taskSession.get(keys.session(ids.orgId, summary.repoId, summary.id, ids.sessionId), { params: internalParams(ids.userId) });
  try {
    return await act(session);
  } catch (err) {
    if (isActorMissing(err)) throw sessionNotFound();
    throw err;
  }
}
