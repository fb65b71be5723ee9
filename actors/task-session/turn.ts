import { UserError } from "rivetkit";
import type { SessionStatus, SessionSummary } from "../../shared/schemas/session.js";
import { keys } from "../../shared/keys.js";
import { ACTOR_ERRORS, internalParams } from "../auth.js";
import { sandboxProvider } from "../sandbox/index.js";
import type { AgentSessionEvent } from "../sandbox/provider.js";
import { actorLog } from "../services.js";
import { awake, kilnClient, reopenIfLost } from "./provision.js";
import { changed, summarize, type SessionContext } from "./state.js";
import { record } from "./transcript.js";

function conflict(message: string): UserError {
  return new UserError(message, { code: ACTOR_ERRORS.conflict });
}

/**
 * Under the lock: records the user's message, marks the session `running` and starts the turn in
 * the background. The status sync is asked to watch it (enqueued without waiting, the send awaited).
 */
export async function startTurn(c: SessionContext, text: string, userId: string): Promise<SessionSummary> {
  const s = c.state;
  if (s.status === "running") throw conflict("A turn is already running; stop it or wait for it to finish.");
  if (s.status !== "ready") throw conflict(`The session is not ready (it is ${s.status.replace(/_/g, " ")}).`);
  s.status = "running";
  s.turn = { startedBy: userId, startedAt: new Date().toISOString() };
  // Held from the status flip on: the status sync must never find this turn `running` without a runner.
  const token = Symbol("turn");
  c.vars.turn = token;
  let index: number;
  try {
    index = await record(c, { sender: "user", kind: "user_message", text, payload: null, at: s.turn.startedAt, author: userId });
    await changed(c);
  } catch (err) {
    // Not started: the session takes the next message instead of staying `running` without a turn.
    s.status = "ready";
    s.turn = null;
    c.vars.turn = null;
    throw err;
  }
  awake(c, () => runTurn(c, text, userId, index))
    .catch((err: unknown) => actorLog().warn({ err, sessionId: s.sessionId }, "turn ended without being recorded"))
    .finally(() => {
      // Each turn has its own token, so a finished turn's cleanup never clears the next one.
      if (c.vars.turn === token) c.vars.turn = null;
    });
  await kilnClient(c)
    .sessionStatusSync.getOrCreate(keys.statusSync(s.orgId ?? "", s.repoId, s.taskId, s.sessionId), {
      params: internalParams(),
      createWithInput: { orgId: s.orgId ?? "", repoId: s.repoId, taskId: s.taskId, sessionId: s.sessionId },
    })
    .send("watch", {}, { wait: false });
  return summarize(s);
}

async function runTurn(c: SessionContext, text: string, userId: string, messageIndex: number): Promise<void> {
  const s = c.state;
  let writes = Promise.resolve();
  const onEvent = (e: AgentSessionEvent) => {
    // Keep the transcript in arrival order while the turn streams; a failed write is logged, and the turn goes on.
    writes = writes
      .then(async () => void (await record(c, { sender: e.sender, kind: e.kind, text: e.text, payload: e.payload, at: e.at })))
      .catch((err: unknown) => actorLog().error({ err, sessionId: s.sessionId, kind: e.kind }, "could not write a transcript event"));
  };
  let stopReason = "error";
  const sessions = sandboxProvider(s.sandbox.provider).sessions;
  try {
    if (!sessions) throw new Error(`Sandbox provider ${s.sandbox.provider} has no agent sessions.`);
    stopReason = await promptOnce(c, messageIndex, text, onEvent);
    s.message = null;
  } catch (err) {
    s.message = `The turn failed: ${(err as Error).message}`;
    // The agent session may have died with its server or its agent: the next turn opens a fresh
    // one with the transcript (`reopenIfLost`), so the session stays usable.
    sessions?.forget(s.sessionId);
  }
  await writes;
  await record(c, { sender: "kiln", kind: "turn_ended", text: stopReason, payload: { stopReason }, at: new Date().toISOString() });
  s.lastStopReason = stopReason;
  s.turn = null;
  if (s.status === "running") s.status = "ready";
  await changed(c);
  try {
    await kilnClient(c).task.get(keys.task(s.orgId ?? "", s.repoId, s.taskId), { params: internalParams() }).turnFinished(s.sessionId, userId);
  } catch (err) {
    actorLog().warn({ err, sessionId: s.sessionId }, "could not tell the task a turn finished");
  }
}

/**
 * Sends the prompt on a live agent session, re-opening a lost one first. A prompt that fails
 * before the agent sent any update never reached it (its server died while the session was
 * idle): what it produced (the prompt's echo, the client's network error) is dropped, the agent
 * session is re-opened (the server restarted) and the prompt sent once more.
 */
async function promptOnce(c: SessionContext, messageIndex: number, text: string, onEvent: (e: AgentSessionEvent) => void): Promise<string> {
  const s = c.state;
  const sessions = sandboxProvider(s.sandbox.provider).sessions;
  if (!sessions) throw new Error(`Sandbox provider ${s.sandbox.provider} has no agent sessions.`);
  // Closed while waiting for the lock: nothing to prompt.
  if (!(await c.vars.lock.run(() => reopenIfLost(c, messageIndex)))) return "cancelled";
  let reached = false;
  const held: AgentSessionEvent[] = [];
  const firstAttempt = (e: AgentSessionEvent) => {
    if (reached) return onEvent(e);
    held.push(e);
    if (e.sender !== "agent" || e.kind === "response") return;
    reached = true;
    for (const h of held.splice(0)) onEvent(h);
  };
  try {
    const { stopReason } = await sessions.prompt(s.sandbox, s.sessionId, text, firstAttempt);
    for (const h of held.splice(0)) onEvent(h);
    return stopReason;
  } catch (err) {
    if (reached) throw err;
    actorLog().info({ err, sessionId: s.sessionId }, "the prompt did not reach the agent; re-opening its session");
    sessions.forget(s.sessionId);
    if (!(await c.vars.lock.run(() => reopenIfLost(c, messageIndex)))) return "cancelled";
    return (await sessions.prompt(s.sandbox, s.sessionId, text, onEvent)).stopReason;
  }
}

/**
 * Ends a turn whose runner is gone. The status flips before the first await, so the two places
 * that notice (the restart hook and the status sync) can never both record it.
 */
export async function endLostTurn(c: SessionContext, next: SessionStatus): Promise<void> {
  if (c.state.status !== "running") return;
  c.state.status = next;
  c.state.turn = null;
  c.state.lastStopReason = "interrupted";
  await record(c, { sender: "kiln", kind: "turn_ended", text: "interrupted", payload: { stopReason: "interrupted" }, at: new Date().toISOString() });
  await changed(c);
}
