import { randomBytes } from "node:crypto";
import { UserError } from "rivetkit";
import { OpenSessionBodySchema, type SessionSummary } from "../../shared/schemas/session.js";
import { ACTOR_ERRORS, internalParams, parseInput } from "../auth.js";
import { keys } from "../../shared/keys.js";
import { sandboxGit } from "../sandbox/git.js";
import { actorLog } from "../services.js";
import { publishTask, taskExec, type TaskContext } from "./publish.js";
import { sandboxRefFor } from "./state.js";

function sessionHandle(c: TaskContext, sessionId: string) {
  const s = c.state;
  return c.client().taskSession.get(keys.session(s.orgId ?? "", s.repoId, s.taskId, sessionId), { params: internalParams() });
}

/**
 * Opens a new agent session in the task's sandbox. A task has at most one active session, so
 * the previous one is closed. The session provisions in the background; this returns at once.
 */
export async function openSession(c: TaskContext, userId: string, rawBody: unknown): Promise<SessionSummary> {
  const s = c.state;
  const body = parseInput(OpenSessionBodySchema, rawBody ?? {}, "Invalid session.");
  if (s.killed) throw new UserError("The task is being killed.", { code: ACTOR_ERRORS.conflict });
  if (s.lifecycle.state !== "ready" || !s.sandbox) {
    throw new UserError(`Sessions open once the task is ready (it is ${s.lifecycle.label.toLowerCase()}).`, { code: ACTOR_ERRORS.conflict });
  }
  const previous = s.activeSessionId;
  if (previous) {
    await sessionHandle(c, previous).close();
    const ref = s.sessions.find((x) => x.id === previous);
    if (ref) ref.closed = true;
  }
  const sessionId = `s_${randomBytes(9).toString("base64url").replace(/[^A-Za-z0-9]/g, "x")}`;
  const agent = body.agent ?? "mock";
  const name = body.name ?? `Session ${s.sessions.length + 1}`;
  const createdAt = new Date().toISOString();
  const session = await c
    .client()
    .taskSession.getOrCreate(keys.session(s.orgId ?? "", s.repoId, s.taskId, sessionId), {
      params: internalParams(),
      createWithInput: {
        orgId: s.orgId ?? "",
        repoId: s.repoId,
        taskId: s.taskId,
        sessionId,
        name,
        agent,
        model: body.model ?? null,
        sandbox: sandboxRefFor(s),
        createdBy: userId,
      },
    })
    .start();
  s.sessions.push({ id: sessionId, name, agent, createdBy: userId, createdAt, closed: false });
  s.activeSessionId = sessionId;
  await publishTask(c);
  return session;
}

/** A turn ended: every member but its sender gets the session marked unread, and the diff summary is refreshed. */
export async function finishTurn(
  c: TaskContext & { saveState(opts: { immediate: boolean }): Promise<void> },
  sessionId: string,
  senderId: string,
  notify: (userId: string) => void,
): Promise<void> {
  const s = c.state;
  const org = await c.client().organization.get(keys.organization(s.orgId ?? ""), { params: internalParams() }).summary();
  const now = new Date().toISOString();
  for (const member of org.members) {
    if (member.userId === senderId) continue;
    const mine = (s.workbench[member.userId] ??= { sessions: {} });
    mine.sessions[sessionId] = { draft: mine.sessions[sessionId]?.draft ?? "", unread: true, updatedAt: now };
    notify(member.userId);
  }
  if (s.baseCommit) {
    try {
      s.diff = { ...(await sandboxGit.diffSummary(taskExec(c), s.baseCommit)), computedAt: now };
    } catch (err) {
      actorLog().warn({ err, taskId: s.taskId }, "could not compute the diff summary");
    }
  }
  await c.saveState({ immediate: true });
  await publishTask(c);
}
