import type { Client } from "rivetkit";
import { keys } from "../../shared/keys.js";
import { internalParams } from "../auth.js";
import type { Registry } from "../registry.js";
import { buildHistory } from "../sandbox/agent/history.js";
import { WORKDIR } from "../sandbox/git.js";
import { sandboxProvider } from "../sandbox/index.js";
import { actorLog } from "../services.js";
import { changed, summarize, type SessionContext } from "./state.js";
import { transcriptTurns } from "./transcript.js";

export function kilnClient(c: SessionContext): Client<Registry> {
  return c.client() as Client<Registry>;
}

/** Background work keeps its actor awake: an idle actor sleeps after 30 s, and a turn can run longer. */
export async function awake<T>(c: SessionContext, work: () => Promise<T>): Promise<T> {
  c.vars.backgroundWork += 1;
  c.setPreventSleep(true);
  try {
    return await work();
  } finally {
    c.vars.backgroundWork -= 1;
    if (c.vars.backgroundWork === 0) c.setPreventSleep(false);
  }
}

/** Opens the agent session in the background, under the session's lock; the caller does not wait. */
export function provisionInBackground(c: SessionContext): void {
  awake(c, () => c.vars.lock.run(() => openAgentSession(c))).catch((err: unknown) =>
    actorLog().warn({ err, sessionId: c.state.sessionId }, "session provisioning could not be recorded"),
  );
}

/**
 * Under the lock: opens a fresh agent session in the sandbox (starting its server when needed)
 * and moves `pending_provision` → `pending_session_create` → `ready` | `error`. Anything but
 * `pending_provision` means another section already did it, or the session was closed.
 */
async function openAgentSession(c: SessionContext): Promise<void> {
  const s = c.state;
  if (s.status !== "pending_provision") return;
  try {
    await kilnClient(c).sandboxInstance.get(keys.sandbox(s.orgId ?? "", s.sandbox.provider, s.sandbox.sandboxId), { params: internalParams() }).ensure();
    s.status = "pending_session_create";
    await changed(c);
    const sessions = sandboxProvider(s.sandbox.provider).sessions;
    if (!sessions) throw new Error(`Sandbox provider ${s.sandbox.provider} has no agent sessions; use the local provider.`);
    // A session re-opened on a fresh agent (after a restart) gets its earlier turns back.
    const history = s.eventCount > 0 ? buildHistory(await transcriptTurns(c)) : null;
    await sessions.open(s.sandbox, { sessionId: s.sessionId, agent: s.agent, model: s.model ?? undefined, cwd: WORKDIR, history });
    s.status = "ready";
    s.message = null;
  } catch (err) {
    s.status = "error";
    s.message = `Opening the ${s.agent} session failed: ${(err as Error).message}`;
    actorLog().warn({ err, sessionId: s.sessionId }, "session provisioning failed");
  }
  await changed(c);
}

/**
 * Under the lock, before a turn's prompt: when this process holds no live agent session (its
 * sandbox server was replaced, or a turn failed), makes sure the server answers (`ensure`
 * restarts a crashed one) and re-opens the agent session, as after a Kiln restart: the fresh
 * agent gets the transcript before `before` (the prompt about to be sent) as its history. False
 * when the session stopped running meanwhile (closed).
 */
export async function reopenIfLost(c: SessionContext, before: number): Promise<boolean> {
  const s = c.state;
  if (s.status !== "running") return false;
  const sessions = sandboxProvider(s.sandbox.provider).sessions;
  if (!sessions) throw new Error(`Sandbox provider ${s.sandbox.provider} has no agent sessions.`);
  if (sessions.isLive(s.sessionId)) return true;
  await kilnClient(c).sandboxInstance.get(keys.sandbox(s.orgId ?? "", s.sandbox.provider, s.sandbox.sandboxId), { params: internalParams() }).ensure();
  const history = buildHistory(await transcriptTurns(c, before));
  await sessions.open(s.sandbox, { sessionId: s.sessionId, agent: s.agent, model: s.model ?? undefined, cwd: WORKDIR, history });
  actorLog().info({ sessionId: s.sessionId }, "agent session re-opened with its transcript");
  return true;
}

/** Under the lock: closes the agent session (cancelling a running turn) for good. Idempotent. */
export async function closeSession(c: SessionContext): Promise<ReturnType<typeof summarize>> {
  const s = c.state;
  if (s.status === "closed") return summarize(s);
  const sessions = sandboxProvider(s.sandbox.provider).sessions;
  if (s.status === "running") await sessions?.cancel(s.sandbox, s.sessionId);
  await sessions?.close(s.sandbox, s.sessionId);
  s.status = "closed";
  s.turn = null;
  await changed(c);
  return summarize(s);
}
