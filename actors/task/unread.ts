import { keys } from "../../shared/keys.js";
import { internalParams } from "../auth.js";
import { actorLog } from "../services.js";
import { nextRevision } from "../revision.js";
import type { TaskContext } from "./publish.js";
import type { TaskState } from "./state.js";

/** The members with a session on the task that has a turn they have not read, sorted. */
export function unreadUsers(s: TaskState): string[] {
  return Object.entries(s.workbench)
    .filter(([, wb]) => Object.values(wb.sessions).some((x) => x.unread))
    .map(([userId]) => userId)
    .sort();
}

/**
 * Pushes the task's unread set up to the OrganizationActor when it differs from the last one
 * sent, so the org's task list can show each member their own dot without reading N tasks. The
 * set and its revision are taken before the await, so of two pushes in flight the later one
 * carries the newer set and the org keeps it. A failed push is logged and sent again with the
 * next change (the org keeps the last one it heard until then).
 */
export async function pushUnread(c: TaskContext): Promise<void> {
  const s = c.state;
  if (!s.orgId) return;
  const users = unreadUsers(s);
  const last = s.unreadPushed;
  if (last && !last.failed && last.users.length === users.length && last.users.every((u, i) => u === users[i])) return;
  const revision = nextRevision(last?.revision);
  s.unreadPushed = { users, revision };
  try {
    await c.client().organization.get(keys.organization(s.orgId), { params: internalParams() }).recordTaskUnread({ taskId: s.taskId, users, revision });
  } catch (err) {
    // Forgetting the set makes the next change push again, under a higher revision.
    if (s.unreadPushed?.revision === revision) s.unreadPushed = { users, revision, failed: true };
    actorLog().warn({ err, taskId: s.taskId }, "could not push the task's unread marks to the organization");
  }
}
