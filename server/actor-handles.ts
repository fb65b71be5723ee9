import { internalParams } from "../actors/auth.js";
import { keys } from "../shared/keys.js";
import type { KilnClient } from "./rivet.js";

/**
 * Handles the gateway uses to act for an authenticated user. The actor checks membership again
 * against its own source of truth; the user id comes from the session, never from the request.
 */
export function orgActor(client: KilnClient, orgId: string, userId: string) {
  return client.organization.get(keys.organization(orgId), { params: internalParams(userId) });
}

export async function taskActor(client: KilnClient, orgId: string, userId: string, taskId: string) {
  const summary = await orgActor(client, orgId, userId).locateTask(taskId);
  return client.task.get(keys.task(orgId, summary.repoId, summary.id), { params: internalParams(userId) });
}

export function historyActor(client: KilnClient, orgId: string, repoId: string, userId: string) {
  return client.history.getOrCreate(keys.history(orgId, repoId), {
    params: internalParams(userId),
    createWithInput: { orgId, repoId },
  });
}

export async function sessionActor(client: KilnClient, orgId: string, userId: string, taskId: string, sessionId: string) {
  const summary = await orgActor(client, orgId, userId).locateTask(taskId);
  return client.taskSession.get(keys.session(orgId, summary.repoId, summary.id, sessionId), { params: internalParams(userId) });
}
